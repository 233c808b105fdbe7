"""Config round-trip, tasks, the Trainer (seeds, early stop, checkpoints, resume, hooks)."""

import json

import numpy as np
import pytest
import torch

from affectkit.config import (
    ExperimentConfig, TrainerConfig, dump_config, from_dict, load_config, parse_overrides, to_dict,
)
from affectkit.errors import ConfigError
from affectkit.models import create_model
from affectkit.tasks import make_task
from affectkit.training import ModalityDropout, Strategy, TensorData, Trainer
from affectkit.types import Modality

T, A = Modality.TEXT, Modality.AUDIO


# --- config ----------------------------------------------------------------------------------

CFG = """
name: toy
data: {corpus: ravdess, split: kfold, folds: 6, label: emotion}
features: {audio: audio.logmel}
model: {name: voice.mscnn, args: {channels: 16}}
task: {kind: emotion, key_metric: ua}
trainer: {epochs: 3, lr: 1e-3}
seed: 4
"""


def test_config_roundtrip(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(CFG)
    cfg = load_config(p)
    assert cfg.trainer.lr == pytest.approx(1e-3)  # YAML reads 1e-3 as a string: coerced
    assert cfg.data.folds == 6 and cfg.model.args == {"channels": 16}
    p2 = tmp_path / "resolved.yaml"
    dump_config(cfg, p2)
    again = load_config(p2)
    assert to_dict(again) == to_dict(cfg)
    assert to_dict(again)["trainer"]["patience"] == TrainerConfig().patience  # defaults resolved


def test_config_unknown_key_names_key_and_allowed(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(CFG.replace("lr: 1e-3", "lrr: 1e-3"))
    with pytest.raises(ConfigError, match=r"trainer: unknown key 'lrr' \(did you mean 'lr'\?\); "
                                          r"allowed keys: epochs, batch_size, lr"):
        load_config(p)
    with pytest.raises(ConfigError, match="data.split='random'; allowed: official, loso"):
        from_dict(ExperimentConfig, {"data": {"corpus": "x", "split": "random"},
                                     "model": {"name": "mlp"}}).validate()
    with pytest.raises(ConfigError, match="trainer.epochs: expected an integer"):
        from_dict(ExperimentConfig, {"trainer": {"epochs": "many"}})


def test_overrides():
    o = parse_overrides(["trainer.lr=0.01", "seed=3", "model.args.hidden=64"])
    assert o == {"trainer": {"lr": 0.01}, "seed": 3, "model": {"args": {"hidden": 64}}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["oops"])


# --- tasks -----------------------------------------------------------------------------------


def test_tasks_losses_and_keys():
    emo = make_task("emotion", ["a", "b", "c"], class_weights=True)
    emo.fit_train(np.array([0, 0, 0, 1, 2, 2]))
    assert emo.weights[1] > emo.weights[0]  # rarer class weighs more
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0]])
    assert float(emo.loss({"logits": logits}, torch.tensor([0, 1]))) < 0.05
    assert emo.greater_is_better and emo.key_metric == "ua"
    sen = make_task("sentiment")
    assert not sen.greater_is_better and sen.better(0.5, 0.7)
    out = {"score": torch.tensor([1.0, -1.0])}
    assert float(sen.loss(out, torch.tensor([0.0, -1.0]))) == pytest.approx(0.5)
    dim = make_task("dimensional", ["valence", "arousal"])
    y = torch.randn(50, 2)
    assert float(dim.loss({"logits": y.clone()}, y)) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ConfigError, match="not a emotion metric"):
        make_task("emotion", ["a", "b"], key_metric="mae")


# --- trainer ---------------------------------------------------------------------------------


def toy(n=240, seed=0, d=8, k=3):
    """Separable-ish 3-class data with text and audio vectors."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centers = torch.randn(k, d, generator=g) * 2
    xt = centers[y] + torch.randn(n, d, generator=g)
    xa = torch.randn(n, 4, generator=g)
    return TensorData({T: xt, A: xa}, y, [f"u{i}" for i in range(n)])


def fit(tmp_path=None, seed=0, epochs=6, strategy=None, **kw):
    data = toy()
    tr, va = data.take(range(0, 180)), data.take(range(180, 240))
    model_seed = torch.manual_seed(seed)  # noqa: F841  (init depends on the seed too)
    model = create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=16)
    cfg = TrainerConfig(epochs=epochs, batch_size=32, lr=1e-2, patience=kw.pop("patience", 0),
                        progress=False)
    trainer = Trainer(model, make_task("emotion", ["a", "b", "c"]), cfg, seed=seed,
                      run_dir=tmp_path, strategy=strategy,
                      resolved_config={"x": 1, "seed": seed, "epochs": epochs}, **kw)
    res = trainer.fit(tr, va)
    return trainer, res, va


def test_trainer_learns_and_is_deterministic():
    t1, r1, va = fit(seed=1)
    assert r1.best_valid["ua"] > 0.8
    _, r2, _ = fit(seed=1)
    assert r1.history == r2.history
    _, r3, _ = fit(seed=2)
    assert r3.history != r1.history


def test_checkpoints_and_resume(tmp_path):
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    t_full, r_full, va = fit(full_dir, seed=3, epochs=6)
    for f in ("model.safetensors", "config.json", "metrics.json", "task.json", "last.safetensors"):
        assert (full_dir / f).exists(), f
    assert json.loads((full_dir / "config.json").read_text()) == {"x": 1, "seed": 3, "epochs": 6}
    m = json.loads((full_dir / "metrics.json").read_text())
    assert m["best_epoch"] == r_full.best_epoch and len(m["history"]) == 6

    class Interrupt(Strategy):
        def on_epoch_start(self, trainer, epoch):
            if epoch == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cut_dir, seed=3, epochs=6, strategy=Interrupt())
    assert json.loads((cut_dir / "last.json").read_text())["next_epoch"] == 3
    t_res, r_res, _ = fit(cut_dir, seed=3, epochs=6)
    assert r_res.resumed_from == 3
    assert r_res.history == r_full.history  # resumed run == uninterrupted run
    for k, v in t_full.model.state_dict().items():
        torch.testing.assert_close(v, t_res.model.state_dict()[k])
    # the saved best weights reload into a fresh model and give the same predictions
    fresh = create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=16)
    t2 = Trainer(fresh, make_task("emotion", ["a", "b", "c"]), TrainerConfig(progress=False))
    t2.load_weights(full_dir / "model.safetensors")
    np.testing.assert_array_equal(t2.predict(va), t_full.predict(va))
    with pytest.raises(ConfigError, match="different configuration"):
        fit(cut_dir, seed=4, epochs=6)  # the seed is part of the resolved config
    with pytest.raises(ConfigError, match="different configuration"):
        fit(cut_dir, seed=3, epochs=7)


def test_early_stopping_and_hooks():
    calls = []

    class Spy(Strategy):
        def on_fit_start(self, trainer):
            calls.append("start")

        def on_epoch_start(self, trainer, epoch):
            calls.append(epoch)

        def param_groups(self, trainer, groups):
            calls.append(("groups", sum(len(g["params"]) for g in groups)))
            return groups

        def loss(self, trainer, model, batch, outputs):
            # a strategy can add terms (e.g. distillation); here a huge L2 pull that ruins fit
            l2 = sum((p ** 2).sum() for p in model.parameters())
            return trainer.task.loss(outputs, batch.target) + 10.0 * l2

    _, res, _ = fit(seed=0, epochs=40, strategy=Spy(), patience=2)
    assert calls[0] == ("groups", 6)  # in_norm w/b, body w/b, head w/b
    assert calls[1] == "start" and calls[2] == 0
    assert res.stopped_early and len(res.history) < 40
    assert res.best_epoch == len(res.history) - 3  # stopped 2 epochs after the best


def test_modality_dropout_needs_tolerant_model():
    with pytest.raises(ConfigError, match="tolerates missing"):
        fit(seed=0, epochs=1, strategy=ModalityDropout(0.5))


def test_param_groups_by_name():
    m = create_model("mlp", input_dims={T: 8}, n_outputs=2, hidden=8)
    groups = m.param_groups(lr=1e-3, weight_decay=0.1)
    no_decay = {n for g in groups if g["weight_decay"] == 0 for n in g["names"]}
    assert "in_norm.weight" in no_decay and "head.bias" in no_decay
    assert "head.weight" not in no_decay
    with pytest.raises(ConfigError, match="unknown argument 'hiden'; allowed: hidden"):
        create_model("mlp", input_dims={T: 8}, n_outputs=2, hiden=8)


@pytest.mark.parametrize("name", ["sk.logreg", "sk.svm", "sk.majority"])
def test_sklearn_baselines_select_on_valid(name):
    data = toy()
    tr, va = data.take(range(0, 180)), data.take(range(180, 240))
    model = create_model(name, input_dims={T: 8, A: 4}, n_outputs=3)
    trainer = Trainer(model, make_task("emotion", ["a", "b", "c"]), TrainerConfig(progress=False))
    res = trainer.fit(tr, va)
    if name == "sk.majority":
        assert res.best_valid["wa"] == pytest.approx(1 / 3)
    else:
        assert res.best_valid["ua"] > 0.8
        assert len(res.best_valid["selection"]["tried"]) == len(model.grid)


def test_zero_epochs_scores_the_model_as_given(tmp_path):
    data = toy()
    tr, va = data.take(range(0, 180)), data.take(range(180, 240))
    model = create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=16)
    for p in model.parameters():  # a fully frozen (pretrained) model
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, make_task("emotion", ["a", "b", "c"]),
                      TrainerConfig(epochs=0, progress=False), run_dir=tmp_path)
    res = trainer.fit(tr, va)
    assert res.best_epoch == -1 and res.history == []
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert (tmp_path / "model.safetensors").exists()


def test_bf16_precision_trains_with_float32_outputs_and_is_validated():
    data = toy()
    tr, va = data.take(range(0, 180)), data.take(range(180, 240))
    torch.manual_seed(0)
    model = create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=16)
    cfg = TrainerConfig(epochs=6, batch_size=32, lr=1e-2, patience=0, progress=False,
                        precision="bf16")
    trainer = Trainer(model, make_task("emotion", ["a", "b", "c"]), cfg, seed=0)
    calls = []
    real = torch.autocast

    def spy(*a, **k):  # the forward passes really run under bf16 autocast
        calls.append(k.get("dtype"))
        return real(*a, **k)

    torch_autocast = torch.autocast
    try:
        torch.autocast = spy
        res = trainer.fit(tr, va)
    finally:
        torch.autocast = torch_autocast
    assert calls and set(calls) == {torch.bfloat16}
    assert res.best_valid["ua"] > 0.8
    assert trainer.forward_all(va)["logits"].dtype == torch.float32
    with pytest.raises(ConfigError, match="trainer.precision"):
        from_dict(ExperimentConfig, {"model": {"name": "mlp"}, "data": {"corpus": "meld"},
                                     "trainer": {"precision": "fp16"}},
                  "cfg").validate()
