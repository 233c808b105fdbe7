"""Contract over every registered training strategy (``affectkit.training.STRATEGIES``).

Each strategy builds from its registry name with its default arguments (a required
``teacher`` gets a tiny model), runs one epoch of a tiny missing-tolerant model through the one
``Trainer`` (the model is chosen by declared capabilities, not by name), leaves the loss finite
and the weights changed, and its ``state()`` is JSON and saved in ``last.json``.
"""

from __future__ import annotations

import inspect
import json

import pytest
import torch

from affectkit.config import TrainerConfig
from affectkit.data.batch import Batch
from affectkit.models import MODELS, create_model
from affectkit.tasks import make_task
from affectkit.training import STRATEGIES, Trainer, make_strategy
from affectkit.types import Modality

T, A, V = Modality.TEXT, Modality.AUDIO, Modality.VISION
DIMS = {T: 6, A: 4, V: 3}
NAMES = STRATEGIES.names()


def fusion_model_name() -> str:
    """A model every strategy can drive: takes any subset and reads presence masks."""
    for n in MODELS.names():
        c = MODELS.get(n)
        if getattr(c, "tolerates_missing", False) and getattr(c, "accepts_presence_masks", False):
            return n
    raise AssertionError("no registered model tolerates missing modalities with presence masks")


MODEL = fusion_model_name()


def tiny_model():
    kw = {"hidden": 16} if "hidden" in inspect.signature(MODELS.get(MODEL).__init__).parameters else {}
    return create_model(MODEL, input_dims=DIMS, n_outputs=1, **kw)


def synthetic(n: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    x = {m: torch.randn(n, 5, d, generator=g) for m, d in DIMS.items()}
    lengths = {m: torch.randint(2, 6, (n,), generator=g) for m in DIMS}
    y = (x[T][:, 0, 0] + 0.5 * x[A][:, 0, 0]).clamp(-3, 3)
    return Batch(x, y, [f"u{seed}/{i}" for i in range(n)], lengths)


def build(name: str):
    """The strategy from its name: default arguments, a tiny teacher where one is required."""
    params = inspect.signature(STRATEGIES.get(name).__init__).parameters
    required = [p for p in params.values() if p.name != "self" and p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    args = {}
    for p in required:
        if p.name == "teacher":
            torch.manual_seed(1)
            args["teacher"] = tiny_model()
        else:
            pytest.fail(f"strategy {name!r}: no default for required argument {p.name!r}; give "
                        "it one or teach this contract how to build it")
    return make_strategy(name, args)


def test_default_is_registered_and_none_is_the_plain_loop():
    assert "default" in NAMES
    assert type(make_strategy(None)).__name__ == "Strategy"


@pytest.mark.parametrize("name", NAMES)
def test_one_epoch_through_the_trainer(name, tmp_path):
    strategy = build(name)
    assert getattr(strategy, "name", None) == name
    train, valid = synthetic(32, 0), synthetic(16, 1)
    torch.manual_seed(0)
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainerConfig(epochs=1, batch_size=8, lr=3e-3, patience=0, progress=False, threads=1)
    res = Trainer(model, make_task("sentiment"), cfg, seed=0, run_dir=tmp_path / name,
                  strategy=strategy,
                  resolved_config={"model": {"name": MODEL}, "trainer": {"strategy": name}}
                  ).fit(train, valid)
    assert len(res.history) == 1 and res.history[0]["train_loss"] == res.history[0]["train_loss"]
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    state = strategy.state()
    assert state["name"] == name
    assert json.loads(json.dumps(state)) == state
    saved = json.loads((tmp_path / name / "last.json").read_text())["strategy"]
    assert saved == state


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_result(name):
    """Strategy draws go through the trainer's per-epoch reseeding: runs are reproducible."""
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = tiny_model()
        cfg = TrainerConfig(epochs=1, batch_size=8, progress=False, threads=1, patience=0)
        Trainer(model, make_task("sentiment"), cfg, seed=3, strategy=build(name)).fit(
            synthetic(24, 0), synthetic(8, 1))
        model.eval()
        with torch.no_grad():
            outs.append(model(synthetic(8, 2).inputs)["score"])
    torch.testing.assert_close(outs[0], outs[1])
