"""The compiled StatNets block loop (uaelab/mi/statnets_block.cpp, built by uaelab/mi/native.py):
the same updates as the Python block loop and as float64 arithmetic to float32 rounding, and a
clean fallback to the Python loop where it cannot be built."""
from __future__ import annotations

import warnings

import pytest
import torch

from uaelab.mi import native
from uaelab.mi.mine import StatNets

needs_kernel = pytest.mark.skipif(native.block_kernel() is None, reason="the compiled StatNets loop is off "
                                  "(UAELAB_NATIVE=0) or did not build here (no C++ compiler or ninja)")


def _nets(B: int, n: int, hidden, *, lr: float, bias_correction: bool, native_loop: bool | None,
          dtype=torch.float32) -> StatNets:
    gens = [torch.Generator().manual_seed(11 + i) for i in range(B)]
    nets = StatNets(n, gens, hidden=hidden, lr=lr, bias_correction=bias_correction)
    if dtype != torch.float32:  # the same initial networks in float64, for the reference
        nets.params = [p.detach().to(dtype).requires_grad_(True) for p in nets.params]
        nets.m1, nets.m2 = [m.to(dtype) for m in nets.m1], [m.to(dtype) for m in nets.m2]
        nets.adam_steps = [s.to(dtype) for s in nets.adam_steps]
        nets.log_ema = nets.log_ema.to(dtype)
    if native_loop is not None:
        nets.block_samples, nets.use_native = 2, native_loop
    return nets


def _adam_close(p, q, *, lr: float, steps: int) -> None:
    """Equal to float32 rounding, except where Adam amplifies it: an entry whose gradient is ~0
    moves by ±lr·m/sqrt(v) with a sign the last bit decides, so a rounding difference there is a
    step of up to 2·lr (seen: 1 of 40,960 entries of W2ᵀ at lr 1e-3). Such entries must be rare
    and bounded by that step."""
    off = (p - q).abs() > 1e-6 + 1e-5 * q.abs()
    assert off.float().mean() <= 1e-3, f"{int(off.sum())} of {off.numel()} entries differ"
    assert (p - q).abs().max() <= 2 * lr * steps + 1e-6


CASES = [  # (hidden, bias correction): the released output width 10 (the kernel's fixed-H code) and
    # a generic one (4); 20 and 36 first-layer widths are not multiples of the kernel's 16 columns
    ((16, 4), True), ((20, 10), False), ((36, 10), True), ((512, 10), False)]


@needs_kernel
@pytest.mark.parametrize("hidden,bias_correction", CASES)
def test_compiled_loop_equals_python_loop(hidden, bias_correction):
    B, K, n = 5, 30, 8
    ab = torch.randn(2 * B, K, n, generator=torch.Generator().manual_seed(0))
    py = _nets(B, n, hidden, lr=1e-3, bias_correction=bias_correction, native_loop=False)
    cx = _nets(B, n, hidden, lr=1e-3, bias_correction=bias_correction, native_loop=True)
    for _ in range(2):
        dv_py, dv_cx = py.train(ab, 4), cx.train(ab, 4)
        torch.testing.assert_close(dv_cx, dv_py, rtol=1e-5, atol=1e-6)
    for p, q in zip(cx.params + cx.m1 + cx.m2, py.params + py.m1 + py.m2):
        _adam_close(p.detach(), q.detach(), lr=1e-3, steps=8)
    torch.testing.assert_close(cx.log_ema, py.log_ema, equal_nan=True)
    assert [int(s) for s in cx.adam_steps] == [int(s) for s in py.adam_steps] == [8] * 5


@needs_kernel
@pytest.mark.parametrize("lr", [1.5e-5, 1e-2])
def test_compiled_loop_is_as_close_to_float64_as_the_python_loop(lr):
    """Against the same steps in float64 (step() on the whole batch), the compiled loop's error is
    float32 rounding, of the Python loop's size: a wrong constant (1 - 0.999 rounded in float32 is
    off by 1.3e-5 relative) shows here as a 10-100x larger error in every second moment."""
    B, K, n, hidden = 5, 30, 8, (40, 10)
    ab = torch.randn(2 * B, K, n, generator=torch.Generator().manual_seed(0))
    ref = _nets(B, n, hidden, lr=lr, bias_correction=True, native_loop=None, dtype=torch.float64)
    for _ in range(8):
        dv_ref = ref.step(ab.double())
    errs = {}
    for loop in (False, True):
        nets = _nets(B, n, hidden, lr=lr, bias_correction=True, native_loop=loop)
        dv = nets.train(ab, 8)
        errs[loop] = max([(dv.double() - dv_ref).abs().max().item()]
                         + [((p.double() - q).abs().max() / q.abs().max()).item()
                            for p, q in zip(nets.m1 + nets.m2, ref.m1 + ref.m2)])
    assert errs[True] < max(10 * errs[False], 1e-6), errs


@needs_kernel
def test_released_sizes_run_compiled(monkeypatch):
    """At the released sizes (K = 500, m = 128, 512 -> 10) train() takes the compiled loop."""
    kernel = native.block_kernel()
    calls = []

    class Spy:
        def block_steps(self, *args):
            calls.append(args[8])  # steps
            return kernel.block_steps(*args)

    nets = _nets(4, 128, (512, 10), lr=1.5e-5, bias_correction=False, native_loop=True)
    ab = torch.randn(8, 500, 128, generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(native, "block_kernel", lambda: Spy())
    dv = nets.train(ab, 3)
    assert calls == [3, 3] and dv.shape == (4,) and torch.isfinite(dv).all()


def test_off_switch_runs_the_python_loop(monkeypatch):
    monkeypatch.setenv(native.ENV, "0")
    assert native.block_kernel() is None
    nets = _nets(3, 6, (8, 4), lr=1e-3, bias_correction=False, native_loop=True)
    steps = []
    orig = StatNets._block_step
    monkeypatch.setattr(StatNets, "_block_step", lambda self, *a: steps.append(1) or orig(self, *a))
    nets.train(torch.randn(6, 20, 6), 2)
    assert len(steps) == 2 * 2  # two blocks, two steps each, in Python


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    def broken(key):
        raise RuntimeError("Ninja is required to load C++ extensions")

    monkeypatch.setattr(native, "_build", broken)
    monkeypatch.setattr(native, "_built", lambda key: None)  # as on a machine where it never built
    native._load.cache_clear()
    native._warn_once.cache_clear()
    monkeypatch.delenv(native.ENV, raising=False)
    try:
        with pytest.warns(RuntimeWarning, match="Ninja is required.*Python loop runs instead"):
            assert native.block_kernel() is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per process, not at every train()
            assert native.block_kernel() is None
        nets = _nets(3, 6, (8, 4), lr=1e-3, bias_correction=False, native_loop=True)
        assert torch.isfinite(nets.train(torch.randn(6, 20, 6), 2)).all()
        monkeypatch.setenv(native.ENV, "1")  # required: the failure is an error
        with pytest.raises(RuntimeError, match="UAELAB_NATIVE=1 but the compiled StatNets loop did not build"):
            native.block_kernel()
    finally:
        native._load.cache_clear()
        native._warn_once.cache_clear()


def test_mode_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv(native.ENV, "maybe")
    with pytest.raises(ValueError, match="UAELAB_NATIVE='maybe'"):
        native.mode()


def test_build_is_keyed_by_the_cpu(monkeypatch):
    """-march=native: a cache shared between machines must not load another CPU's library."""
    native.build_key.cache_clear()
    try:
        a = native.build_key()
        monkeypatch.setattr(native, "_cpu_signature", lambda: "flags : some other cpu")
        native.build_key.cache_clear()
        assert native.build_key() != a
    finally:
        native.build_key.cache_clear()


def test_the_command_says_which_loop_runs(monkeypatch, capsys):
    """``python -m uaelab.mi.native`` reports the library (exit 0) or why the Python loop runs (1)."""
    monkeypatch.setenv(native.ENV, "0")
    assert native.main() == 1 and "Python loop (switched off)" in capsys.readouterr().out
    monkeypatch.delenv(native.ENV)
    monkeypatch.setattr(native, "_load", lambda key: (None, "RuntimeError: no compiler"))
    assert native.main() == 1
    out = capsys.readouterr().out
    assert "not built: RuntimeError: no compiler" in out and "build key:" in out
