"""StatNets.train spreads its sample blocks over torch's threads: the result must not depend on the
thread count, down to the last bit, for the networks and for a whole attack."""
from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest
import torch

from uaelab.attacks import MinMax, MinMaxSettings
from uaelab.attacks.criteria import reconstruction
from uaelab.mi import native as nat
from uaelab.mi.mine import MineSettings, RandomSampler, StatNets
from uaelab.models import DenseAE

THREADS = (1, 2, 3)


@contextlib.contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(threads: int, B: int = 9, steps: int = 5, native: bool = True):
    gens = [torch.Generator().manual_seed(100 + i) for i in range(B)]
    ab = torch.randn(2 * B, 40, 12, generator=torch.Generator().manual_seed(1))
    with torch_threads(threads):  # the initial draws (reset) are spread over the threads too
        nets = StatNets(12, gens, hidden=(32, 5), lr=1e-2, bias_correction=True)
        nets.block_samples = 2  # 5 blocks: more than any thread count here
        nets.use_native = native
        dvs = [nets.train(ab, steps) for _ in range(2)]
    return nets, dvs


@pytest.mark.parametrize("native", [False, True], ids=["python-loop", "compiled-loop"])
def test_train_is_bit_identical_at_any_thread_count(native):
    """1 thread runs the blocks (and the initial draws) one after the other in this thread (the
    serial path); 2 and 3 run them on a pool; every parameter, Adam moment, EMA and bound is the
    same bits, with the Python block loop and with the compiled one (uaelab/mi/native.py)."""
    if native and nat.block_kernel() is None:
        pytest.skip("the compiled StatNets loop did not build here (no C++ compiler or ninja)")
    runs = {n: _train(n, native=native) for n in THREADS}
    serial, serial_dvs = runs[1]
    assert len(serial._block_wss) == 1  # the serial path: one workspace, this thread's
    for n in THREADS[1:]:
        nets, dvs = runs[n]
        assert len(nets._block_wss) > 1, "the blocks did not run on several threads"
        for a, b in zip(serial_dvs + serial.params + serial.m1 + serial.m2 + [serial.log_ema],
                        dvs + nets.params + nets.m1 + nets.m2 + [nets.log_ema]):
            assert torch.equal(a, b), f"{n} threads changed the result"


def test_train_restores_torch_threads():
    """The pool's workers set torch to one thread each; train() puts the caller's count back."""
    with torch_threads(2):
        _train(2, B=6, steps=1)
        assert torch.get_num_threads() == 2


def test_threaded_blocks_equal_step_by_step():
    """The threaded blocks are the same updates as step() on the whole batch (float orders aside)."""
    B, steps = 7, 4
    gens = lambda: [torch.Generator().manual_seed(11 + i) for i in range(B)]
    blocked, whole = StatNets(8, gens(), hidden=(16, 4), lr=1e-2), StatNets(8, gens(), hidden=(16, 4), lr=1e-2)
    blocked.block_samples = 2
    ab = torch.randn(2 * B, 30, 8, generator=torch.Generator().manual_seed(0))
    with torch_threads(2):
        dv1 = blocked.train(ab, steps)
    for _ in range(steps):
        dv2 = whole.step(ab)
    torch.testing.assert_close(dv1, dv2, rtol=1e-5, atol=1e-6)
    for p, q in zip(blocked.params + blocked.m1 + blocked.m2, whole.params + whole.m1 + whole.m2):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_projection_chunks_drawn_on_threads_are_the_serial_matrix():
    """The sampler draws its projection's chunks (independent seeded streams) on torch's threads:
    the same matrix as the chunks drawn one after the other, at any thread count."""
    mats = {}
    for n in THREADS:
        with torch_threads(n):
            s = RandomSampler(30, K=7, m=4, seed=3)
            s.chunk_bytes = 4 * 30 * 4 * 2  # two of the K rows per chunk: 4 chunks
            assert len(s._spans()) == 4
            mats[n] = s.matrix()
    serial = torch.cat(list(s._chunks()), dim=1)
    for n in THREADS:
        assert torch.equal(mats[n], serial)


@pytest.mark.slow
def test_attack_is_bit_identical_at_any_thread_count():
    """The unsupervised MinMax attack (random sampler on 784 values, blocks of 4 samples, 10
    samples): δ, the MI and the success mask are the same bits at 1, 2 and 3 torch threads."""
    torch.manual_seed(0)
    ae = DenseAE((1, 28, 28), hidden=32).eval()
    x = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    mine = MineSettings(K=48, m=16, steps=4)
    out = {}
    for n in THREADS:
        with torch_threads(n):
            att = MinMax(ae, reconstruction(ae), MinMaxSettings(T=3), mine=mine, seed=0)
            out[n] = att(x, indices=torch.arange(len(x)))
    ref = out[1]
    for n in THREADS[1:]:
        res = out[n]
        assert torch.equal(res.x_adv, ref.x_adv), f"x_adv differs at {n} threads"
        assert torch.equal(res.success, ref.success)
        # NaN where a sample never succeeded: compare the NaN masks and the other values
        assert torch.equal(res.mi_best.isnan(), ref.mi_best.isnan())
        assert torch.equal(res.mi_best.nan_to_num(), ref.mi_best.nan_to_num())
        assert torch.equal(res.history["mi"].nan_to_num(), ref.history["mi"].nan_to_num())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_trains_on_its_own_threads():
    """A child forked after the pool exists inherits the pool object but not its threads; it must
    start its own (without that, its first threaded train() waits forever)."""
    _train(2, B=6, steps=1)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 when its threaded training finishes
        try:
            nets, _ = _train(2, B=6, steps=1)
            os._exit(0 if len(nets._block_wss) > 1 else 3)  # ran on the child's own workers
        finally:
            os._exit(4)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's threaded train() did not finish within 60 s")
