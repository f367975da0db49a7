"""``uaelab generate`` end to end with the real attack on the embedded digits: bad input, resume
after SIGKILL (bit for bit), and 2 processes under torchrun == 1 process."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO
from uaelab.augment import store
from uaelab.augment.generation import parse_indices
from uaelab.cli import main as cli_main
from uaelab.models import checkpoint

# Tiny, fast settings: the test checks plumbing and determinism, not attack quality.
FAST = ["--set", "minmax.T=3", "--set", "mine.steps=2", "--set", "mine.K=8", "--set", "mine.m=8"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A small dense autoencoder for the 8×8 digits, briefly trained, saved as a uaelab checkpoint."""
    from uaelab.data import load_dataset
    from uaelab.models import DenseAE

    data = load_dataset("digits")
    torch.manual_seed(0)
    model = DenseAE((1, 8, 8), hidden=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(data.x_train), data.x_train).backward()
        opt.step()
    path = tmp_path_factory.mktemp("ckpt") / "dense.pt"
    checkpoint.save(path, model, kind="dense", settings={"steps": 60}, in_shape=(1, 8, 8),
                    data_fingerprint=data.fingerprint())
    return path


def args(ckpt, out, *extra):
    return ["generate", "--data", "digits", "--split", "train", "--checkpoint", str(ckpt), "--method", "mine-uae",
            "--profile", "quick", "--out", str(out), "--device", "cpu", "--batch-size", "8", "--seed", "3",
            "--no-progress", *FAST, *extra]


def env1():
    """One thread per process, so the 1- and 2-process runs do the same floating-point work."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def run_one_thread(argv):
    """The CLI in this process with one thread, like the subprocesses (OMP_NUM_THREADS=1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return cli_main(argv)
    finally:
        torch.set_num_threads(before)


def test_parse_indices():
    assert parse_indices("0,5,7-9") == [0, 5, 7, 8, 9]
    for bad in ("a", "3-1", "-2", "1,,2"):
        with pytest.raises(ValueError, match="--indices"):
            parse_indices(bad)


def test_bad_input_gives_one_clear_line(ckpt, tmp_path, capsys):
    from uaelab.models import DenseAE

    def err(argv):
        assert cli_main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("uaelab generate: error:")
        return lines[0]

    assert "no checkpoint at" in err(args(tmp_path / "missing.pt", tmp_path / "o"))
    other = tmp_path / "mnist-shaped.pt"
    checkpoint.save(other, DenseAE((1, 28, 28)), kind="dense", settings={}, in_shape=(1, 28, 28),
                    data_fingerprint="x")
    assert "input shape" in err(args(other, tmp_path / "o"))
    (tmp_path / "file").write_text("")
    assert "is a file" in err(args(ckpt, tmp_path / "file"))
    assert "no setting 'Tx'" in err(args(ckpt, tmp_path / "o", "--set", "minmax.Tx=3"))
    assert "unknown settings component" in err(args(ckpt, tmp_path / "o", "--set", "nosuch.T=3"))
    out = tmp_path / "run"
    assert cli_main(args(ckpt, out, "--limit", "8")) == 0
    capsys.readouterr()
    msg = err(args(ckpt, out, "--limit", "8", "--set", "minmax.T=2"))
    assert "different settings" in msg and "T" in msg and "--out" in msg


def test_indices_option_and_results(ckpt, tmp_path):
    out = tmp_path / "o"
    assert cli_main(args(ckpt, out, "--indices", "3,10-14")) == 0
    df = store.read_results(out)
    assert df["index"].tolist() == [3, 10, 11, 12, 13, 14]
    m = store.read_manifest(out)
    assert m["method"] == "mine-uae" and m["complete"]
    assert m["config"]["attack"]["settings"]["T"] == 3 and m["config"]["attack"]["class"] == "MinMax"
    assert m["torch_version"] == torch.__version__ and m["checkpoint_fingerprint"]
    assert df["success"].mean() == pytest.approx(m["success_rate"])


def _launch(argv, extra_env=None):
    return subprocess.Popen([sys.executable, "-m", "uaelab", *argv], cwd=REPO, env={**env1(), **(extra_env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _shards(out):
    return len(list(out.glob("shard-*.pt"))) if out.is_dir() else 0


@pytest.mark.slow
def test_sigkill_three_times_then_finish_equals_uninterrupted(ckpt, tmp_path):
    n, bs = 96, 8  # 12 shards
    ref, res = tmp_path / "ref", tmp_path / "res"
    assert run_one_thread(args(ckpt, ref, "--limit", str(n))) == 0
    rng = random.Random(7)
    targets = sorted(rng.sample(range(1, n // bs - 1), 3))  # kill after this many shards exist
    for target in targets:
        proc = _launch(args(ckpt, res, "--limit", str(n)))
        deadline = time.monotonic() + 60
        while _shards(res) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert 0 < _shards(res) < n // bs
    assert not store.read_manifest(res)["complete"]
    assert run_one_thread(args(ckpt, res, "--limit", str(n))) == 0  # finish (in this process: no start-up)
    a, b = store.load_adversarial(ref), store.load_adversarial(res)
    assert torch.equal(a[0], torch.arange(n))  # every index once, none missing
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert store.read_results(ref).equals(store.read_results(res))


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(ckpt, tmp_path):
    n = 40  # 5 shards: rank 0 takes 3, rank 1 takes 2
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_one_thread(args(ckpt, one, "--limit", str(n))) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(29400 + os.getpid() % 500), "-m", "uaelab", *args(ckpt, two, "--limit", str(n))]
    p2 = subprocess.run(cmd, cwd=REPO, env=env1(), capture_output=True, timeout=180)
    assert p2.returncode == 0, p2.stderr.decode()[-3000:]
    m = store.read_manifest(two)
    assert m["complete"] and len(m["shards"]) == 5
    a, b = store.load_adversarial(one), store.load_adversarial(two)
    assert torch.equal(b[0], torch.arange(n))
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert store.read_results(one).equals(store.read_results(two))
    assert json.loads((one / "manifest.json").read_text())["config"] == m["config"]
