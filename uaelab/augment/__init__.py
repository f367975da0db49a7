"""UAEs as data augmentation, stage 5 of the data flow (data → models → MI → attacks →
**augmentation** → experiments → claims).

* :mod:`uaelab.augment.pipeline`: train → generate → augment → retrain → evaluate, with the
  controls (its public names are re-exported here: ``from uaelab.augment import run_augmentation``);
* :mod:`uaelab.augment.store`: resumable shards of generated examples on disk;
* :mod:`uaelab.augment.generation`: ``uaelab generate``, a whole dataset split on one or many processes;
* :mod:`uaelab.augment.cache`: the disk cache of computed results;
* :mod:`uaelab.augment.tables`: the augmentation tables (mean, std, improvement; paper layout);
* :mod:`uaelab.augment.robustness`: a model's error under an L∞ PGD attack (SuppMat 6.17);
* :mod:`uaelab.augment.task`: :class:`AutoencoderTask`, a user's autoencoder class as a task.
"""
from uaelab.augment.pipeline import (
    CONTROL_LABELS,
    MINMAX_ATTACKS,
    NAMED_METHODS,
    PAPER_METHODS,
    AugmentSettings,
    AugmentTask,
    Method,
    asr,
    generate,
    improvement,
    original_model,
    parse_method,
    run_augmentation,
    run_method,
    scaled_recipe,
    uae_dir,
)
from uaelab.augment.task import AutoencoderTask, code_digest

__all__ = [
    "CONTROL_LABELS", "MINMAX_ATTACKS", "NAMED_METHODS", "PAPER_METHODS", "AugmentSettings", "AugmentTask",
    "Method", "asr", "generate", "improvement", "original_model", "parse_method", "run_augmentation",
    "run_method", "scaled_recipe", "uae_dir", "AutoencoderTask", "code_digest",
]
