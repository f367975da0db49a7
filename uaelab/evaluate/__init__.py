"""Evaluation metrics, beside the models they score: :mod:`uaelab.evaluate.metrics`
(reconstruction error, accuracy, linear probe, extra-trees accuracy) and
:mod:`uaelab.evaluate.fidelity` (FID/KID through torch-fidelity, with an offline extractor).
They import only :mod:`uaelab.config` and :mod:`uaelab.utils`."""
