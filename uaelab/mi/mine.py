"""Per-sample MINE (Section 3.1): K pairs from one sample, one statistics network per sample.

Pieces, from the bottom up:

* **Samplers** turn a batch ``x`` (B×...) into K vectors per sample, ``[B, K, n]``:
  :class:`RandomSampler` (a Gaussian projection of the flattened sample to K vectors of
  dimension m, each standardised) and :class:`ConvSampler` (the K output channels of a given
  feature map, e.g. a classifier's first conv layer after its ReLU; one H×W map per channel).
* :func:`closed_form_mi` is what random-sampling mode estimates, in closed form:
  ``-(m/2)·log(1 - cos²(x, x'))``.
* :class:`StatNets` holds B independent statistics networks with parameters stacked on dim 0
  and trains them together with a hand-written Adam that is elementwise, hence exactly the
  same as B separate Adam optimisers.
* :func:`dv_bound` is the Donsker–Varadhan bound ``mean T(a,b) - log mean exp T(a, b_shuffled)``
  with the log-mean-exp by ``torch.logsumexp``.
* :class:`PerSampleMINE` ties a sampler and the networks together for the attacks;
  :func:`estimate_mi` (from :mod:`uaelab.mi.estimator`) is a DV estimator on arbitrary paired
  data ``(a_i, b_i)`` with its own critics (a Gaussian critic on rank-Gaussianised data and a
  joint MLP correction, picked and scored on separate held-out halves; the separable StatNets
  underfit there).

Statistics network (the released architecture, see REFERENCE.md): one branch per input, each
``[conv(16, 2×2) →] flatten → dense 512 → dense 10`` with *no* nonlinearity inside the branch,
the two branch outputs added, ReLU, then a dense layer to 1 output without bias.

Speed: because a branch is a chain of linear maps, its forward pass is computed with the folded
matrix ``W1 @ W2`` (e.g. 128×10 instead of 128×512 then 512×10) and the conv layer is folded in
with a transposed convolution. The parameters stay separate and autograd differentiates through
the fold, so the gradients (and the Adam updates) of every layer are exactly those of the
unfolded network; only the order of floating-point operations changes.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uaelab.config import Settings, register
from uaelab.mi import native
from uaelab.utils import generator

try:  # installed with scikit-learn; without it the products stay with torch
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

Policy = Literal["per_evaluation", "per_iteration", "per_attack"]


@register("mine")
@dataclass(frozen=True)
class MineSettings(Settings):
    """Per-sample MINE settings (defaults: the released code's random-sampling attack).

    ``projection`` (random sampler only) says when the Gaussian projection is redrawn:
    ``per_evaluation`` (the released code: a fresh tensor at every MINE step and gradient
    evaluation), ``per_iteration`` (once per attack iteration) or ``per_attack`` (once).
    The default is ``per_attack`` because (1) I(x; x+δ) is then one fixed function of δ, so
    the attack's gradient steps and the MINE network's Adam steps optimise the same objective
    across iterations instead of a target that moves with every redraw (the statistics
    network, trained at lr 1.5e-5, cannot re-fit a new projection within a few steps); (2) the
    original's K vectors are computed once, and the 500·d·128 Gaussian numbers are drawn once
    instead of 21 times per iteration, which is most of the released code's run time; (3) the
    projection is shared by the whole batch and seeded by (seed, draw), so a sample's result
    does not depend on its batch mates. With K·m = 64000 ≫ d a fixed projection is injective,
    so no perturbation can hide in its null space.
    """

    sampler: Literal["random", "conv"] = "random"  # how K pairs are made from one sample
    K: int = 500  # random sampler: number of projected vectors per sample (conv: = channels)
    m: int = 128  # random sampler: dimension of each projected vector
    hidden: tuple[int, ...] = (512, 10)  # widths of each branch's linear layers (last = H)
    conv_filters: int = 16  # conv sampler: filters of the statistics network's own conv layer
    conv_kernel: int = 2  # conv sampler: kernel size of that conv layer (stride 1, valid)
    # conv sampler: take the model's first-conv maps after a ReLU, as the released code does
    # (its `layers[1]` is the activation after the first conv); False: the raw conv output
    conv_relu: bool = True
    lr: float = 1.5e-5  # Adam learning rate of the statistics networks (released code)
    steps: int = 20  # MINE Adam steps per attack iteration (released: 20 unsup., 1 sup.)
    projection: Policy = "per_attack"  # when the random projection is redrawn (see above)
    bias_correction: bool = False  # MINE paper's moving-average gradient correction
    ema_rate: float = 0.01  # rate of that moving average of E[exp T] on the marginal
    standardise_eps: float = 1e-6  # added to the variance so a constant vector stays finite
    adam_eps: float = 1e-7  # Adam epsilon (Keras/TF default, as in the released code)
    # "mine": the per-sample statistics networks (the paper); "closed-form": the exact MI that
    # they estimate in random-sampling mode, -(m/2)·log(1-cos²(x, x')) (closed_form_mi): no
    # networks, deterministic, about as cheap as PGD
    estimator: Literal["mine", "closed-form"] = "mine"
    # closed-form only: floor on 1-cos², so I stays finite (<= -(m/2)·log(floor)) as x' -> x
    closed_form_floor: float = 1e-6

    PROFILES = {"quick": {"K": 96, "m": 32}, "paper": {}}

    def validate(self) -> None:
        if self.K < 2:
            raise ValueError(f"mine.K must be >= 2 (the marginal shuffles K pairs), got {self.K}")
        if self.m < 1 or not self.hidden or min(self.hidden) < 1:
            raise ValueError("mine.m and every mine.hidden width must be >= 1")
        if self.lr <= 0 or self.steps < 0:
            raise ValueError("mine.lr must be > 0 and mine.steps >= 0")
        if not 0 < self.ema_rate <= 1:
            raise ValueError("mine.ema_rate must lie in (0, 1]")
        if self.estimator not in ("mine", "closed-form"):
            raise ValueError(f"mine.estimator must be 'mine' or 'closed-form', got {self.estimator!r}")
        if self.estimator == "closed-form" and self.sampler != "random":
            raise ValueError("mine.estimator='closed-form' is the closed form of random-sampling mode; "
                             "set mine.sampler='random' (conv features have no closed form)")
        if not 0 < self.closed_form_floor < 1:
            raise ValueError(f"mine.closed_form_floor must lie in (0, 1), got {self.closed_form_floor}")

    @classmethod
    def reference_code(cls, **overrides) -> "MineSettings":
        """The released code's choices: projection redrawn at every evaluation."""
        return cls.from_dict({"projection": "per_evaluation", **overrides})


_BLAS = []  # [threadpoolctl controller of numpy's BLAS] once looked up, [None] if unavailable


def _numpy_blas_threads(n: int = 1):
    """A context in which numpy's BLAS runs on ``n`` threads, or None when that cannot be set
    (then the caller keeps torch's products). :class:`StatNets`' blocks take 1: their products
    are far too small for threads (the blocks run on torch's threads instead)."""
    if not _BLAS:
        try:
            ctl = ThreadpoolController().select(user_api="blas")
            _BLAS.append(ctl if ctl.lib_controllers else None)
        except Exception:  # no threadpoolctl, or it cannot read the libraries: no numpy path
            _BLAS.append(None)
    return None if _BLAS[0] is None else _BLAS[0].limit(limits=n)


# -- samplers --------------------------------------------------------------------------------
def standardise(v: Tensor, eps: float = 1e-6) -> Tensor:
    """Standardise along the last dim; finite for constant vectors (the variance gets ``eps``)."""
    c = v - v.mean(-1, keepdim=True)
    # the mean of centred squares by a dot product, not torch.var: the same value, 10x faster
    # on CPU for short rows and without a temporary of v's size
    var = torch.linalg.vecdot(c, c).unsqueeze(-1) / v.shape[-1]
    return c / torch.sqrt(var + eps)


def _onednn_linear():
    """torch's oneDNN linear op (``x @ wᵀ``), or None where torch was built without oneDNN."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        return op if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return None


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for the projection's two large products ([B, d] x [d, K·m] and its input gradient
    [B, K·m] x [K·m, d]); float32 on CPU by oneDNN, whose kernels use the CPU's widest vectors
    (AVX-512 where present; measured 2x MKL's generic path on this project's AMD machine, which
    does not get MKL's AVX-512 code) and give the same bits at any thread count (tested), where
    MKL's and OpenBLAS's results for these shapes change with it."""
    lin = _onednn_linear() if a.is_cpu and b.is_cpu and a.dtype == b.dtype == torch.float32 else None
    if lin is None:
        return a @ b
    return lin(a.contiguous(), b.t(), None, "none", [], "")


class _ProjectStandardise(torch.autograd.Function):
    """``standardise((flat @ P).view(B, K, m), eps)`` with a hand-written backward.

    The same values as the composed version; the forward works in place on the product and
    the backward is three passes over [B, K, m] and one matmul, where autograd through
    :func:`standardise` keeps and revisits half a dozen [B, K, m] temporaries per call.
    """

    @staticmethod
    def forward(ctx, flat: Tensor, K: int, m: int, eps: float, *chunks: Tensor) -> Tensor:
        # P is given as its column chunks (RandomSampler keeps them as drawn, see _cached)
        prods = [_matmul(flat, c) for c in chunks]
        u = (prods[0] if len(prods) == 1 else torch.cat(prods, 1)).view(flat.shape[0], K, m)
        u.sub_(u.mean(-1, keepdim=True))
        sd = (torch.linalg.vecdot(u, u).unsqueeze(-1) / m).add_(eps).sqrt_()
        u.div_(sd)
        ctx.save_for_backward(u, sd, *chunks)
        return u

    @staticmethod
    def backward(ctx, du: Tensor):
        u, sd, *chunks = ctx.saved_tensors
        # u = c/sd with c = z - mean(z), sd = sqrt(mean(c²) + eps):
        # dL/dc = (du - u·mean(du·u)) / sd, then dL/dz = dL/dc - mean(dL/dc)
        g = torch.addcmul(du, u, torch.linalg.vecdot(du, u).unsqueeze(-1) / u.shape[-1], value=-1)
        g = g.sub_(g.mean(-1, keepdim=True)).div_(sd).view(g.shape[0], -1)
        # g·Pᵀ = Σ over the chunks of g's columns times the chunk's transpose, in chunk order
        dflat, start = None, 0
        for c in chunks:
            part = _matmul(g[:, start:start + c.shape[1]], c.t())
            dflat = part if dflat is None else dflat.add_(part)
            start += c.shape[1]
        return (dflat, None, None, None) + (None,) * len(chunks)


class RandomSampler:
    """Gaussian projection of a flattened sample to K standardised vectors of dimension m.

    The projection is a [d, K·m] matrix with N(0, 1/m) entries (the released code's
    ``[500, d, 128]`` tensor with std 1/sqrt(128)), seeded by ``(seed, "projection", key)``
    and shared by all samples, so a sample's vectors never depend on its batch mates.
    ``redraw(key)`` switches to another projection. Matrices above ``max_cache_bytes``
    are regenerated chunk by chunk on every call instead of being kept in memory.
    """

    def __init__(self, d: int, K: int, m: int, *, seed: int = 0, eps: float = 1e-6,
                 device: torch.device | str = "cpu", max_cache_bytes: int = 1 << 30):
        self.d, self.K, self.m, self.seed, self.eps = d, K, m, seed, eps
        self.device = torch.device(device)
        self.max_cache_bytes = max_cache_bytes
        self.key: object = None
        self._P: list[Tensor] | None = None  # the cached projection's column chunks
        self.redraw(0)

    chunk_bytes = 64 << 20  # the projection is drawn (or regenerated) in chunks of about this size

    def _spans(self) -> list[tuple[int, int]]:
        # K rows per chunk such that one chunk stays below chunk_bytes
        rows = max(1, self.chunk_bytes // max(1, 4 * self.d * self.m))
        return [(start, min(rows, self.K - start)) for start in range(0, self.K, rows)]

    def _chunk(self, start: int, k: int) -> Tensor:
        """Columns start·m..(start+k)·m-1 of the projection, from their own seeded stream."""
        g = generator(self.seed, "projection", str(self.key), start)
        return torch.randn(self.d, k * self.m, generator=g).div_(math.sqrt(self.m)).to(self.device)

    def _chunks(self):
        for start, k in self._spans():
            yield self._chunk(start, k)

    def redraw(self, key: object) -> None:
        """Use the projection seeded by ``key`` from now on (no-op if it is the current one). The
        matrix is drawn on first use, so a sampler made and redrawn at once draws one matrix."""
        if key == self.key:
            return
        self.key = key
        self._P = None

    def _cached(self) -> list[Tensor] | None:
        """The whole projection as its column chunks, drawn once per key; None above
        ``max_cache_bytes``. The chunks are kept as drawn, not copied into one [d, K·m] matrix:
        that copy and the page faults of a second 200 MB tensor (released sizes) took a third of
        the draw (measured 0.30 s against 0.21 at 1 thread). They are independent streams, drawn
        on torch's threads (the same values at any thread count)."""
        if self._P is None and 4 * self.d * self.K * self.m <= self.max_cache_bytes:
            spans = self._spans()
            self._P = _spread(lambda i: self._chunk(*spans[i]), len(spans))
        return self._P

    def matrix(self) -> Tensor:
        """The current projection as one [d, K·m] tensor: columns k·m..(k+1)·m-1 hold P_kᵀ, so
        ``(x.flatten() @ matrix()).view(K, m)[k] = P_k x`` before the standardisation."""
        chunks = self._cached()
        return torch.cat(chunks if chunks is not None else list(self._chunks()), dim=1)

    def __call__(self, x: Tensor) -> Tensor:
        """``x`` [B, ...] (d values each) -> standardised vectors [B, K, m]."""
        flat = x.reshape(x.shape[0], -1)
        assert flat.shape[1] == self.d, (flat.shape, self.d)
        chunks = self._cached()
        if chunks is not None:
            return _ProjectStandardise.apply(flat, self.K, self.m, self.eps, *chunks)
        z = torch.cat([flat @ P for P in self._chunks()], dim=1)
        return standardise(z.view(x.shape[0], self.K, self.m), self.eps)


def closed_form_mi(x: Tensor, x_adv: Tensor, m: int, *, floor: float = 0.0) -> Tensor:
    """The MI that per-sample MINE in random-sampling mode estimates, in closed form [B] (nats).

    The K pairs of one sample are ``a_k = P_k x`` and ``b_k = P_k x'`` with P_k an m×d matrix of
    i.i.d. N(0, 1/m) entries. Each of the m coordinate pairs (a_kj, b_kj) = (p·x, p·x') is
    bivariate Gaussian with correlation ρ = cos(x, x'), and the coordinates (and the k) are
    independent, so the joint law of one pair of vectors is that of m independent Gaussian
    pairs with correlation ρ::

        I(a_k; b_k) = −(m/2) · log(1 − ρ²),   ρ = <x, x'> / (|x|·|x'|).

    So "minimise per-sample MI" is "minimise the cosine similarity of x and x'", and MI is blind
    to a change of contrast: x' = αx (α > 0) has ρ = 1. I(x; x) is infinite.

    The sampler also standardises every vector by its own mean and std over its m values (a
    function of each vector alone, so by data processing it can only lower the MI). Measured on
    digits (``tests/test_mine.py``): the correlation of the standardised pairs gives
    1 − ρ̂² ≈ (1 − ρ²)(1 + 1.5/m), i.e. 1% at the released m = 128 and an offset of about
    (m/2)·log(1 + 1.5/m) ≈ 0.75 nats at any m; negligible next to the hundreds of nats that
    attack-sized perturbations have.

    x, x_adv: [B, ...] with the same shape (flattened per sample); m: dimension of each
    projected vector. ``floor`` > 0 clamps 1 − ρ² from below, so I ≤ −(m/2)·log(floor) stays
    finite and differentiable as x' → x (the attacks use it; at ρ = 1 exactly the gradient
    of ρ is zero as well, so the clamp decides nothing there).
    """
    if x.shape != x_adv.shape or x.dim() < 2:
        raise ValueError(f"x and x_adv must be [B, ...] with the same shape, got {tuple(x.shape)}, "
                         f"{tuple(x_adv.shape)}")
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    a, b = x.flatten(1), x_adv.flatten(1)
    na, nb = a.norm(dim=1), b.norm(dim=1)
    if bool((na == 0).any() or (nb == 0).any()):
        raise ValueError("closed_form_mi needs non-zero samples: the cosine of an all-zero image is "
                         "undefined (its random projections are all 0)")
    rho = (a * b).sum(1) / (na * nb)
    one_minus = (1 - rho * rho).clamp(min=floor) if floor > 0 else 1 - rho * rho
    return -0.5 * m * torch.log(one_minus)


class ConvSampler:
    """The K output channels of a feature map (e.g. a model's first conv layer) as K pairs.

    ``feature`` maps [B, C, H, W] -> [B, K, H', W']; each channel is one H'×W' map.
    Returns [B, K, H'·W'] and remembers the map shape for the statistics network's conv.
    """

    def __init__(self, feature: nn.Module, relu: bool = True):
        if not isinstance(feature, nn.Module):
            raise ValueError("the conv sampler needs `feature=` an nn.Module, e.g. model.first_conv")
        self.feature, self.relu = feature, relu
        self.map_shape: tuple[int, int] | None = None

    def redraw(self, key: object) -> None:  # deterministic: nothing to redraw
        pass

    def __call__(self, x: Tensor) -> Tensor:
        out = self.feature(x)
        if self.relu:
            out = F.relu(out)
        if out.dim() != 4:
            raise ValueError(f"the conv feature map must return [B, K, H, W], got {tuple(out.shape)}")
        self.map_shape = (out.shape[2], out.shape[3])
        return out.flatten(2)


# -- statistics networks ---------------------------------------------------------------------
@contextlib.contextmanager
def _gc_paused():
    """Automatic garbage collection off for a block of code (restored after it).

    One iteration of the attack trains the networks with ~20 small tensor operations per
    block of samples and step, ~20,000 short-lived tensors per iteration, none of them in a
    reference cycle; each 700 of them triggered a young collection and every 100th of those a
    full one over the whole heap (the imported libraries' objects): measured 4% of the attack's
    time. Reference counting still frees every tensor at once.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _buf_in(ws: dict[str, Tensor], name: str, shape: Sequence[int], like: Tensor) -> Tensor:
    """A tensor of ``shape`` kept in the workspace ``ws`` between blocks (see StatNets._block)."""
    b = ws.get("state_" + name)
    if b is None or b.shape != tuple(shape) or b.dtype != like.dtype or b.device != like.device:
        b = ws["state_" + name] = torch.empty(tuple(shape), dtype=like.dtype, device=like.device)
    return b


def _gconv(x: Tensor, w: Tensor) -> Tensor:
    """The batched product ``w @ x`` (w [G, P, Q], x [G, Q, R] -> [G, P, R], float32 CPU) as a
    grouped 1×1 convolution by oneDNN, which runs its AVX-512 kernels where torch's bmm takes
    MKL's generic path: measured ~1.7x for the blocks' dh·ab and dMᵀ·W1 (G = 8, Q = 500 or
    129). Falls back to ``torch.bmm`` without oneDNN."""
    G, P, Q = w.shape
    if not _HAS_ONEDNN_CONV:  # pragma: no cover - builds without oneDNN
        return torch.bmm(w, x)
    out = torch.mkldnn_convolution(x.reshape(1, G * Q, 1, x.shape[2]), w.reshape(G * P, Q, 1, 1), None,
                                   [0, 0], [1, 1], [1, 1], G)
    return out.view(G, P, x.shape[2])


_HAS_ONEDNN_CONV = hasattr(torch, "mkldnn_convolution") and torch.backends.mkldnn.is_available()


_POOLS: dict[int, ThreadPoolExecutor] = {}  # worker count -> its pool, made once per process
# a forked child inherits the pools but not their threads: it must make its own
os.register_at_fork(after_in_child=_POOLS.clear)


def _spread(fn, n: int) -> list:
    """``[fn(i) for i in range(n)]``, the calls spread over torch's threads (each call on one
    thread, torch single-threaded there), in order; in this thread when torch has one thread.
    The jobs must be independent (they are: disjoint networks), so the results do not depend on
    the thread count."""
    threads = torch.get_num_threads()
    workers = min(threads, n)
    if workers <= 1:  # one thread already: the jobs in this thread, one after the other
        return [fn(i) for i in range(n)]
    try:
        return list(_block_pool(workers).map(fn, range(n)))
    finally:  # the workers' set_num_threads(1) also changed torch's process-wide default
        torch.set_num_threads(threads)


def _block_pool(workers: int) -> ThreadPoolExecutor:
    """Threads for StatNets.train's sample blocks; each runs torch single-threaded (its products
    are far too small to split, and one thread per block keeps a block's arithmetic fixed)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="statnets",
                                             initializer=torch.set_num_threads, initargs=(1,))
    return _POOLS[workers]


def _glorot(shape: Sequence[int], fan_in: int, fan_out: int, g: torch.Generator) -> Tensor:
    bound = math.sqrt(6.0 / (fan_in + fan_out))  # Keras' default initialiser
    return (torch.rand(*shape, generator=g) * 2 - 1) * bound


class StatNets:
    """B independent statistics networks T(a, b), parameters stacked along dim 0.

    ``n_in``: features per pair vector (m, or H·W in conv mode); ``map_shape``: (H, W) turns
    on the conv layer. ``generators``: one per network, for the initialisation and for the
    marginal's shuffles, so network i only ever sees its own random stream.

    Layout: every branch layer is one tensor [2B, ...], the B a-branches then the B
    b-branches, so both branches run in the same batched matmul; the output weights are
    ``w`` [B, H]. ``a`` and ``b`` are passed stacked too: ``ab`` [2B, K, n].

    Two implementations of the gradient: autograd through the folded network (any ``hidden``,
    conv mode), and, for the default two dense layers, hand-written gradients (:meth:`_grads`)
    that skip autograd's bookkeeping; a test checks that both agree.

    The hand-written path (``self.fast``) stores the last dense weight transposed, W2ᵀ
    [2B, H, N1], and keeps the K axis last ([2B, H, K]) for everything between the products:
    every one of its five batched products then has the narrow H = 10 side as the rows of
    its output, the form in which the BLAS runs 2.5-3x faster on CPU than the [K, H] /
    [n, H] outputs (``benchmarks/bench_statnets_layout.py``). Adam is elementwise, so the
    storage layout changes no value; only float summation orders change.
    """

    adam_chunk_bytes = 1 << 20  # CPU: dW1 is formed and applied this many bytes at a time
    block_samples = 4  # CPU, fast path: train() takes this many samples at a time (0: all)
    use_numpy_blas = True  # train()'s blocks take their products from numpy's BLAS (see _bmm)
    # train()'s blocks run compiled (uaelab/mi/native.py) where the C++ loop builds; False: Python
    use_native = True
    _np_blas = False  # set on those blocks

    def __init__(self, n_in: int, generators: Sequence[torch.Generator], *,
                 hidden: Sequence[int] = (512, 10), map_shape: tuple[int, int] | None = None,
                 conv_filters: int = 16, conv_kernel: int = 2, device: torch.device | str = "cpu",
                 lr: float = 1.5e-5, adam_eps: float = 1e-7, bias_correction: bool = False,
                 ema_rate: float = 0.01, manual_grad: bool = True):
        self.gens = list(generators)
        self.B = len(self.gens)
        self.hidden = tuple(hidden)
        self.map_shape = map_shape
        self.kc, self.fc = conv_kernel, conv_filters
        self.device = torch.device(device)
        self.lr, self.adam_eps = lr, adam_eps
        self.bias_correction, self.ema_rate = bias_correction, ema_rate
        self.n_in = n_in
        self.fast = manual_grad and map_shape is None and len(self.hidden) == 2
        self.w2_transposed = self.fast  # the fast path's layout: W2 stored as W2ᵀ [2B, H, N1]
        self._ws: dict[str, Tensor] = {}  # the fast path's per-step tensors, see _buf
        # the same for train()'s sample blocks, one workspace per thread (keyed by thread id)
        self._block_wss: dict[int, dict[str, Tensor]] = {}
        self.reset()

    # parameters --------------------------------------------------------------------------
    def _branch_init(self, g: torch.Generator) -> list[Tensor]:
        ps: list[Tensor] = []
        n = self.n_in
        if self.map_shape is not None:
            k, f = self.kc, self.fc
            ps += [_glorot((f, 1, k, k), k * k, k * k * f, g), torch.zeros(f)]
            n = f * (self.map_shape[0] - k + 1) * (self.map_shape[1] - k + 1)
        for h in self.hidden:
            ps += [_glorot((n, h), n, h, g), torch.zeros(h)]
            n = h
        if self.w2_transposed:  # same draws, stored [H, N1]
            ps[-2] = ps[-2].t().contiguous()
        return ps

    def reset(self) -> None:
        """Fresh initialisation and Adam state for every network (each from its own stream)."""
        h = self.hidden[-1]

        def draw(i: int):  # network i's a-branch, b-branch and output weights, from its stream
            g = self.gens[i]
            return self._branch_init(g), self._branch_init(g), _glorot((h,), h, 1, g)

        B, first = self.B, draw(0)
        layers = [torch.empty((2 * B, *t.shape)) for t in first[0]]
        ws = torch.empty((B, h))

        def put(i: int, net=None) -> None:  # into the stacked layers, in the job (no serial stack)
            a, b, w = draw(i) if net is None else net
            for layer, ta, tb in zip(layers, a, b):
                layer[i], layer[B + i] = ta, tb
            ws[i] = w

        put(0, first)
        _spread(lambda i: put(i + 1), B - 1)  # each network's draws in its own job: any thread count
        self.params = [p.to(self.device).requires_grad_(True) for p in layers + [ws]]
        self.m1 = [torch.zeros_like(p) for p in self.params]
        self.m2 = [torch.zeros_like(p) for p in self.params]
        # every network steps together, so one Adam step count serves all of them
        self.adam_steps = [torch.zeros((), device=self.device) for _ in self.params]
        self.log_ema = torch.full((self.B,), float("nan"), device=self.device)

    def _fold(self, ps: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Fold the (linear) branches into affine maps: (M [2B, n_in, H], c [2B, H])."""
        i = 2 if self.map_shape is not None else 0
        M, c = ps[i], ps[i + 1]
        for j in range(i + 2, len(ps), 2):
            Wj = ps[j].transpose(1, 2) if self.w2_transposed else ps[j]
            M = M @ Wj
            c = (c.unsqueeze(1) @ Wj).squeeze(1) + ps[j + 1]
        if self.map_shape is not None:
            # conv (F filters, k×k, valid) then flatten: its transpose maps M back to pixels
            wc, bc = ps[0], ps[1]  # [2B, F, 1, k, k], [2B, F]
            n2 = wc.shape[0]
            H, W = self.map_shape
            k, f = self.kc, self.fc
            h2, w2 = H - k + 1, W - k + 1
            Hn = M.shape[-1]
            Mm = M.view(n2, f, h2, w2, Hn)
            c = c + torch.einsum("bf,bfn->bn", bc, Mm.sum((2, 3)))
            inp = Mm.permute(4, 0, 1, 2, 3).reshape(Hn, n2 * f, h2, w2)
            out = F.conv_transpose2d(inp, wc.reshape(n2 * f, 1, k, k), groups=n2)
            M = out.reshape(Hn, n2, H * W).permute(1, 2, 0)
        return M, c

    def _hidden(self, ab: Tensor, ps: Sequence[Tensor], perm: Tensor):
        M, c = self._fold(ps[:-1])
        h = torch.baddbmm(c.unsqueeze(1), ab, M)  # [2B, K, H]
        ha, hb = h[:self.B], h[self.B:]
        hb_shuf = torch.gather(hb, 1, perm.unsqueeze(-1).expand_as(hb))
        return M, ha + hb, ha + hb_shuf

    def scores(self, ab: Tensor, perm: Tensor, params: Sequence[Tensor] | None = None):
        """T on the joint pairs and on the shuffled pairs [B, K]: ab [2B, K, n]; perm [B, K]."""
        ps = self.params if params is None else params
        w = ps[-1].unsqueeze(-1)
        _, zj, zm = self._hidden(ab, ps, perm)
        return (F.relu(zj) @ w).squeeze(-1), (F.relu(zm) @ w).squeeze(-1)

    def permutations(self, K: int) -> Tensor:
        """One shuffle of the K indices per network, from that network's own stream."""
        return torch.stack([torch.randperm(K, generator=g) for g in self.gens]).to(self.device)

    # gradients ---------------------------------------------------------------------------
    def _marg_weight(self, lme: Tensor) -> Tensor:
        """Factor on the marginal term's gradient: 1 (plain DV) or E[e^T]/EMA (bias correction)."""
        if not self.bias_correction:
            return torch.ones_like(lme)
        # MINE's moving average, kept in log space; the first step initialises it
        r = self.ema_rate
        prev = torch.where(torch.isnan(self.log_ema), lme, self.log_ema)
        self.log_ema = torch.logaddexp(prev + math.log1p(-r), lme + math.log(r)) if r < 1 else lme
        return torch.exp(lme - self.log_ema)

    def _buf(self, name: str, shape: Sequence[int], like: Tensor) -> Tensor:
        """A tensor kept between steps for one intermediate of the fast path.

        A step makes a dozen tensors of 0.3-33 MB; freshly allocated, each is page-faulted in
        again at every step (the allocator returns such sizes to the OS): measured ~3000
        faults per step, ~15 ms at the ~5 µs a fault costs on a VM. Buffers are only for
        tensors that die within the step (or are consumed by the Adam update right after)."""
        b = self._ws.get(name)
        if b is None or b.shape != tuple(shape) or b.dtype != like.dtype or b.device != like.device:
            b = self._ws[name] = torch.empty(tuple(shape), dtype=like.dtype, device=like.device)
        return b

    def _bmm(self, a: Tensor, b: Tensor, out: Tensor) -> Tensor:
        """``torch.bmm(a, b, out=out)``; with ``self._np_blas`` (train()'s CPU sample blocks) by
        numpy's matmul on the same memory: numpy's OpenBLAS runs the small H-row products of a
        block ~2x faster than torch's MKL on CPUs where MKL takes its generic path (measured
        on this project's AMD machine at 8 networks; not yet in bench_statnets_layout.py). The
        same products, float32 throughout."""
        if self._np_blas:
            np.matmul(a.numpy(), b.numpy(), out=out.numpy())
            return out
        return torch.bmm(a, b, out=out)

    def _fast_forward(self, ab: Tensor, abT: Tensor | None, perm: Tensor, params: Sequence[Tensor]):
        """Forward pass of the fast layout, K axis last: the folded Mᵀ [2B, H, n], the joint and
        shuffled pre-activations zj, zm [B, H, K], their ReLUs and the scores joint, marg [B, K].
        All but the scores live in buffers (:meth:`_buf`)."""
        W1, b1, W2T, b2, w = params
        (B2, H, _), K, n = W2T.shape, ab.shape[1], ab.shape[2]
        MT = torch.bmm(W2T, W1.transpose(1, 2), out=self._buf("MT", (B2, H, n), W1))  # folded
        cT = torch.baddbmm(b2.unsqueeze(-1), W2T, b1.unsqueeze(-1))  # [2B, H, 1]
        # abT (the pairs with K last, [2B, n, K]) is the fastest right operand; a transposed
        # view of ab gives the same values when the caller has no abT
        hT = self._bmm(MT, ab.transpose(1, 2) if abT is None else abT,
                       self._buf("hT", (B2, H, K), W1)).add_(cT)  # [2B, H, K]
        return (MT, *self._heads(hT, perm, w))

    def _heads(self, hT: Tensor, perm: Tensor, w: Tensor):
        """From both branches' outputs hT [2B, H, K]: the joint and shuffled pre-activations zj, zm
        [B, H, K], their ReLUs and the scores joint, marg [B, K] (all but the scores in buffers)."""
        B, (_, H, K) = self.B, hT.shape
        ha, hb = hT[:B], hT[B:]
        # the marginal: b's branch outputs shuffled, not a second pass over shuffled inputs
        zj = torch.add(ha, hb, out=self._buf("zj", (B, H, K), hT))
        zm = torch.gather(hb, 2, perm.unsqueeze(1).expand_as(hb), out=self._buf("zm", (B, H, K), hT))
        zm.add_(ha)
        rj = torch.clamp_min(zj, 0, out=self._buf("rj", (B, H, K), hT))  # ReLU
        rm = torch.clamp_min(zm, 0, out=self._buf("rm", (B, H, K), hT))
        wr = w.unsqueeze(1)  # [B, 1, H]
        joint = torch.bmm(wr, rj).squeeze(1)
        marg = torch.bmm(wr, rm).squeeze(1)
        return zj, zm, rj, rm, joint, marg

    @torch.no_grad()
    def _grads(self, ab: Tensor, perm: Tensor, params: Sequence[Tensor], need: str = "params",
               abT: Tensor | None = None, w1_factor: bool = False):
        """Hand-written gradients of loss = -Σ_i DV_i for two dense layers per branch.

        Returns (dv [B], grads of the params) or, with need="b", (dv, d DV/d b [B, K, n]).
        Fast layout (class docstring): W2 is stored as W2ᵀ, its gradient is returned as dW2ᵀ.
        With ``w1_factor`` the first entry is dMᵀ [2B, H, n] instead of dW1 = dM·W2ᵀ, for
        :meth:`_adam_fast` to form dW1 piecewise. The gradients are buffers, valid until the
        next call.
        """
        W1, b1, W2T, b2, w = params
        B, K, (B2, H, N1) = self.B, ab.shape[1], W2T.shape
        MT, zj, zm, rj, rm, joint, marg = self._fast_forward(ab, abT, perm, params)
        dv, p, dzj, dzm, inv = self._dscores(zj, zm, rj, rm, joint, marg, perm, w, need)
        if need == "b":
            dhbK = torch.gather(dzm, 2, inv, out=rm).add_(dzj).transpose(1, 2)  # [B, K, H] view
            # [K, H] @ [H, n]: the [K, H] operand stored contiguously is the fast form here
            dhb = self._buf("dhb", dhbK.shape, W1).copy_(dhbK)
            return dv, torch.bmm(dhb, MT[B:]).neg_()
        dh = self._dh(dzj, dzm, inv)
        dMT = self._bmm(dh, ab, self._buf("dMT", (B2, H, ab.shape[2]), W1))  # [2B, H, n]
        dc = dh.sum(2)  # [2B, H]
        dW1 = dMT if w1_factor else torch.bmm(dMT.transpose(1, 2), W2T, out=self._buf("dW1", W1.shape, W1))
        db1 = torch.bmm(dc.unsqueeze(1), W2T, out=self._buf("db1", (B2, 1, N1), W1)).squeeze(1)
        dW2T = self._bmm(dMT, W1, self._buf("dW2T", W2T.shape, W1))  # [2B, H, N1]
        dW2T.addcmul_(dc.unsqueeze(2), b1.unsqueeze(1))  # + dc ⊗ b1
        dw = torch.bmm(rm, p.unsqueeze(-1)).squeeze(-1) - rj.sum(2) / K
        return dv, [dW1, db1, dW2T, dc, dw]

    def _dscores(self, zj, zm, rj, rm, joint, marg, perm: Tensor, w: Tensor, need: str = "params"):
        """The bounds dv [B] and d loss / d (zj, zm) (over zj's and zm's buffers) with loss = -Σ DV,
        the marginal's softmax p [B, K] and the inverse shuffle ``inv`` [B, H, K]."""
        K = marg.shape[1]
        lme = torch.logsumexp(marg, 1) - math.log(K)
        dv = joint.mean(1) - lme
        # d loss / d joint = -1/K; d loss / d marg = softmax(marg) (× the bias-correction factor)
        p = torch.softmax(marg, 1) * self._marg_weight(lme).unsqueeze(1) if need == "params" \
            else torch.softmax(marg, 1)
        wc = w.unsqueeze(-1)  # [B, H, 1]
        # d/dz of w·relu(z): w where z > 0 (sign(relu(z)) is that mask as 0/1)
        dzj = torch.sign(rj, out=zj).mul_(wc).mul_(-1.0 / K)  # [B, H, K], over zj's buffer
        dzm = torch.sign(rm, out=zm).mul_(wc).mul_(p.unsqueeze(1))
        # the shuffle's transpose: a gather by the inverse permutation (each b output took part
        # in exactly one shuffled pair, so this adds the same two numbers as a scatter_add)
        inv = torch.empty_like(perm).scatter_(1, perm, self._arange(perm))
        return dv, p, dzj, dzm, inv.unsqueeze(1).expand_as(dzm)

    def _dh(self, dzj: Tensor, dzm: Tensor, inv: Tensor) -> Tensor:
        """d loss / d (both branches' outputs) [2B, H, K] from :meth:`_dscores`."""
        B, H, K = dzj.shape
        dh = self._buf("dh", (2 * B, H, K), dzj)
        torch.add(dzj, dzm, out=dh[:B])
        torch.gather(dzm, 2, inv, out=dh[B:]).add_(dzj)
        return dh

    def _autograd(self, ab: Tensor, perm: Tensor, params: Sequence[Tensor], need: str = "params"):
        """The same gradients by autograd (any architecture)."""
        with torch.enable_grad():
            if need == "b":
                params = [p.detach() for p in params]
                ab = ab.detach().requires_grad_(True)
            joint, marg = self.scores(ab, perm, params)
            lme = torch.logsumexp(marg, 1) - math.log(marg.shape[1])
            dv = joint.mean(1) - lme
            if need == "b":
                return dv.detach(), torch.autograd.grad(dv.sum(), ab)[0][self.B:]
            weight = self._marg_weight(lme.detach())
            loss = -(joint.mean(1) - weight * torch.exp(lme - lme.detach())).sum()
            return dv.detach(), list(torch.autograd.grad(loss, params))

    def gradients(self, ab: Tensor, perm: Tensor, need: str = "params", abT: Tensor | None = None):
        if self.fast:
            return self._grads(ab, perm, self.params, need, abT)
        return self._autograd(ab, perm, self.params, need)

    # training ----------------------------------------------------------------------------
    def step(self, ab: Tensor, abT: Tensor | None = None) -> Tensor:
        """One Adam ascent step on every network's DV bound; returns the bounds before it [B].

        ``abT``: optionally ``ab`` with the K axis last ([2B, n, K], contiguous), the fast
        path's preferred operand; a caller stepping many times on the same pairs makes it once.
        """
        perm = self.permutations(ab.shape[1])
        if self.fast:
            dv, grads = self._grads(ab, perm, self.params, abT=abT, w1_factor=True)
            self._adam_fast(grads)
        else:
            dv, grads = self._autograd(ab, perm, self.params)
            self._adam(grads)
        return dv

    def train(self, ab: Tensor, steps: int, abT: Tensor | None = None) -> Tensor | None:
        """``steps`` Adam steps on the same pairs; returns the last pre-step bounds [B] (None if
        ``steps`` is 0).

        Every network only ever sees its own pairs, parameters, Adam state and random stream, so
        the steps can run sample block by sample block: on CPU the fast path takes
        ``block_samples`` samples (their two branch networks) at a time through *all* the steps,
        on contiguous copies of their parameters, Adam moments and pairs that stay in the cache
        between steps, instead of streaming every network's 512-wide weights and moments and the
        pairs from memory at every step. The blocks are spread over torch's threads, each on one
        thread with single-threaded products (:meth:`_train_blocks`), so the result does not
        depend on the thread count. The same updates as :meth:`step` ``steps`` times; the float
        summation orders differ (the blocks' products and their bias sums, :meth:`_block_step`).
        A block's steps run as one call into the compiled loop (:mod:`uaelab.mi.native`,
        ``statnets_block.cpp``) where it builds (float32, CPU), else as :meth:`_block_step` in
        Python: the same updates to float32 rounding (tests/test_native.py).
        """
        B = self.B
        c = self.block_samples
        if not (self.fast and ab.is_cpu and 0 < c < B) or steps <= 0:
            if self.fast and abT is None and steps > 1:  # the fastest forward operand, made once
                abT = ab.transpose(1, 2).contiguous()
            dv = None
            for _ in range(steps):
                dv = self.step(ab, abT)
            return dv
        kernel = native.block_kernel() if self.use_native and native.usable(
            ab.dtype, ab.device, self.hidden[-1]) else None
        if kernel is not None:  # each block's steps in one compiled call (uaelab/mi/native.py)
            with _gc_paused():
                return self._train_blocks(ab, steps, False, kernel)
        one_thread = _numpy_blas_threads(1) if self.use_numpy_blas and ab.dtype == torch.float32 else None
        with _gc_paused(), one_thread or contextlib.nullcontext():
            return self._train_blocks(ab, steps, one_thread is not None)

    def _train_blocks(self, ab: Tensor, steps: int, numpy_blas: bool, kernel=None) -> Tensor:
        """The blocks of :meth:`train`, spread over torch's threads: each block runs on one thread
        with single-threaded products and its own buffers, so its arithmetic (and the result) is
        the same for any thread count; the blocks touch disjoint slices of the batch's state.
        ``kernel``: the compiled block loop (:mod:`uaelab.mi.native`) instead of :meth:`_block_step`."""
        B, c = self.B, self.block_samples
        spans = [(s0, min(s0 + c, B)) for s0 in range(0, B, c)]
        dvs: list[Tensor | None] = [None] * len(spans)

        def run(i: int) -> None:
            s0, s1 = spans[i]
            ws = self._block_wss.setdefault(threading.get_ident(), {})  # this thread's buffers
            sub = self._block(s0, s1, ws)
            sub._np_blas = numpy_blas
            c, (K, n) = s1 - s0, ab.shape[1:]
            # the block's pairs with a column of ones (the bias trick, see _block_step): [2c, K, n+1]
            abx = _buf_in(ws, "abx", (2 * c, K, n + 1), ab)
            abx[:c, :, :n], abx[c:, :, :n] = ab[s0:s1], ab[B + s0:B + s1]
            abx[:, :, n] = 1
            abxT = _buf_in(ws, "abxT", (2 * c, n + 1, K), ab).copy_(abx.transpose(1, 2))
            if kernel is None:
                for _ in range(steps):
                    dv = sub._block_step(abx, abxT)
            else:
                dv = kernel.block_steps(sub.params, sub.m1, sub.m2, sub.adam_steps[0], abx, abxT, sub.gens,
                                        sub.log_ema, steps, sub.lr, sub.adam_eps, sub.bias_correction, sub.ema_rate)
            dvs[i] = dv
            self._unblock(sub, s0, s1)

        _spread(run, len(spans))
        for s in self.adam_steps:
            s += steps
        return torch.cat(dvs)

    @torch.no_grad()
    def _block(self, s0: int, s1: int, ws: dict[str, Tensor] | None = None) -> "StatNets":
        """A StatNets for samples s0..s1-1 on contiguous copies of their state (see :meth:`train`),
        in buffers of ``ws`` (one workspace per thread) that every block reuses (a fresh tensor of
        a few MB is page-faulted in anew). Its layout is :meth:`_block_step`'s: parameters
        [W1x, W2ᵀ, b2, w] with W1x = [W1; b1] [2c, n+1, N1] (b1 as one more row of W1), the
        a-branches of the block's samples then their b-branches; the Adam moments alike."""
        B, c = self.B, s1 - s0
        ws = self._block_wss.setdefault(threading.get_ident(), {}) if ws is None else ws
        sub = copy.copy(self)
        sub.B, sub.gens, sub.block_samples = c, self.gens[s0:s1], 0
        sub._ws = ws

        def both(t: Tensor, out: Tensor) -> Tensor:  # a-branches then b-branches of the block
            out[:c], out[c:] = t[s0:s1], t[B + s0:B + s1]
            return out

        def take(name: str, ts: Sequence[Tensor]) -> list[Tensor]:
            W1, b1, W2T, b2, w = ts
            W1x = _buf_in(ws, name + "W1x", (2 * c, W1.shape[1] + 1, W1.shape[2]), W1)
            both(W1, W1x[:, :-1])
            both(b1, W1x[:, -1])
            return [W1x, both(W2T, _buf_in(ws, name + "W2T", (2 * c, *W2T.shape[1:]), W2T)),
                    both(b2, _buf_in(ws, name + "b2", (2 * c, *b2.shape[1:]), b2)),
                    _buf_in(ws, name + "w", (c, *w.shape[1:]), w).copy_(w[s0:s1])]

        sub.params, sub.m1, sub.m2 = take("p", self.params), take("m1_", self.m1), take("m2_", self.m2)
        # b1's step count is W1's: every network steps together, so all counts are equal
        sub.adam_steps = [self.adam_steps[0].clone()] * 4  # one tensor: _block_step counts once
        sub.log_ema = self.log_ema[s0:s1].clone()
        return sub

    @torch.no_grad()
    def _unblock(self, sub: "StatNets", s0: int, s1: int) -> None:
        B, c = self.B, s1 - s0
        for mine, theirs in ((self.params, sub.params), (self.m1, sub.m1), (self.m2, sub.m2)):
            W1x = theirs[0]
            for t, u in ((mine[0], W1x[:, :-1]), (mine[1], W1x[:, -1]), (mine[2], theirs[1]), (mine[3], theirs[2])):
                t[s0:s1], t[B + s0:B + s1] = u[:c], u[c:]
            mine[4][s0:s1] = theirs[3]
        self.log_ema[s0:s1] = sub.log_ema

    @torch.no_grad()
    def _block_step(self, abx: Tensor, abxT: Tensor) -> Tensor:
        """One Adam step of a block from :meth:`_block` on its pairs with a column of ones, abx
        [2c, K, n+1] (and abxT, the same with K last); returns the bounds before the step [c].

        The bias trick: with b1 stored as row n of W1x and the pairs' column n all ones, the fold
        W2ᵀ·W1xᵀ holds Mᵀ and W2ᵀb1 side by side, so the forward product adds the bias, the
        backward product dh·abx yields dc = Σ_k dh as its column n, dW2ᵀ = dMxᵀ·W1x includes
        dc ⊗ b1 and dMxᵀ·W2ᵀ gives [dW1; db1] for one Adam update of W1x: the gradients of
        :meth:`_grads`, with the bias terms summed inside the products instead of after them.
        Mxᵀ·abxᵀ, dh·abx and dMxᵀ·W1x are grouped 1×1 convolutions by oneDNN (:func:`_gconv`)."""
        W1x, W2T, b2, w = self.params
        (B2, H, _), K, n1 = W2T.shape, abx.shape[1], abx.shape[2]
        c = B2 // 2
        # The Python-level cost of a small operation (~6 µs with dispatch) is a quarter of a block
        # step at the released sizes, and holds the GIL the other thread's blocks need: hence one
        # buffer z = [zj | zm] for both pre-activations, so the ReLU, the scores, their derivative
        # and dw are one operation each, and the shuffles are drawn into a kept buffer.
        perm = self._ws.get("perm")
        if perm is None or perm.shape != (c, K):
            perm = self._ws["perm"] = torch.empty((c, K), dtype=torch.long)
        for i, g in enumerate(self.gens):  # the same draws as permutations()
            torch.randperm(K, generator=g, out=perm[i])
        MTx = torch.bmm(W2T, W1x.transpose(1, 2), out=self._buf("MTx", (B2, H, n1), W1x))  # folded
        MTx[:, :, -1].add_(b2)
        # [2c, H, K], biases in; oneDNN's grouped conv: 93 µs at 8 networks where numpy's matmul
        # took 168 and torch.bmm 146 (1 thread, this project's AMD machine)
        hT = _gconv(abxT, MTx)
        ha, hb = hT[:c], hT[c:]
        z = self._buf("z", (c, H, 2 * K), hT)
        zj, zm = z[:, :, :K], z[:, :, K:]
        torch.add(ha, hb, out=zj)
        torch.gather(hb, 2, perm.unsqueeze(1).expand_as(hb), out=zm).add_(ha)  # b's outputs shuffled
        r = torch.clamp_min(z, 0, out=self._buf("r", z.shape, z))  # ReLU
        scores = torch.bmm(w.unsqueeze(1), r).squeeze(1)  # [c, 2K]: joint | marg
        joint, marg = scores[:, :K], scores[:, K:]
        lme = torch.logsumexp(marg, 1) - math.log(K)
        dv = joint.mean(1) - lme
        # d loss / d scores: -1/K on the joint, softmax(marg) (× the bias correction) on the marg
        cf = self._buf("cf", (c, 1, 2 * K), z)
        cf[:, 0, :K] = -1.0 / K
        p = torch.softmax(marg, 1)
        cf[:, 0, K:] = p * self._marg_weight(lme).unsqueeze(1) if self.bias_correction else p
        dw = torch.bmm(r, cf.transpose(1, 2)).squeeze(-1)  # [c, H]
        dz = torch.sign(r, out=z).mul_(w.unsqueeze(-1)).mul_(cf)  # d/dz of w·relu(z), over z
        dzj, dzm = dz[:, :, :K], dz[:, :, K:]
        inv = torch.empty_like(perm).scatter_(1, perm, self._arange(perm))  # the inverse shuffle
        dMTx = _gconv(abx, self._dh(dzj, dzm, inv.unsqueeze(1).expand_as(dzm)))  # [2c, H, n+1] = [dMᵀ | dc]
        dW2T = _gconv(W1x, dMTx)  # [2c, H, N1]
        dc = dMTx[:, :, -1].contiguous()
        self.adam_steps[0] += 1  # one step count for the block's four parameters (see _block)
        # [dW1; db1] = dMxᵀ·W2ᵀ for the whole block (2 MB at 8 networks, cache-resident), formed
        # before the update of W2ᵀ, which it must not see; then one fused Adam over all four
        # parameters (measured 303 µs against 355 for the 1 MB chunks and their separate updates)
        g = self._bmm(dMTx.transpose(1, 2), W2T, self._buf("dW1x", W1x.shape, W1x))
        torch._fused_adam_(self.params, [g, dW2T, dc, dw], self.m1, self.m2, [], self.adam_steps,
                           **self._adam_kw)
        return dv

    @property
    def _adam_kw(self) -> dict:
        return dict(lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=self.adam_eps,
                    amsgrad=False, maximize=False)

    def _arange(self, perm: Tensor) -> Tensor:
        r = self._ws.get("arange")
        if r is None or r.shape != perm.shape or r.device != perm.device:
            r = self._ws["arange"] = torch.arange(perm.shape[1], device=perm.device).expand_as(perm)
        return r

    @torch.no_grad()
    def _adam_fast(self, grads: Sequence[Tensor]) -> None:
        """Adam for the fast path, given dMᵀ in place of dW1 (``_grads(w1_factor=True)``).

        dW1 = dM·W2ᵀ is the step's largest tensor (33 MB at the released sizes). On CPU it is
        formed a few networks at a time into a 1 MB buffer and consumed by the Adam update of
        those networks while still in cache, instead of being written to and read back from
        memory in full (measured: the two together 20-30% faster). Elementwise Adam on
        slices is the same update. Other devices take all networks at once.
        """
        for s in self.adam_steps:
            s += 1
        dMT, W1, W2T = grads[0], self.params[0], self.params[2]
        n2 = W1.shape[0]
        c = max(1, self.adam_chunk_bytes // (W1[0].numel() * W1.element_size())) if W1.is_cpu else n2
        buf = self._buf("dW1_chunk", (min(c, n2), *W1.shape[1:]), W1)
        kw = dict(lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=self.adam_eps,
                  amsgrad=False, maximize=False)
        # dW1 before the other updates: it needs W2 as it was at the forward pass
        for i in range(0, n2, c):
            sl = slice(i, min(i + c, n2))
            g = self._bmm(dMT[sl].transpose(1, 2), W2T[sl], buf[:sl.stop - sl.start])
            torch._fused_adam_([W1[sl]], [g], [self.m1[0][sl]], [self.m2[0][sl]], [],
                               [self.adam_steps[0]], **kw)
        torch._fused_adam_(self.params[1:], list(grads[1:]), self.m1[1:], self.m2[1:], [],
                           self.adam_steps[1:], **kw)

    @torch.no_grad()
    def _adam(self, grads: Sequence[Tensor]) -> None:
        # Adam is elementwise, so one fused update of the stacked parameters is exactly B
        # separate optimisers; the fused kernel reads and writes each element once, which
        # matters because this update of the 512-wide layers is a large part of the run time.
        for s in self.adam_steps:
            s += 1
        torch._fused_adam_(self.params, [g.contiguous() for g in grads], self.m1, self.m2, [],
                           self.adam_steps, lr=self.lr, beta1=0.9, beta2=0.999, weight_decay=0.0,
                           eps=self.adam_eps, amsgrad=False, maximize=False)

    def value(self, ab: Tensor, *, grad_b: bool = False,
              abT: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """DV bound [B] on a fresh shuffle; with ``grad_b`` also dI/db [B, K, n]."""
        perm = self.permutations(ab.shape[1])
        if grad_b:
            return self.gradients(ab, perm, need="b", abT=abT)
        with torch.no_grad():
            if self.fast:
                joint, marg = self._fast_forward(ab, abT, perm, self.params)[-2:]
            else:
                joint, marg = self.scores(ab, perm)
            return dv_bound(joint, marg), None


def dv_bound(joint: Tensor, marg: Tensor) -> Tensor:
    """Donsker–Varadhan bound per row: mean(joint) - log mean exp(marg), via logsumexp."""
    return joint.mean(-1) - (torch.logsumexp(marg, -1) - math.log(marg.shape[-1]))


# -- the per-sample estimator used by the attacks ---------------------------------------------
class PerSampleMINE:
    """I(x; x') for a batch, one statistics network per sample, trained all at once.

    Usage by an attack (see :class:`uaelab.attacks.minmax.MinMax`)::

        mine = PerSampleMINE(settings, x, seed=seed, indices=idx, feature=None)
        b = mine.features(x_adv)          # differentiable [B, K, n]
        mine.train(x_adv, b.detach(), key) # settings.steps Adam steps
        I, dI_db = mine.value(b, key, grad=True)

    ``key`` is the attack iteration; it drives the projection policy. ``indices`` (dataset
    indices, default ``arange(B)``) seed each sample's network and shuffles from
    ``(seed, "mine", index)``. ``sampler``: a :class:`RandomSampler` from an earlier call to
    reuse (its projection is a function of the seed and the draw key only).
    """

    def __init__(self, settings: MineSettings, x: Tensor, *, seed: int = 0,
                 indices: Tensor | None = None, feature: nn.Module | None = None,
                 generators: Sequence[torch.Generator] | None = None,
                 sampler: RandomSampler | None = None):
        self.s = settings
        B = x.shape[0]
        idx = torch.arange(B) if indices is None else indices
        self.device = x.device
        self.gens = list(generators) if generators is not None else [
            generator(seed, "mine", int(i)) for i in idx]
        if settings.sampler == "conv":
            if feature is None:
                raise ValueError("mine.sampler='conv' needs feature= an nn.Module "
                                 "(e.g. the classifier's first conv layer)")
            self.sampler = ConvSampler(feature, relu=settings.conv_relu)
            self.policy = "per_attack"
        else:
            d = x[0].numel()
            if sampler is not None and (sampler.d, sampler.K, sampler.m, sampler.seed, sampler.device) \
                    == (d, settings.K, settings.m, seed, x.device):
                self.sampler = sampler  # reuse its cached projection (same seed: same matrices)
            else:
                self.sampler = RandomSampler(d, settings.K, settings.m, seed=seed,
                                             eps=settings.standardise_eps, device=x.device)
            self.policy = settings.projection
        self.x = x
        self._ab: Tensor | None = None
        self._ab_src: tuple | None = None  # (a, its version) last copied into _ab
        self._draw(("attack",))
        n_in = self.a.shape[-1]
        self.nets = StatNets(
            n_in, self.gens, hidden=settings.hidden,
            map_shape=self.sampler.map_shape if settings.sampler == "conv" else None,
            conv_filters=settings.conv_filters, conv_kernel=settings.conv_kernel,
            device=x.device, lr=settings.lr, adam_eps=settings.adam_eps,
            bias_correction=settings.bias_correction, ema_rate=settings.ema_rate)

    @property
    def K(self) -> int:
        return self.a.shape[1]

    def _draw(self, key: tuple) -> None:
        prev = self.sampler.key if isinstance(self.sampler, RandomSampler) else None
        self.sampler.redraw(key)
        if not hasattr(self, "a") or self.sampler_key_changed(prev):
            with torch.no_grad():
                self.a = self.sampler(self.x)

    def sampler_key_changed(self, prev) -> bool:
        return isinstance(self.sampler, RandomSampler) and prev != self.sampler.key

    def _key(self, it: int, step: object) -> tuple:
        if self.policy == "per_attack":
            return ("attack",)
        if self.policy == "per_iteration":
            return ("it", it)
        return ("eval", it, step)

    def features(self, x_adv: Tensor, it: int = 0) -> Tensor:
        """The K vectors of ``x_adv`` [B, K, n] under the projection for gradient evaluations."""
        self._draw(self._key(it, "grad"))
        return self.sampler(x_adv)

    def train(self, x_adv: Tensor, b: Tensor | None = None, it: int = 0,
              steps: int | None = None) -> Tensor | None:
        """``steps`` (default settings.steps) Adam steps; ``b`` = features of x_adv when the
        projection does not change between steps. Returns the last pre-step bound [B]."""
        dv = None
        n_steps = self.s.steps if steps is None else steps
        if self.policy != "per_evaluation" and b is not None:
            # the pairs are the same at every step: all steps at once, block by block
            return self.nets.train(self._stack(b), n_steps)
        for s in range(n_steps):
            self._draw(self._key(it, s))
            with torch.no_grad():
                bs = self.sampler(x_adv.detach())
            dv = self.nets.step(self._stack(bs))
        return dv

    def value(self, b: Tensor, it: int = 0, grad: bool = False) -> tuple[Tensor, Tensor | None]:
        """DV estimate [B] for features ``b`` (from :meth:`features`), optionally with dI/db."""
        self._draw(self._key(it, "grad"))
        return self.nets.value(self._stack(b.detach()), grad_b=grad)

    def _stack(self, b: Tensor) -> Tensor:
        # [a; b] as [2B, K, n] in a buffer kept across calls (see StatNets._grads on why); a, the
        # original's vectors, is copied only when it changed (a redraw): two calls per iteration
        B = self.a.shape[0]
        if self._ab is None or self._ab.shape[1:] != b.shape[1:]:
            self._ab = torch.empty((2 * B, *b.shape[1:]), device=b.device, dtype=b.dtype)
            self._ab_src = None
        src = self._ab_src
        if src is None or src[0] is not self.a or src[1] != self.a._version:
            self._ab[:B].copy_(self.a)
            self._ab_src = (self.a, self.a._version)
        self._ab[B:].copy_(b)
        return self._ab

    def reset(self) -> None:
        """Fresh statistics networks and Adam states (the binary search's restarts)."""
        self.nets.reset()


# -- public estimator on paired data -----------------------------------------------------------
# A plain MLP critic on [a, b], not StatNets (see uaelab/mi/estimator.py for why); re-exported
# here because ``uaelab.mi.mine.estimate_mi`` is the public name.
from uaelab.mi.estimator import estimate_mi  # noqa: E402,F401
