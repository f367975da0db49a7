"""The augmentation pipeline (uaelab.augment) with a closed-form toy task: the "model" is the
training mean, so its test error and the effect of augmentation can be computed by hand."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from uaelab.attacks import attack_config
from uaelab.augment import AugmentSettings, improvement, parse_method, run_augmentation, store
from uaelab.augment import pipeline as augment
from uaelab.augment import task as autoencoder_task
from uaelab.augment.robustness import robust_accuracy
from uaelab.augment.tables import summarize
from uaelab.augment.task import AutoencoderTask, code_digest
from uaelab.experiments.table4_reconstruction import ReconstructionTask
from uaelab.experiments.table5_simclr import contrastive_loss
from uaelab.utils import generator


class MeanModel(torch.nn.Module):
    """Reconstructs every input as the training mean."""

    def __init__(self, mean: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)

    def forward(self, x):
        return self.mean.expand_as(x)


class NoiseAttack:
    """x + σ·N(0, 1) per sample (seeded by the dataset index); success when the error does not grow."""

    def __init__(self, model, sigma: float, seed: int, interrupt_after: int | None = None):
        self.model, self.sigma, self.seed = model, sigma, seed
        self.config = {"sigma": sigma, "seed": seed}
        self.calls = 0
        # raise KeyboardInterrupt on call interrupt_after + 1, like a user stopping the cell (the
        # same class and config as an uninterrupted attack, so it writes to the same folder)
        self.interrupt_after = interrupt_after

    def __call__(self, x, y=None, *, indices=None):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        noise = torch.stack([torch.randn(x.shape[1:], generator=generator(self.seed, int(i))) for i in indices])
        x_adv = (x + self.sigma * noise).clamp(0, 1)
        err = lambda z: (self.model(z) - z).pow(2).flatten(1).mean(1)  # noqa: E731
        f = err(x_adv) - err(x)
        z = torch.zeros(len(x))
        return SimpleNamespace(x_adv=x_adv, success=f <= 0, mi_best=z, mi_final=z, c=z, f=f)


class MeanTask:
    name = "mean"
    metrics = {"error": ("lower", True)}

    def __init__(self):
        self.trained_on: list[int] = []
        self.scales: list[float] = []
        self.attack_factory = None

    def config(self):
        return {"toy": 1}

    def train(self, x, y, seed, epoch_scale=1.0):
        self.trained_on.append(len(x))
        self.scales.append(epoch_scale)
        return MeanModel(x.mean(0))

    def evaluate(self, model, data):
        return {"error": float((model(data.x_test) - data.x_test).pow(2).mean())}

    def make_attack(self, method, model, seed):
        if self.attack_factory is not None:
            return self.attack_factory(model, method.overrides["sigma"], seed)
        return NoiseAttack(model, method.overrides["sigma"], seed)


def toy_data(n=60, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g) * 0.5 + 0.25
    xt = torch.rand(40, d, generator=g) * 0.5 + 0.25
    return SimpleNamespace(x_train=x, y_train=None, x_test=xt, fingerprint=lambda: f"toy{n}-{d}-{seed}")


def test_parse_method_and_errors():
    assert parse_method("ga:0.010").label == "GA (σ=0.01)"
    assert parse_method("GA:1e-3").overrides == {"sigma": 0.001}
    assert parse_method("mine-uae").attack == "mine-uae" and not parse_method("mine-uae").random
    for bad in ("ga:0", "ga:-1", "pgd", "ga:abc"):
        with pytest.raises(ValueError):
            parse_method(bad)
    with pytest.raises(ValueError, match="seeds"):
        AugmentSettings.from_dict({"seeds": ()})
    with pytest.raises(ValueError, match="budget"):
        AugmentSettings.from_dict({"budget": "time"})


def test_improvement_sign_convention():
    # Table 4, sparse MNIST: 0.00561 -> 0.00243 is "↑ 56.7%"; dense L2-UAE 0.00258 -> 0.00286 is "↓ 10.9%"
    assert improvement(0.00561, 0.00243) == pytest.approx(0.5668, abs=1e-4)
    assert improvement(0.00258, 0.00286) < 0
    # accuracies: a difference of fractions, higher is better (Table 5's "+1.58%")
    assert improvement(0.9130, 0.9288, better="higher", relative=False) == pytest.approx(0.0158)
    assert improvement(0.5, 0.4, better="higher", relative=False) == pytest.approx(-0.1)
    assert math.isinf(improvement(0.0, 1.0))


def test_pipeline_replication_rule_and_asr(tmp_cache):
    data, task = toy_data(), MeanTask()
    s = AugmentSettings(methods=("original", "ga:0.05", "duplicate"), seeds=(0, 1), batch_size=16)
    rows = run_augmentation(task, data, settings=s, progress=False)
    assert [r["key"] for r in rows] == ["original", "ga:0.05", "ga:0.05", "duplicate"]
    # closed form: the attack on the mean model succeeds iff the noisy sample is no farther from the mean
    mean = data.x_train.mean(0)
    for r in rows[1:3]:
        att = NoiseAttack(MeanModel(mean), 0.05, augment.derive_seed(r["seed"], "ga:0.05"))
        res = att(data.x_train, indices=torch.arange(len(data.x_train)))
        assert r["asr"] == pytest.approx(float(res.success.float().mean()))
        # retrained on original + (UAE or the original itself where the attack failed)
        x_aug = torch.cat([data.x_train, torch.where(res.success[:, None], res.x_adv, data.x_train)])
        want = float((x_aug.mean(0) - data.x_test).pow(2).mean())
        assert r["error"] == pytest.approx(want, rel=1e-6)
        assert r["n_train"] == 2 * len(data.x_train)
    # duplicating every sample leaves the mean, hence the error, unchanged
    assert rows[3]["error"] == pytest.approx(rows[0]["error"], rel=1e-6) and rows[3]["asr"] == 0
    summary = summarize(rows, task.metrics)
    ga = summary.loc[("mean", "GA (σ=0.05)")]
    assert ga["runs"] == 2 and ga["error_std"] > 0
    ga_mean = (rows[1]["error"] + rows[2]["error"]) / 2
    assert ga["error_improvement"] == pytest.approx(improvement(rows[0]["error"], ga_mean))
    # cached: a second call trains nothing
    n_trainings = len(task.trained_on)
    run_augmentation(task, data, settings=s, progress=False)
    assert len(task.trained_on) == n_trainings


def test_budget_steps_scales_epochs(tmp_cache):
    data, task = toy_data(), MeanTask()
    run_augmentation(task, data, settings=AugmentSettings(methods=("original", "duplicate"), seeds=(0,),
                                                          budget="steps"), progress=False)
    assert task.scales == [1.0, 0.5]  # original, then the doubled set with half the epochs


def test_interrupted_generation_resumes_without_loss_or_duplicates(tmp_cache):
    data, method = toy_data(n=100), parse_method("ga:0.05")
    s = AugmentSettings(batch_size=10)
    model = MeanModel(data.x_train.mean(0))
    task = MeanTask()
    task.attack_factory = lambda m, sigma, seed: NoiseAttack(m, sigma, seed, interrupt_after=4)
    with pytest.raises(KeyboardInterrupt):
        augment.generate(task, model, data.x_train, method, 0, s, data.fingerprint(), progress=False)
    attack_cfg = attack_config(NoiseAttack(model, 0.05, augment.derive_seed(0, "ga:0.05")), weights=True)
    out_dir = augment.uae_dir(task, data.fingerprint(), method, 0, attack_cfg)
    partial = store.read_results(out_dir, allow_partial=True)
    assert partial["index"].tolist() == list(range(40))  # 4 batches done, nothing half-written
    # rerun: only the missing 6 batches are computed
    calls = []
    task.attack_factory = lambda m, sigma, seed: calls.append(NoiseAttack(m, sigma, seed)) or calls[-1]
    out2, x_adv, ok = augment.generate(task, model, data.x_train, method, 0, s, data.fingerprint(), progress=False)
    assert out2 == out_dir and calls[0].calls == 6
    res = store.read_results(out_dir)
    assert res["index"].tolist() == list(range(100))  # none lost, none twice
    # identical to an uninterrupted run
    ref = NoiseAttack(model, 0.05, augment.derive_seed(0, "ga:0.05"))(data.x_train, indices=torch.arange(100))
    assert torch.equal(x_adv, ref.x_adv) and torch.equal(ok, ref.success)


def test_progress_bar_for_large_sets(tmp_cache, capsys):
    data, method = toy_data(n=1200, d=3), parse_method("ga:0.01")
    model = MeanModel(data.x_train.mean(0))
    augment.generate(MeanTask(), model, data.x_train, method, 0, AugmentSettings(batch_size=200),
                     data.fingerprint(), progress=True)
    err = capsys.readouterr().err
    assert "1200/1200" in err and "generate" in err


def test_interrupted_retraining_resumes_to_the_same_row(tmp_cache, monkeypatch, tmp_path):
    from uaelab.data import load_dataset
    from uaelab.experiments.table4_reconstruction import ReconstructionTask
    from uaelab.models import DenseAE

    data = load_dataset("digits", limit=300)
    task = ReconstructionTask("dense", "quick", epochs=4)
    settings = AugmentSettings.from_dict({"seeds": (0,)})
    method = parse_method("duplicate")
    augment.original_model(task, data, 0)  # trained and cached first: only the retraining is cut

    calls, forward = {"n": 0}, DenseAE.forward

    def flaky(self, x):
        calls["n"] += 1
        if calls["n"] == 25:  # 600 samples, batch 32 (19 steps an epoch): in epoch 2 of the retraining
            raise KeyboardInterrupt
        return forward(self, x)

    monkeypatch.setattr(DenseAE, "forward", flaky)
    with pytest.raises(KeyboardInterrupt):
        augment.run_method(task, data, method, 0, settings, progress=False)
    monkeypatch.setattr(DenseAE, "forward", forward)
    states = list((tmp_cache / "train-state").glob("augment-row-*.state"))
    assert len(states) == 1  # the epoch-1 state of the interrupted retraining

    def counted(self, x):
        calls["n"] += 1
        return forward(self, x)

    monkeypatch.setattr(DenseAE, "forward", counted)
    calls["n"] = 0
    row = augment.run_method(task, data, method, 0, settings, progress=False)
    resumed_calls = calls["n"]
    assert not list((tmp_cache / "train-state").glob("*.state"))  # removed once trained

    monkeypatch.setenv("UAELAB_CACHE", str(tmp_path / "uninterrupted"))
    augment.original_model(task, data, 0)
    calls["n"] = 0
    ref = augment.run_method(task, data, method, 0, settings, progress=False)
    steps_per_epoch = math.ceil(2 * len(data.x_train) / task.train_settings().batch_size)
    assert resumed_calls == calls["n"] - steps_per_epoch  # the resumed run skipped the finished epoch
    assert row["error"] == ref["error"] and row["train_error"] == ref["train_error"]


def test_evaluations_restore_the_models_mode():
    """Evaluating (test error, PGD robustness, probe features) leaves a model in the train/eval
    mode it came in, so a caller that goes on training it still trains (dropout, batch norm)."""
    data = SimpleNamespace(x_train=torch.rand(6, 1, 4, 4), x_test=torch.rand(5, 1, 4, 4))
    ae = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 16), torch.nn.Dropout(0.1),
                             torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 4, 4)))
    for training in (True, False):
        ae.train(training)
        ReconstructionTask("dense", "quick", pgd_eps=0.05, pgd_steps=1).evaluate(ae, data)
        assert ae.training is training
        clf = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).train(training)
        robust_accuracy(clf, data.x_test, torch.zeros(5, dtype=torch.long), eps=0.05, steps=1)
        assert clf.training is training
        contrastive_loss(clf, data.x_test, batch_size=5)
        assert clf.training is training


# -- AutoencoderTask: a user's own autoencoder class -----------------------------------------
class ShapeAE(torch.nn.Module):
    """A user's autoencoder: records the shape it was built for."""

    built_for: list = []

    def __init__(self, shape, hidden=4):
        super().__init__()
        ShapeAE.built_for.append(shape)
        d = math.prod(shape)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, d), torch.nn.Sigmoid(), torch.nn.Unflatten(1, shape))

    def forward(self, x):
        return self.net(x)


def _ae_task(**kw):
    from uaelab.models.train import TrainSettings

    kw.setdefault("train_settings", TrainSettings(epochs=2, batch_size=16))
    return AutoencoderTask("shape-ae", ShapeAE, **kw)


def test_autoencoder_task_derives_shape_seed_and_loss():
    ShapeAE.built_for.clear()
    task = _ae_task()
    images, table = torch.rand(40, 1, 4, 4), torch.rand(40, 5)
    a = task.train(images, None, seed=3)
    b = task.train(images, torch.zeros(40, dtype=torch.long), seed=3)  # labels are ignored: the target is x
    c = task.train(table, None, seed=4)
    assert ShapeAE.built_for == [(1, 4, 4), (1, 4, 4), (5,)]  # the shape comes from the data
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    d = task.train(images, None, seed=4)
    assert not torch.equal(a.net[1].weight, d.net[1].weight)  # the seed reaches the initialisation
    assert c(table).shape == table.shape and not a.training  # trained, left in eval mode
    got = task.evaluate(a, SimpleNamespace(x_train=images, x_test=images[:10]))
    with torch.no_grad():
        assert got["error"] == pytest.approx(float((a(images[:10]) - images[:10]).pow(2).mean()))
    assert list(got) == list(task.metrics)


def test_autoencoder_task_epoch_scale_and_resume(tmp_path, monkeypatch):
    seen = []
    real_fit = autoencoder_task.fit
    monkeypatch.setattr(autoencoder_task, "fit", lambda m, x, settings, **kw: seen.append((settings, kw)) or real_fit(
        m, x, settings=settings, **kw))
    task = _ae_task()
    task.train(torch.rand(20, 3), None, seed=1, epoch_scale=0.5, state_path=tmp_path / "s.state")
    (s, kw), = seen
    assert s.epochs == 1 and s.seed == 1 and s.loss == "mse" and kw["state_path"] == tmp_path / "s.state"
    assert (tmp_path / "s.state").exists()  # resumable: fit wrote its state


def test_autoencoder_task_attack_and_config():
    from uaelab.attacks import Gaussian, MinMax, NoMI

    task = _ae_task(attack_overrides=("minmax.T=3", "mine.steps=2", "l2uae.T=4"))
    ae = ShapeAE((4,))
    att = task.make_attack(parse_method("mine-uae"), ae, seed=0)
    assert isinstance(att, MinMax) and att.settings.T == 3 and att.mine_settings.steps == 2
    assert att.settings.c0 == 1e-3  # the reference_code preset, as Tables 4 and 6
    assert isinstance(task.make_attack(parse_method("no-mi"), ae, 0), NoMI)
    l2 = task.make_attack(parse_method("l2-uae"), ae, 0)
    assert l2.settings.T == 4 and l2.mine_settings.steps == 2  # each attack takes its own component's values
    # a method's own values win over the task's: start-only stays the random start (T=1), closed-form exact
    assert task.make_attack(parse_method("start-only"), ae, 0).settings.T == 1
    closed = _ae_task(attack_overrides=("mine.estimator=mine",)).make_attack(parse_method("closed-form"), ae, 0)
    assert closed.mine_settings.estimator == "closed-form"
    ga = task.make_attack(parse_method("ga:0.01"), ae, 0)
    assert isinstance(ga, Gaussian) and ga.settings.sigma == 0.01
    res = att(torch.rand(3, 4))
    assert res.x_adv.shape == (3, 4)  # the reconstruction criterion, inferred for the autoencoder
    cfg = task.config()
    assert cfg["model"].endswith("ShapeAE") and cfg["preset"] == "reference_code" and cfg["profile"] == "quick"
    assert _ae_task(model_kwargs={"hidden": 8}).config() != _ae_task().config()
    assert _ae_task().config() == task.config() | {"attack_overrides": []}

    class Scored(AutoencoderTask):  # a subclass's own code changes the rows: it keys them
        def evaluate(self, model, data):
            return {**super().evaluate(model, data), "extra": 1.0}

    sub = Scored("shape-ae", ShapeAE, train_settings=task.train_settings).config()
    assert sub != _ae_task().config() and {k: v for k, v in sub.items() if k != "task"} == {
        k: v for k, v in _ae_task().config().items() if k != "task"}


def _define(source: str, filename: str):
    ns: dict = {"torch": torch, "__name__": "user_notebook"}
    exec(compile(source, filename, "exec"), ns)
    return ns["AE"]


AE_SOURCE = '''
class AE(torch.nn.Module):
    SCALE = 1.0

    def __init__(self, shape):
        super().__init__()
        self.lin = torch.nn.Linear(shape[0], shape[0])

    def forward(self, x):
        return torch.sigmoid(self.lin(x) * {scale})
'''


def test_code_digest_follows_the_code_not_the_file():
    base = code_digest(_define(AE_SOURCE.format(scale=1), "<cell 1>"))
    # the same class again, in another cell further down: same key (a notebook's cache survives)
    assert code_digest(_define("\n\n\n" + AE_SOURCE.format(scale=1), "<cell 7>")) == base
    # an edited forward, or an edited class attribute: another key (never a stale cached model)
    assert code_digest(_define(AE_SOURCE.format(scale=2), "<cell 1>")) != base
    assert code_digest(_define(AE_SOURCE.format(scale=1).replace("1.0", "2.0"), "<cell 1>")) != base


def test_autoencoder_task_refuses_what_cannot_work():
    with pytest.raises(ValueError, match="the class, not an instance"):
        AutoencoderTask("x", ShapeAE((3,)))
    with pytest.raises(ValueError, match="cache folders"):
        AutoencoderTask("my model/1", ShapeAE)
    with pytest.raises(ValueError, match="TrainSettings"):
        AutoencoderTask("x", ShapeAE, train_settings={"epochs": 2})
    with pytest.raises(ValueError, match="preset"):
        AutoencoderTask("x", ShapeAE, preset="released")
    with pytest.raises(ValueError, match="Did you mean 'minmax'"):  # a typo never applies to nothing
        AutoencoderTask("x", ShapeAE, attack_overrides=("minmx.T=3",))
    with pytest.raises(ValueError, match="'TT'"):
        AutoencoderTask("x", ShapeAE, attack_overrides=("minmax.TT=3",))

    class Encoder(ShapeAE):
        def forward(self, x):
            return self.net[:3](x)  # the code only: not an autoencoder

    with pytest.raises(ValueError, match="must return its input's shape"):
        AutoencoderTask("x", Encoder).train(torch.rand(8, 6), None, seed=0)


def test_run_augmentation_takes_settings_fields(tmp_cache):
    data, task = toy_data(), MeanTask()
    rows = run_augmentation(task, data, methods=("original", "duplicate"), retrain_seeds=(0, 1), progress=False)
    assert [(r["key"], r["retrain_seed"]) for r in rows] == [("original", 0), ("original", 1), ("duplicate", 0),
                                                            ("duplicate", 1)]
    same = run_augmentation(task, data, settings=AugmentSettings(methods=("original", "duplicate"),
                                                                 retrain_seeds=(0, 1)), progress=False)
    assert [r["error"] for r in same] == [r["error"] for r in rows]
    with pytest.raises(ValueError, match="retrain_seeds"):
        run_augmentation(task, data, retrain_seed=(0, 1))  # misspelt: raises, never ignored
