"""Mutual information, stage 3 of the data flow (data → models → **MI** → attacks → augmentation
→ experiments → claims).

* :mod:`uaelab.mi.mine`: per-sample MINE (Section 3.1): samplers, statistics networks, the
  Donsker–Varadhan bound, the closed-form Gaussian MI;
* :mod:`uaelab.mi.estimator`: ``estimate_mi``, MINE over paired samples (the MI benchmark);
* :mod:`uaelab.mi.tasks`: paired samples with a known MI, for judging estimators.

Nothing is imported here, so ``import uaelab.mi.tasks`` does not pay for the statistics networks.
"""
