"""uaelab: unsupervised adversarial examples (Hsu et al., AAAI 2022) as a teaching toolkit.

Importing ``uaelab`` is cheap and has no side effects; the submodules are imported on use::

    from uaelab import data, attacks, models, experiments
    from uaelab.mi import mine
    from uaelab.models import train
"""
__version__ = "0.1.0"

__all__ = ["__version__"]
