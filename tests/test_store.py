"""Shards, manifest, resume and read-back of uaelab.augment.store, with a fake attack whose per-sample
output is a known function of (seed, dataset index)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from uaelab.augment import store
from uaelab.utils import generator


class FakeAttack:
    """Follows the AttackResult contract; sample i's output depends only on (seed, i, x[i])."""

    def __init__(self, seed: int = 0, fail_after: int | None = None):
        self.seed, self.fail_after, self.calls = seed, fail_after, 0

    @staticmethod
    def expected(seed: int, i: int, xi: torch.Tensor) -> dict:
        g = generator(seed, i)
        noise = torch.rand(xi.shape, generator=g)
        r = torch.rand(3, generator=g)
        return {"x_adv": (0.5 * xi + 0.5 * noise).float(), "success": bool(r[0] < 0.5),
                "mi_best": float(r[1]), "mi_final": float(r[1]) + 1, "c": float(r[2]), "f": float(r[0]) - 0.5}

    def __call__(self, x, y=None, *, indices=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        rows = [self.expected(self.seed, i, xi) for i, xi in zip(indices.tolist(), x)]
        return SimpleNamespace(
            x_adv=torch.stack([r["x_adv"] for r in rows]),
            success=torch.tensor([r["success"] for r in rows]),
            **{k: torch.tensor([r[k] for r in rows]) for k in ("mi_best", "mi_final", "c", "f")},
            history=None,
        )


N = 37
CONFIG = {"method": "fake", "seed": 0, "attack": {"T": 3, "lr": 0.01}}


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(N, 1, 4, 4, generator=g), torch.randint(0, 10, (N,), generator=g)


def run(x, out, **kw):
    kw.setdefault("config", CONFIG)
    kw.setdefault("batch_size", 8)
    kw.setdefault("progress", False)
    return store.generate_to_dir(kw.pop("attack", FakeAttack()), x, out, **kw)


def test_roundtrip_matches_per_sample_values(data, tmp_path):
    x, y = data
    out = run(x, tmp_path / "out", y=y)
    m = json.loads((out / "manifest.json").read_text())
    assert m["complete"] and m["n_samples"] == N and m["torch_version"] == torch.__version__
    assert m["config"] == CONFIG and m["method"] == "fake" and m["sample_shape"] == [1, 4, 4]
    assert [s["count"] for s in m["shards"]] == [8, 8, 8, 8, 5]
    df = store.read_results(out)
    assert df["index"].tolist() == list(range(N))
    idx, x_adv, ok = store.load_adversarial(out)
    for i in (0, 17, 36):
        e = FakeAttack.expected(0, i, x[i])
        assert torch.equal(x_adv[i], e["x_adv"]) and bool(ok[i]) == e["success"]
        assert df.loc[i, "mi_best"] == pytest.approx(e["mi_best"]) and df.loc[i, "c"] == pytest.approx(e["c"])
    assert df["success"].mean() == pytest.approx(m["success_rate"])


def test_resume_after_interruption_equals_uninterrupted(data, tmp_path):
    x, _ = data
    ref = run(x, tmp_path / "ref")
    part = FakeAttack(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        run(x, tmp_path / "res", attack=part)
    assert len(list((tmp_path / "res").glob("shard-*.pt"))) == 2
    assert not json.loads((tmp_path / "res" / "manifest.json").read_text())["complete"]
    with pytest.raises(ValueError, match="missing"):
        store.read_results(tmp_path / "res")
    assert len(store.read_results(tmp_path / "res", allow_partial=True)) == 16
    rest = FakeAttack()
    run(x, tmp_path / "res", attack=rest)
    assert rest.calls == 3  # only the three unfinished shards were computed
    a, b = store.load_adversarial(ref), store.load_adversarial(tmp_path / "res")
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    again = FakeAttack()
    run(x, tmp_path / "res", attack=again)
    assert again.calls == 0  # idempotent


def test_ranks_split_round_robin_and_equal_one_process(data, tmp_path):
    x, _ = data
    ref = run(x, tmp_path / "one")
    out = tmp_path / "two"
    r1 = FakeAttack()
    run(x, out, rank=1, world_size=2, attack=r1)
    assert r1.calls == 2 and not json.loads((out / "manifest.json").read_text())["complete"]
    r0 = FakeAttack()
    run(x, out, rank=0, world_size=2, attack=r0)
    assert r0.calls == 3
    assert json.loads((out / "manifest.json").read_text())["complete"]
    a, b = store.load_adversarial(ref), store.load_adversarial(out)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert store.read_results(ref).equals(store.read_results(out))


def test_shard_plan_is_fixed_by_indices_and_size():
    idx = torch.tensor([0, 5, 7, 8, 9, 20])
    chunks = store.plan_shards(idx, 4)
    assert [c.tolist() for c in chunks] == [[0, 5, 7, 8], [9, 20]]
    assert store.shard_name(chunks[1]) == "shard-000000009-000000020.pt"
    assert [c.tolist() for c in store.rank_shards(chunks * 2, 1, 2)] == [[9, 20], [9, 20]]


def test_mismatched_settings_are_refused_with_the_keys(data, tmp_path):
    x, y = data
    out = run(x, tmp_path / "o", indices=range(10))
    with pytest.raises(ValueError, match=r"attack\.T: 3 on disk, 4 now.*another out_dir \(uaelab generate: --out\)"):
        run(x, out, indices=range(10), config={**CONFIG, "attack": {"T": 4, "lr": 0.01}})
    with pytest.raises(ValueError, match="data_fingerprint"):
        run(x, out, indices=range(10), data_fingerprint="other")
    with pytest.raises(ValueError, match="indices=, or --limit/--indices"):
        run(x, out, indices=range(12))
    with pytest.raises(ValueError, match="shard_size"):
        run(x, out, indices=range(10), batch_size=4)
    run(x, out, indices=range(10))  # the same request is fine
    nan_cfg = {**CONFIG, "sigma": float("nan")}  # NaN settings still count as equal on resume
    run(x, tmp_path / "nan", indices=range(3), config=nan_cfg)
    run(x, tmp_path / "nan", indices=range(3), config=nan_cfg)


def test_bad_output_dirs(data, tmp_path):
    x, _ = data
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        run(x, f)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        run(x, foreign)
    ro = tmp_path / "ro"  # permission bits are honoured even when the tests run as root
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            run(x, ro)
    finally:
        ro.chmod(0o700)


def test_bad_indices(data, tmp_path):
    x, _ = data
    for bad, msg in (([N], "must lie in"), ([1, 1], "duplicates"), ([], "empty"), ([0.5], "integer")):
        with pytest.raises(ValueError, match=msg):
            run(x, tmp_path / "o", indices=bad)


def test_duplicates_and_stale_temp_files(data, tmp_path):
    x, _ = data
    out = run(x, tmp_path / "o", indices=[3, 1, 2, 9])  # unsorted input is sorted
    assert store.read_results(out)["index"].tolist() == [1, 2, 3, 9]
    (out / ".shard-x.pt.tmp-999").write_bytes(b"half")  # a killed writer's leftover
    store.finalize(out)
    assert not list(out.glob(".*tmp*"))
    shard = next(out.glob("shard-*.pt"))
    (out / "shard-000000001-000000001.pt").write_bytes(shard.read_bytes())
    with pytest.raises(ValueError, match="duplicate"):
        store.read_results(out)


def test_augmented_dataset_replicates_failures(data, tmp_path):
    x, y = data
    out = run(x, tmp_path / "o", indices=range(0, N, 2))
    x_aug, y_aug = store.augmented_dataset(x, out, y)
    idx, x_adv, ok = store.load_adversarial(out)
    assert x_aug.shape == (N + idx.numel(), 1, 4, 4) and torch.equal(x_aug[:N], x)
    assert torch.equal(y_aug, torch.cat([y, y[idx]]))
    assert 0 < ok.sum() < ok.numel()  # both cases are exercised
    for j, i in enumerate(idx.tolist()):
        assert torch.equal(x_aug[N + j], x_adv[j] if ok[j] else x[i])
    with pytest.raises(ValueError, match="fingerprint"):
        store.augmented_dataset(x.flip(0), out)
    with pytest.raises(ValueError, match="sample shape"):
        store.augmented_dataset(x.view(N, 16), out)
