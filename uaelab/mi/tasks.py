"""Paired samples with a known mutual information, for judging MI estimators.

Every task draws ``n`` pairs ``(a_i, b_i)`` and knows I(a; b) in nats from a closed form
(no JAX or ``bmi`` needed; the families follow Czyż et al., "Beyond Normal", NeurIPS 2023):

* ``gauss-diag``: a, b ∈ R^d standard normal, coordinate i of a correlated ρ with coordinate i
  of b, nothing else; I = −(d/2)·log(1 − ρ²).
* ``gauss-dense``: every off-diagonal entry of the 2d×2d correlation matrix is ρ (bmi's dense);
  ``gauss-sparse``: only the first two coordinate pairs correlate, the rest is noise.
  For any Gaussian, I = ½·(log det Σ_aa + log det Σ_bb − log det Σ).
* the same Gaussians pushed through invertible maps, which leave I unchanged: ``cube`` (b ↦ b³,
  the second variable only), ``halfcube`` (v ↦ v·|v|^½ on both) and ``spiral`` (each variable,
  d = 2, rotated by the angle 0.5·|v|²; the norm is kept, so the angle can be undone).
* ``student``: the multivariate Student-t with ν degrees of freedom and dispersion Σ,
  I = I_Gauss(Σ) + f(ν) + f(ν + 2d) − 2·f(ν + d), f(x) = log Γ(x/2) − (x/2)·ψ(x/2)
  (Czyż et al., Appendix). The shared χ² scale makes a and b dependent even when Σ_ab = 0.
* ``independent``: a ⊥ b.
* ``projection``: the K pairs of per-sample MINE in random-sampling mode for one digit x and a
  noisy copy x' (a_k = P_k x, b_k = P_k x', P_k with i.i.d. N(0, 1/m) entries), whose MI is
  :func:`uaelab.mi.mine.closed_form_mi` = −(m/2)·log(1 − cos²(x, x')).

Targets are given in nats; ρ is found by bisection so that the closed form hits the target.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from uaelab.data import load_dataset
from uaelab.mi.mine import closed_form_mi
from uaelab.utils import generator


@dataclass(frozen=True)
class Task:
    """One known-MI task. ``family``: see the module doc; ``target``: the MI asked for (nats)."""

    family: str
    d: int = 2
    target: float = 1.0
    transform: str = "none"  # none | cube | halfcube | spiral (gauss-diag only)
    dof: int = 0  # Student-t degrees of freedom (family "student")
    m: int = 4  # projection dimension (family "projection")
    noise: float = 1.0  # std of the noise added to the digit (family "projection")

    @property
    def name(self) -> str:
        if self.family == "projection":
            return f"projection m={self.m} σ={self.noise:g}"
        if self.family == "independent":
            return f"independent d={self.d}"
        extra = f" ν={self.dof}" if self.family == "student" else ""
        extra += f" {self.transform}" if self.transform != "none" else ""
        return f"{self.family} d={self.d} I={self.target:g}{extra}"

    @property
    def rho(self) -> float:
        if self.family == "independent":
            return 0.0
        gauss = self.target
        if self.family == "student":
            gauss -= student_correction(self.dof, self.d, self.d)
            if gauss < 0:
                raise ValueError(f"{self.name}: the Student-t alone already carries "
                                 f"{student_correction(self.dof, self.d, self.d):.3f} nats; raise the target")
        return _solve_rho(self._structure, self.d, gauss)

    @property
    def _structure(self) -> str:
        return self.family.split("-")[1] if self.family.startswith("gauss-") else "diag"

    @property
    def truth(self) -> float:
        """I(a; b) in nats, from the closed form."""
        if self.family == "projection":
            x, xn = _digit_pair(self.noise)
            return float(closed_form_mi(x, xn, self.m))
        if self.family == "independent":
            return 0.0
        mi = gaussian_mi(correlation(self._structure, self.d, self.rho), self.d)
        if self.family == "student":
            mi += student_correction(self.dof, self.d, self.d)
        return mi

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """n pairs (a [n, d], b [n, d]) drawn from ``(seed, task name, n)`` alone."""
        if n < 2:
            raise ValueError(f"n must be >= 2, got {n}")
        g = generator(seed, "mi_task", self.name, n)
        if self.family == "projection":
            x, xn = _digit_pair(self.noise)
            P = torch.randn(x.shape[1], n * self.m, generator=g) / math.sqrt(self.m)
            return (x @ P).view(n, self.m), (xn @ P).view(n, self.m)
        C = correlation(self._structure, self.d, self.rho)
        z = torch.randn(n, 2 * self.d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(C).T
        if self.family == "student":
            # χ²_ν as a sum of ν squared normals (ν is an integer), so g alone drives it
            w = torch.randn(n, self.dof, generator=g, dtype=torch.float64).pow(2).mean(1, keepdim=True)
            z = z / w.sqrt()
        a, b = z[:, :self.d], z[:, self.d:]
        a, b = _transform(self.transform, a, b)
        return a.float(), b.float()


def correlation(structure: str, d: int, rho: float) -> torch.Tensor:
    """The 2d×2d correlation matrix of (a, b) (float64) for ``diag``, ``dense`` or ``sparse``."""
    eye = torch.eye(d, dtype=torch.float64)
    if structure == "diag":
        cross, within = rho * eye, eye
    elif structure == "sparse":
        cross, within = rho * torch.diag((torch.arange(d) < 2).double()), eye
    elif structure == "dense":
        cross = torch.full((d, d), rho, dtype=torch.float64)
        within = cross + (1 - rho) * eye
    else:
        raise ValueError(f"unknown structure {structure!r}; use diag, dense or sparse")
    return torch.cat([torch.cat([within, cross], 1), torch.cat([cross.T, within], 1)])


def gaussian_mi(C: torch.Tensor, d: int) -> float:
    """I(a; b) of a Gaussian with covariance C, a = the first d coordinates."""
    ld = lambda M: float(torch.linalg.slogdet(M)[1])  # noqa: E731
    return 0.5 * (ld(C[:d, :d]) + ld(C[d:, d:]) - ld(C))


def student_correction(dof: int, dx: int, dy: int) -> float:
    """What a multivariate Student-t adds to the Gaussian MI of its dispersion (Czyż et al.)."""
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")

    def f(x: float) -> float:
        return math.lgamma(x / 2) - x / 2 * float(torch.special.digamma(torch.tensor(x / 2, dtype=torch.float64)))

    return f(dof) + f(dof + dx + dy) - f(dof + dx) - f(dof + dy)


def _solve_rho(structure: str, d: int, target: float) -> float:
    if target < 0:
        raise ValueError(f"the target MI must be >= 0, got {target}")
    lo, hi = 0.0, 1.0 - 1e-12
    for _ in range(100):  # the MI grows monotonically with ρ on [0, 1)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gaussian_mi(correlation(structure, d, mid), d) < target else (lo, mid)
    return (lo + hi) / 2


def _transform(kind: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "none":
        return a, b
    if kind == "cube":
        return a, b ** 3
    if kind == "halfcube":
        return a * a.abs().sqrt(), b * b.abs().sqrt()
    if kind == "spiral":
        return _spiral(a), _spiral(b)
    raise ValueError(f"unknown transform {kind!r}; use none, cube, halfcube or spiral")


def _spiral(v: torch.Tensor, speed: float = 0.5) -> torch.Tensor:
    if v.shape[1] != 2:
        raise ValueError("the spiral transform is defined for d = 2")
    t = speed * (v * v).sum(1)
    c, s = torch.cos(t), torch.sin(t)
    return torch.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], 1)


def _digit_pair(noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    x = load_dataset("digits").x_test[:1].reshape(1, -1).double()
    g = generator(0, "mi_task_digit", noise)
    return x.float(), (x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)).float()


# The suite of benchmarks/bench_mi.py: true MI from 0 to 5 nats, d from 1 to 20.
SUITE: tuple[Task, ...] = (
    Task("gauss-diag", 1, 0.5), Task("gauss-diag", 2, 0.1), Task("gauss-diag", 5, 1.0),
    Task("gauss-diag", 5, 2.0), Task("gauss-diag", 10, -5 * math.log(0.75)),  # ρ = 0.5
    Task("gauss-diag", 20, 1.0), Task("gauss-diag", 5, 5.0),
    Task("gauss-dense", 5, 1.0), Task("gauss-dense", 20, 0.5), Task("gauss-sparse", 10, 1.0),
    Task("gauss-diag", 2, -math.log(0.36), "cube"),  # ρ = 0.8
    Task("gauss-diag", 2, 1.0, "halfcube"), Task("gauss-diag", 2, 1.0, "spiral"),
    Task("student", 1, 0.5, dof=1), Task("student", 2, 1.0, dof=2), Task("student", 5, 1.0, dof=3),
    Task("independent", 4), Task("independent", 20),
    Task("projection", m=4, noise=0.4), Task("projection", m=16, noise=0.7),
)
# The fast subset the tests run (other seeds than the benchmark's).
# Four tasks, so that the test file stays under a minute on 2 busy cores (the cube, like every
# coordinatewise monotone map, is undone by the rank step, tested on its own).
QUICK: tuple[Task, ...] = (
    Task("gauss-diag", 20, 1.0), Task("student", 2, 1.0, dof=2), Task("independent", 4),
    Task("projection", m=16, noise=0.7),
)
