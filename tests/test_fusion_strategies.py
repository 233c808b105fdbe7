"""Missing-modality strategies (random_missing, corrkd) as hooks of the one Trainer."""

from __future__ import annotations

import json

import pytest
import torch

from affectkit.config import TrainerConfig
from affectkit.errors import ConfigError
from affectkit.models import create_model
from affectkit.training.strategies.corrkd import CorrKD
from affectkit.training.strategies.random_missing import (RandomMissing, incomplete_patterns,
                                                         with_masks)
from affectkit.tasks import make_task
from affectkit.training import STRATEGIES, TensorData, Trainer
from affectkit.types import Modality

T, A, V = Modality.TEXT, Modality.AUDIO, Modality.VISION
DIMS = {T: 6, A: 4, V: 3}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def synthetic(n: int = 48, L: int = 5, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    x = {m: torch.randn(n, L, d, generator=g) for m, d in DIMS.items()}
    lengths = {m: torch.randint(2, L + 1, (n,), generator=g) for m in DIMS}
    y = (x[T][:, 0, 0] + 0.5 * x[A][:, 0, 0] + 0.5 * x[V][:, 0, 0]).clamp(-3, 3)
    return TensorData(x, y, [f"u{i}" for i in range(n)], lengths)


def cfg(**kw):
    base = dict(epochs=3, batch_size=16, lr=3e-3, patience=0, progress=False, threads=1)
    return TrainerConfig(**(base | kw))


def test_registered():
    assert "random_missing" in STRATEGIES and "corrkd" in STRATEGIES


def test_random_missing_patterns_and_frames():
    torch.manual_seed(0)
    data = synthetic(200)
    out = RandomMissing(p_full=0.0, frame_drop=0.5).sample(data)
    assert out.inputs[T] is data.inputs[T], "inputs are shared, never zeroed"
    present = torch.stack([(out.masks[m] > 0).any(1) for m in (T, A, V)], 1)
    assert present.any(1).all(), "every sample keeps at least one modality"
    assert not present.all(1).any(), "p_full=0: no complete sample"
    pats = {tuple(r.tolist()) for r in present}
    assert len(pats) == 6 == len(incomplete_patterns([T, A, V]))
    L = data.lengths[T]
    for i in range(200):  # masks never revive padding
        assert (out.masks[T][i, L[i]:] == 0).all()
    full = RandomMissing(p_full=1.0).sample(data)
    assert all((full.masks[m] > 0).sum(1).tolist() == data.lengths[m].tolist() for m in DIMS)


def test_masked_batch_equals_subset_for_a_model():
    torch.manual_seed(0)
    m = create_model("fusion.mult", input_dims=DIMS, n_outputs=1, hidden=16).eval()
    data = synthetic(4)
    present = {V: torch.zeros(4, dtype=torch.bool)}
    masked = with_masks(data, present)
    a = m(masked.inputs, lengths=masked.lengths, masks=masked.masks)["score"]
    b = m({T: data.inputs[T], A: data.inputs[A]}, lengths={T: data.lengths[T], A: data.lengths[A]})["score"]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_needs_a_model_that_reads_masks():
    data = synthetic(16)
    model = create_model("mlp", input_dims={T: 6}, n_outputs=1)
    tr = Trainer(model, make_task("sentiment"), cfg(epochs=1), strategy=RandomMissing())
    vec = TensorData({T: data.inputs[T][:, 0]}, data.target, data.ids)
    with pytest.raises(ConfigError, match="presence masks"):
        tr.fit(vec, vec)


def test_corrkd_trains_student_not_teacher_and_adds_terms(tmp_path):
    torch.manual_seed(0)
    train, valid = synthetic(48, seed=0), synthetic(24, seed=1)
    task = make_task("sentiment")
    teacher = create_model("fusion.late", input_dims=DIMS, n_outputs=1, hidden=16)
    Trainer(teacher, task, cfg(), seed=0).fit(train, valid)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = create_model("fusion.late", input_dims=DIMS, n_outputs=1, hidden=16)
    strat = CorrKD(teacher=teacher, p_full=0.2)
    res = Trainer(student, make_task("sentiment"), cfg(), seed=0, strategy=strat).fit(train, valid)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert set(strat.last_terms) == {"scd", "cpd", "rcd"}
    assert all(v == v and v >= 0 for v in strat.last_terms.values())
    assert strat.prototypes is not None and strat.proto_seen.sum() >= 2
    assert res.history and all(h["train_loss"] == h["train_loss"] for h in res.history)


def test_corrkd_losses_respond_to_disagreement():
    strat = CorrKD(teacher=torch.nn.Identity())
    z = torch.nn.functional.normalize(torch.randn(8, 5), dim=-1)
    same, other = strat.scd(z, z), strat.scd(z, z.roll(1, 0))
    assert same < other
    y = torch.tensor([0.5, -1.0, 2.0, -2.5, 1.0, 0.2, -0.3, 1.5])
    out = {"logits": y[:, None]}
    assert strat.rcd(out, out, y) < strat.rcd({"logits": -y[:, None]}, out, y)
    logits = torch.randn(8, 4)
    tgt = torch.randint(0, 4, (8,))
    assert strat.rcd({"logits": logits}, {"logits": logits}, tgt) < 1e-5 + strat.rcd(
        {"logits": -logits}, {"logits": logits}, tgt)


def test_corrkd_teacher_from_run_folder_with_placeholders(tmp_path):
    torch.manual_seed(0)
    train, valid = synthetic(32, seed=0), synthetic(16, seed=1)
    tdir = tmp_path / "teacher" / "seed3" / "foldA"
    teacher = create_model("fusion.early", input_dims=DIMS, n_outputs=1, hidden=16)
    Trainer(teacher, make_task("sentiment"), cfg(epochs=2), seed=3, run_dir=tdir,
            resolved_config={"model": {"name": "fusion.early", "args": {"hidden": 16}}}).fit(train, valid)
    student = create_model("fusion.early", input_dims=DIMS, n_outputs=1, hidden=16)
    strat = CorrKD(teacher=str(tmp_path / "teacher" / "seed{seed}" / "{fold}"))
    sdir = tmp_path / "student" / "seed3" / "foldA"
    Trainer(student, make_task("sentiment"), cfg(epochs=1), seed=3, run_dir=sdir, strategy=strat).fit(train, valid)
    assert strat.resolve_teacher_path(type("T", (), {"seed": 3, "run_dir": sdir})()) == tdir
    saved = json.loads((sdir / "last.json").read_text())["strategy"]
    assert saved["name"] == "corrkd" and "{fold}" in saved["teacher"]
    bad = CorrKD(teacher=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="config.json and model.safetensors"):
        Trainer(create_model("fusion.early", input_dims=DIMS, n_outputs=1, hidden=16),
                make_task("sentiment"), cfg(epochs=1), strategy=bad).fit(train, valid)


def test_strategies_resolve_by_name_from_a_fresh_interpreter():
    """`affect train` configs name strategies; the lookup must not depend on prior imports."""
    import subprocess
    import sys

    code = ("from affectkit.training import make_strategy; "
            "print(type(make_strategy('random_missing', {})).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip()
