"""One PGD loop (attacks.pgd.linf_descent) serves the PGD attack and augment.robustness.pgd_linf: both
give exactly the iterates of the two loops they replaced (copied below as the reference)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from uaelab.attacks import make_attack
from uaelab.attacks.base import project
from uaelab.attacks.criteria import cw
from uaelab.augment.robustness import pgd_linf
from uaelab.utils import generator


def old_pgd_linf(loss_fn, x, eps, steps=10, alpha=None, seed=0):
    """robustness.pgd_linf before the loops were merged."""
    alpha = 2.5 * eps / steps if alpha is None else alpha
    g = torch.Generator().manual_seed(seed)
    x = x.detach()
    xa = project(x + (2 * torch.rand(x.shape, generator=g).to(x.device) - 1) * eps, x, eps)
    for _ in range(steps):
        xa.requires_grad_(True)
        with torch.enable_grad():
            grad, = torch.autograd.grad(loss_fn(xa).sum(), xa)
        xa = project(xa.detach() + alpha * grad.sign(), x, eps)
    return xa.detach()


def old_pgd_attack(crit, x, idx, eps, alpha, steps, seed):
    """The PGD attack's loop before the merge: (best, found, f history)."""
    noise = torch.stack([torch.rand(x.shape[1:], generator=generator(seed, "pgd", int(i))) for i in idx])
    xa = project(x + (2 * noise - 1) * eps, x, eps)
    best, found, hist = x.clone(), torch.zeros(len(x), dtype=torch.bool), []
    for _ in range(steps):
        xa = xa.detach().requires_grad_(True)
        with torch.enable_grad():
            g = torch.autograd.grad(crit(xa).sum(), xa)[0]
        with torch.no_grad():
            xa = project(xa - alpha * g.sign(), x, eps)
            fn = crit(xa)
        succ = fn <= 0
        best = torch.where(succ.view(-1, 1, 1, 1), xa, best)
        found |= succ
        hist.append(fn)
    return best, found, torch.stack(hist)


def _classifier():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 10)).eval()


def test_robustness_pgd_equals_the_old_loop():
    model = _classifier()
    x, y = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(12) % 10
    loss = lambda z: F.cross_entropy(model(z), y, reduction="none")  # noqa: E731
    new, old = pgd_linf(loss, x, 0.1, steps=7, seed=3), old_pgd_linf(loss, x, 0.1, steps=7, seed=3)
    assert torch.equal(new, old)
    assert not torch.equal(new, pgd_linf(loss, x, 0.1, steps=6, seed=3))  # the comparison can fail


EPS = 0.05  # some samples succeed, some do not


def test_pgd_attack_equals_the_old_loop():
    model = _classifier()
    x = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    y, idx = model(x).argmax(1), torch.arange(12)  # the model's own labels: the attack must move x
    att = make_attack("pgd", model, attack={"epsilon": EPS, "alpha": EPS / 4, "steps": 9, "mi_eval_steps": 0}, seed=5)
    res = att(x, y, indices=idx)
    best, found, hist = old_pgd_attack(cw(model)(x, y), x, idx, EPS, EPS / 4, 9, seed=5)
    assert torch.equal(res.x_adv, best) and torch.equal(res.success, found)
    assert torch.equal(res.history["f"], hist) and 0 < int(found.sum()) < 12  # some succeed, some not
