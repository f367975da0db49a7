"""Figures and widgets for the notebooks: :mod:`uaelab.viz.plotting` (image grids, comparisons;
matplotlib ``Figure`` objects, never ``pyplot`` state) and :mod:`uaelab.viz.widgets` (ipywidgets
that fall back to a plain call when run headless). They import nothing else from uaelab."""
