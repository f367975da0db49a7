"""Exercise checkers for notebook 05 (FID / KID, Table 2 / Figure 1)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from uaelab.exercises import Feedback, failed, passed


def check_kid_subset_size(n_adv: int, n_ref: int, size: int, default: int = 1000) -> Feedback:
    """Exercise 1: the KID subset size usable with ``n_adv`` and ``n_ref`` samples."""
    want = min(default, n_adv, n_ref)
    if int(size) == want:
        return passed(f"right: min({default}, {n_adv}, {n_ref}) = {want}; every subset is drawn without replacement")
    if int(size) > want:
        return failed(f"{size} is more than the {min(n_adv, n_ref)} samples of the smaller set: KID draws "
                      "subsets without replacement")
    return failed(f"{size} works but wastes samples; use the largest size allowed, min({default}, n1, n2)")


def check_fid_gaussians(fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]) -> Feedback:
    """Exercise 2: ``fn(mu1, cov1, mu2, cov2) -> float``, the Fréchet distance of two Gaussians,
    ||mu1 - mu2||² + tr(cov1 + cov2 - 2·(cov1·cov2)^{1/2})."""
    import scipy.linalg

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    want = float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real))
    try:
        got = float(fn(m1, c1, m2, c2))
        same = float(fn(m1, c1, m1, c1))
    except Exception as exc:
        return failed(f"your function raised {type(exc).__name__}: {exc}")
    if abs(same) > 1e-6 * max(1.0, abs(want)):
        return failed(f"the distance of a Gaussian to itself must be 0, got {same:.4g}")
    if abs(got - want) <= 1e-4 * max(1.0, abs(want)):
        return passed(f"right: {want:.4f}; FID is this distance between Gaussians fitted to the features")
    wrong_sqrt = float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * np.sqrt(np.abs(c1 @ c2))))
    if abs(got - wrong_sqrt) <= 1e-4 * max(1.0, abs(wrong_sqrt)):
        return failed("use the matrix square root (scipy.linalg.sqrtm), not the elementwise np.sqrt")
    return failed(f"expected {want:.4f}, got {got:.4f}")
