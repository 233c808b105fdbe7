"""Issue 15 plug-ins: CCC task against hand-worked values, EmoBank dimensional labels,
counterfactual subtraction on a toy model with a known bias, SuCI and first-order MAML."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from affectkit import metrics as M
from affectkit.tasks.base import ccc_torch, make_task


# --- CCC --------------------------------------------------------------------------------------
# Hand-worked (population moments):
#   t = 1,2,3,4 ; p = 2,3,4,5 : var t = var p = cov = 1.25, (mean diff)^2 = 1
#       → 2·1.25 / (1.25 + 1.25 + 1) = 2.5 / 3.5 = 5/7
#   t = 1,2,3 ; p = 2,4,6     : var t = 2/3, var p = 8/3, cov = 4/3, (2 − 4)^2 = 4
#       → (8/3) / (2/3 + 8/3 + 4) = 8/22 = 4/11
#   t = 1,2,3 ; p = 3,2,1     : → −1 ;   p constant → 0
HAND = [
    ([1, 2, 3, 4], [2, 3, 4, 5], 5 / 7),
    ([1, 2, 3], [2, 4, 6], 4 / 11),
    ([1, 2, 3], [3, 2, 1], -1.0),
    ([1, 2, 3], [2, 2, 2], 0.0),
]


@pytest.mark.parametrize("t,p,want", HAND)
def test_ccc_metric_hand_values(t, p, want):
    assert M.ccc(t, p) == pytest.approx(want, abs=1e-9)


def test_ccc_torch_matches_hand_values_per_column():
    t = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    p = torch.tensor([[2.0, 4.0], [3.0, 3.0], [4.0, 2.0], [5.0, 1.0]])
    got = ccc_torch(p, t)
    # column 0: shifted copy → 5/7; column 1: reversed (same mean, same var) → −1
    assert got[0].item() == pytest.approx(5 / 7, abs=1e-6)
    assert got[1].item() == pytest.approx(-1.0, abs=1e-6)


def test_dimensional_task_loss_and_metrics():
    task = make_task("dimensional", ["valence", "arousal"])
    t = np.array([[1, 1], [2, 2], [3, 3]], dtype=np.float32)
    p = np.array([[2, 3], [4, 2], [6, 1]], dtype=np.float32)
    loss = task.loss({"score": torch.tensor(p)}, torch.tensor(t))
    # valence 4/11, arousal −1 → loss = 1 − mean = 1 − (4/11 − 1)/2
    assert loss.item() == pytest.approx(1 - (4 / 11 - 1) / 2, abs=1e-6)
    m = task.metrics(t, p)
    assert m["ccc_valence"] == pytest.approx(4 / 11)
    assert m["ccc_arousal"] == pytest.approx(-1.0)
    assert m["ccc_mean"] == pytest.approx((4 / 11 - 1) / 2)
    assert m["mae_valence"] == pytest.approx((1 + 2 + 3) / 3)
    assert m["n"] == 3


def test_ccc_loss_gradient_improves_ccc():
    torch.manual_seed(0)
    t = torch.randn(64, 2)
    p = torch.zeros(64, 2, requires_grad=True)
    with torch.no_grad():
        p += 0.1 * torch.randn(64, 2)
    task = make_task("dimensional", ["valence", "arousal"])
    opt = torch.optim.SGD([p], lr=1.0)
    first = task.loss({"score": p}, t).item()
    for _ in range(50):
        opt.zero_grad()
        task.loss({"score": p}, t).backward()
        opt.step()
    assert task.loss({"score": p}, t).item() < first - 0.5


def test_emobank_dimensional_labels(shared):
    from affectkit.data.base import load_corpus
    from affectkit.tasks.base import read_label

    root = shared("text/emobank")
    utts = load_corpus("emobank", root).utterances
    assert len(utts) > 9000
    labs = [read_label(u, "dimensional") for u in utts[:200]]
    assert all(lab is not None and 1 <= lab[0] <= 5 and 1 <= lab[1] <= 5 for lab in labs)
    assert {u.split for u in utts} == {"train", "valid", "test"}


# --- MCIS / CLEF counterfactual subtraction --------------------------------------------------

def test_mask_content_words_keeps_function_words():
    from affectkit.evaluation.counterfactual import content_words, mask_content_words

    assert mask_content_words("I really love this movie!") == "I [MASK] [MASK] this [MASK]!"
    assert content_words("It was not a good film") == ["good", "film"]
    assert mask_content_words("") == "[MASK]"


def _toy_outputs(bias_prior: float, bias_ctx_weight: float, seed: int = 0):
    """A toy 'model' whose score = true effect + a constant label prior + w · a context
    shortcut; the counterfactual outputs carry exactly the bias terms."""
    from affectkit.evaluation.counterfactual import _RunOutputs

    rng = np.random.default_rng(seed)
    out = {}
    for sp in ("valid", "test"):
        y = rng.normal(0, 1, 400)
        shortcut = rng.normal(0, 1, 400)  # a context cue unrelated to the label
        out[sp] = (y, shortcut, y + bias_prior + bias_ctx_weight * shortcut,
                   bias_prior + bias_ctx_weight * shortcut)
    return _RunOutputs(
        key="score",
        factual={sp: v[2] for sp, v in out.items()},
        prior=np.array([bias_prior]),
        context={sp: v[3] for sp, v in out.items()},
        targets={sp: v[0].astype(np.float32) for sp, v in out.items()},
        ids={sp: [str(i) for i in range(400)] for sp in out})


def test_counterfactual_subtraction_removes_known_bias():
    from affectkit.evaluation.counterfactual import MCISConfig, choose_weights, mcis_predictions

    task = make_task("sentiment")
    ro = _toy_outputs(bias_prior=0.8, bias_ctx_weight=0.5)
    # the context counterfactual already contains the prior: beta = 1 alone removes both
    w = choose_weights(task, ro, MCISConfig(alphas=(0.0, 0.5, 1.0), betas=(0.0, 0.5, 1.0)))
    assert (w["alpha"], w["beta"]) == (0.0, 1.0)
    p = mcis_predictions(task, ro, w)
    np.testing.assert_allclose(p, ro.targets["test"], atol=1e-5)
    factual = task.metrics(ro.targets["test"], ro.factual["test"])["mae"]
    assert task.metrics(ro.targets["test"], p)["mae"] < 1e-5 < factual


def test_counterfactual_abstains_without_bias():
    from affectkit.evaluation.counterfactual import MCISConfig, choose_weights

    task = make_task("sentiment")
    ro = _toy_outputs(bias_prior=0.0, bias_ctx_weight=0.0)
    # with no bias the counterfactual outputs are 0 — every weight ties, the smallest wins
    ro.context = {sp: np.zeros_like(v) for sp, v in ro.context.items()}
    w = choose_weights(task, ro, MCISConfig())
    assert (w["alpha"], w["beta"]) == (0.0, 0.0)


def test_mcis_config_requires_zero_in_grid():
    from affectkit.errors import ConfigError
    from affectkit.evaluation.counterfactual import MCISConfig

    with pytest.raises(ConfigError, match="must contain 0"):
        MCISConfig(alphas=(0.5, 1.0)).validate()


def test_clef_combine_removes_context_direct_effect():
    from affectkit.evaluation.counterfactual import clef_combine

    rng = np.random.default_rng(1)
    target_effect = rng.normal(size=(50, 4))
    context_effect = rng.normal(size=(50, 4))
    total = target_effect + 0.7 * context_effect
    np.testing.assert_allclose(clef_combine(total, context_effect, 0.7), target_effect)
    np.testing.assert_allclose(clef_combine(total, context_effect, 0.0), total)


def test_word_majority_probe_and_eec_gap():
    from types import SimpleNamespace

    from affectkit.evaluation.counterfactual import eec_gap, probe_accuracy, word_majority_probe

    task = make_task("sentiment")
    train = ["great movie", "great acting", "great fun", "awful plot", "awful acting"]
    y = np.array([2.0, 1.0, 1.5, -2.0, -1.0])
    test = ["great but sad", "awful really", "nothing here"]
    has, vote = word_majority_probe(task, train, y, test, min_count=2, top_words=1)
    assert has.tolist() == [True, True, False]
    assert vote.tolist()[:2] == [1, -1]
    yt = np.array([-1.0, -2.0, 1.0])
    hard = has & (vote != np.sign(yt))
    assert hard.tolist() == [True, False, False]
    assert probe_accuracy(task, yt, np.array([-0.5, 1.0, 1.0]), hard) == 1.0
    assert probe_accuracy(task, yt, np.array([0.5, 1.0, 1.0]), hard) == 0.0

    def u(t, w, g, r):
        return SimpleNamespace(meta={"template": t, "emotion_word": w, "gender": g, "race": r})

    utts = [u("T1", "sad", "female", "African-American"), u("T1", "sad", "male", "European"),
            u("T2", "glad", "female", "European"), u("T2", "glad", "male", "African-American")]
    s = np.array([1.0, 0.0, 2.0, 2.5])
    assert eec_gap(utts, s, "gender") == pytest.approx((1.0 + 0.5) / 2)
    assert eec_gap(utts, s, "race") == pytest.approx((1.0 + 0.5) / 2)


# --- SuCI ---------------------------------------------------------------------------------------

def _suci_model():
    from affectkit.models import create_model
    from affectkit.types import Modality

    torch.manual_seed(0)
    return create_model("mlp", input_dims={Modality.TEXT: 6}, n_outputs=1, hidden=8)


def test_suci_reduces_to_plain_model_with_one_subject():
    from affectkit.training.strategies.suci import SuCI
    from affectkit.types import Modality

    T = Modality.TEXT
    model = _suci_model()
    model.eval()
    x = {T: torch.randn(10, 6)}
    with torch.no_grad():
        plain = model(x)["score"].clone()
    strat = SuCI(hidden=4)
    mod = strat.attach(model)
    with torch.no_grad():
        for lin in mod.o.values():  # a trained, non-zero output projection
            lin.weight.normal_()
        mod.set_dictionary({T: torch.randn(1, 6)}, torch.tensor([25.0]))
        assert bool(mod.active)
        torch.testing.assert_close(model(x)["score"], plain)
        # two subjects: the adjustment is no longer zero
        mod.set_dictionary({T: torch.randn(2, 6)}, torch.tensor([10.0, 30.0]))
        assert not torch.allclose(model(x)["score"], plain)


def test_suci_adjustment_is_prior_weighted_and_centred():
    from affectkit.training.strategies.suci import SubjectIntervention
    from affectkit.types import Modality

    T = Modality.TEXT
    mod = SubjectIntervention({T: 3}, hidden=2)
    z = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    mod.set_dictionary({T: z}, torch.tensor([1.0, 3.0]))
    # centred on the prior-weighted mean (0.25, 0.75, 0)
    torch.testing.assert_close(mod.z_text, z - torch.tensor([[0.25, 0.75, 0.0]]))
    torch.testing.assert_close(mod.prior, torch.tensor([0.25, 0.75]))
    with torch.no_grad():
        mod.q.text.weight.zero_()  # uniform attention α = 1/2
        mod.o.text.weight.copy_(torch.eye(3))
    adj = mod.adjustment(T, torch.randn(4, 3))
    want = 0.5 * (0.25 * mod.z_text[0] + 0.75 * mod.z_text[1])
    torch.testing.assert_close(adj, want.expand(4, 3))


def test_suci_builds_dictionary_from_speakers_through_the_trainer():
    from affectkit.config import TrainerConfig
    from affectkit.data.batch import Batch
    from affectkit.training import Trainer
    from affectkit.training.strategies import suci as S
    from affectkit.types import Modality

    T = Modality.TEXT
    g = torch.Generator().manual_seed(0)
    ids = [f"c/{i}" for i in range(48)]
    spk = [f"s{i % 3}" for i in range(48)]  # speakers travel on the Batch
    x = torch.randn(48, 6, generator=g) + torch.tensor([float(i % 3) for i in range(48)])[:, None]
    y = x[:, 0].clamp(-3, 3)
    train = Batch({T: x[:36]}, y[:36], ids[:36], speakers=spk[:36])
    valid = Batch({T: x[36:]}, y[36:], ids[36:], speakers=spk[36:])
    strat = S.SuCI(hidden=4)
    model = _suci_model()
    cfg = TrainerConfig(epochs=3, batch_size=8, progress=False, threads=1, patience=0)
    Trainer(model, make_task("sentiment"), cfg, seed=0, strategy=strat).fit(train, valid)
    assert strat.n_subjects == 3 and strat.state()["n_subjects"] == 3
    protos = torch.stack([x[:36][[i for i in range(36) if i % 3 == k]].mean(0) for k in range(3)])
    want = protos - protos.mean(0, keepdim=True)  # equal subject counts → uniform prior
    torch.testing.assert_close(model.suci.z_text, want, atol=1e-5, rtol=1e-5)
    assert any(p.abs().sum() > 0 for p in model.suci.o.parameters())  # W_o was trained


def test_suci_without_speakers_is_one_subject_and_warns():
    from affectkit.config import TrainerConfig
    from affectkit.data.batch import Batch
    from affectkit.training import Trainer
    from affectkit.training.strategies import suci as S
    from affectkit.types import Modality

    T = Modality.TEXT
    x = torch.randn(24, 6, generator=torch.Generator().manual_seed(1))
    train = Batch({T: x[:16]}, x[:16, 0], [f"c/{i}" for i in range(16)])  # no speakers
    valid = Batch({T: x[16:]}, x[16:, 0], [f"c/{i}" for i in range(16, 24)])
    strat = S.SuCI(hidden=4)
    cfg = TrainerConfig(epochs=2, batch_size=8, progress=False, threads=1, patience=0)
    with pytest.warns(UserWarning, match="one subject"):
        Trainer(_suci_model(), make_task("sentiment"), cfg, seed=0, strategy=strat).fit(train, valid)
    assert strat.n_subjects == 1


def test_batch_speakers_follow_rows_and_collate():
    from affectkit.data.batch import Batch, collate
    from affectkit.types import Modality

    T = Modality.TEXT
    feats = {T: {f"c/{i}": np.full(3, i, np.float32) for i in range(5)}}
    ids = ["c/3", "c/0", "c/4"]
    b = collate(ids, feats, {T: "vector"}, np.zeros(3), speakers={"c/3": "A", "c/0": None,
                                                                   "c/4": "B", "c/1": "Z"})
    assert b.speakers == ["A", None, "B"]
    sub = b.take([2, 0])
    assert sub.speakers == ["B", "A"] and sub.ids == ["c/4", "c/3"]
    assert b.replace(target=torch.ones(3)).speakers == ["A", None, "B"]
    # backward compatible: no speakers given → None, and positional construction still works
    assert collate(ids, feats, {T: "vector"}, np.zeros(3)).speakers is None
    assert Batch({T: torch.zeros(2, 3)}, torch.zeros(2), ["a", "b"]).speakers is None
    with pytest.raises(ValueError, match="speakers"):
        Batch({T: torch.zeros(2, 3)}, torch.zeros(2), ["a", "b"], speakers=["x"])


# --- SuCI run folders: speakers from the corpus, reload through `affect evaluate` -------------

def _png(path, value: int, subject: int, emotion: int) -> None:
    import cv2

    rng = np.random.default_rng(value)
    img = (rng.random((48, 48)) * 255).astype(np.uint8)
    img[:8] = 40 * subject  # a per-subject mark (the shortcut SuCI is about)
    img[8:12] = np.clip(img[8:12].astype(int) // 4 + 60 * emotion, 0, 255)  # a weak label cue
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


@pytest.fixture
def suci_run(tmp_path, monkeypatch):
    """An MLP + SuCI run on a tiny CK+-48 tree (6 subjects S100..S105, 3 emotions)."""
    from affectkit.config import load_config
    from affectkit.experiment import run_experiment

    monkeypatch.setenv("AFFECTKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "ckplus48"
    for s in range(6):
        for q, emo in enumerate(("happy", "sadness", "surprise"), start=1):
            for frame in (1, 2, 3):
                _png(root / emo / f"S{100 + s:03d}_{q:03d}_{frame:08d}.png",
                     s + 6 * (3 * q + frame), s, q)
    cfg_file = tmp_path / "suci.yaml"
    cfg_file.write_text(
        f"name: suci-mlp\nstore: {tmp_path / 'store'}\n"
        f"data: {{corpus: ckplus, root: {root}, split: kfold, folds: 3, label: emotion}}\n"
        "features: {vision: vision.gray48}\n"
        "model: {name: mlp, args: {hidden: 16}}\n"
        "task: {kind: emotion}\ntrainer: {epochs: 5, batch_size: 8, lr: 0.003, patience: 0, "
        "progress: false, strategy: suci, strategy_args: {hidden: 8}}\n")
    cfg = load_config(cfg_file)
    run_experiment(cfg, run_root=tmp_path / "runs", progress=False, folds=None)
    return cfg, sorted((tmp_path / "runs" / "seed0").iterdir())


def test_prepared_batch_carries_corpus_speakers(suci_run):
    from affectkit.experiment import load_run

    _, runs = suci_run
    lr = load_run(runs[0])
    b = lr.batch("train")
    want = {i: lr.prep.data.by_id()[i].speaker for i in b.ids}
    assert b.speakers == [want[i] for i in b.ids]
    assert len(set(b.speakers)) >= 2 and all(s.startswith("ckplus/") for s in b.speakers)


def test_suci_run_reloads_through_evaluate_with_identical_metrics(suci_run):
    from affectkit.experiment import evaluate_run, load_run
    from affectkit.training.checkpoint import RunDir

    _, runs = suci_run
    for run_dir in runs:
        saved = json.loads((run_dir / "test_metrics.json").read_text())["test"]
        tensors, meta = RunDir(run_dir).strategy_tensors()
        assert meta["strategy"]["name"] == "suci"
        assert tensors["prior"].numel() == len(meta["subjects"]) >= 2
        ev = evaluate_run(run_dir, "test")
        for k in ("ua", "wa", "macro_f1"):
            assert ev[k] == pytest.approx(saved[k], abs=1e-9), (run_dir.name, k)
    # the adjustment is really on in a reloaded model whose W_o was trained (best epoch ≥ 1):
    # switching it off changes the outputs
    trained = [r for r in runs if json.loads((r / "metrics.json").read_text())["best_epoch"] >= 1]
    assert trained, "no fold selected an epoch with the adjustment on"
    lr = load_run(trained[0])
    model = lr.trainer.model
    assert any(p.abs().sum() > 0 for p in model.suci.o.parameters())
    assert bool(model.suci.active)
    batch = lr.batch("test")
    with torch.no_grad():
        on = model(batch.inputs)["logits"].clone()
        model.suci.active.fill_(False)
        off = model(batch.inputs)["logits"]
    assert not torch.allclose(on, off)


def test_suci_run_without_saved_dictionary_is_a_clear_error(suci_run):
    from affectkit.errors import ConfigError
    from affectkit.experiment import evaluate_run

    _, runs = suci_run
    (runs[0] / "strategy.safetensors").unlink()
    with pytest.raises(ConfigError, match="strategy.safetensors"):
        evaluate_run(runs[0], "test")


# --- MetaSER: first-order MAML on a toy regression --------------------------------------------

def _linear_task(rng, n=10):
    """y = w·x + b with task-specific w ~ N(3, 0.3), b ~ N(-1, 0.3)."""
    w, b = rng.normal(3, 0.3), rng.normal(-1, 0.3)
    x = torch.as_tensor(rng.normal(0, 1, (2 * n, 1)), dtype=torch.float32)
    y = w * x[:, 0] + b
    return x[:n], y[:n], x[n:], y[n:]


def _mse(p, x, y):
    return ((x @ p[0].T + p[1])[:, 0] - y).pow(2).mean()


def test_fomaml_outer_step_is_query_gradient_at_adapted_weights():
    from affectkit.evaluation.metaser import fomaml_step, sgd_adapt

    rng = np.random.default_rng(0)
    xs, ys, xq, yq = _linear_task(rng)
    p = [torch.zeros(1, 1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    # by hand: one inner SGD step, then the query gradient at the adapted weights
    fast = sgd_adapt(p, lambda q: _mse(q, xs, ys), 1, 0.1)
    gs = torch.autograd.grad(_mse([p[0], p[1]], xs, ys), p)
    torch.testing.assert_close(fast[0], (p[0] - 0.1 * gs[0]).detach())
    gq = torch.autograd.grad(_mse(fast, xq, yq), fast)
    want = [(a - 0.5 * g).detach() for a, g in zip(p, gq)]
    opt = torch.optim.SGD(p, lr=0.5)
    fomaml_step(p, [(lambda q: _mse(q, xs, ys), lambda q: _mse(q, xq, yq))], opt, 1, 0.1)
    for a, b in zip(p, want):
        torch.testing.assert_close(a.detach(), b)


def test_fomaml_learns_an_initialisation_that_adapts_in_few_steps():
    from affectkit.evaluation.metaser import fomaml_step, sgd_adapt

    rng = np.random.default_rng(1)
    p = [torch.zeros(1, 1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    init = [q.detach().clone() for q in p]
    opt = torch.optim.Adam(p, lr=0.05)
    for _ in range(300):
        tasks = []
        for _ in range(4):
            xs, ys, xq, yq = _linear_task(rng)
            tasks.append((lambda q, x=xs, y=ys: _mse(q, x, y), lambda q, x=xq, y=yq: _mse(q, x, y)))
        fomaml_step(p, tasks, opt, 2, 0.1)

    def adapted_loss(start):
        losses = []
        r = np.random.default_rng(99)
        for _ in range(20):
            xs, ys, xq, yq = _linear_task(r, n=3)
            fast = sgd_adapt(start, lambda q: _mse(q, xs, ys), 2, 0.1)
            losses.append(float(_mse(fast, xq, yq)))
        return float(np.mean(losses))

    meta, scratch = adapted_loss(p), adapted_loss([q.requires_grad_() for q in init])
    assert meta < 0.25 * scratch
    assert abs(float(p[0]) - 3) < 0.5 and abs(float(p[1]) + 1) < 0.5


def test_target_split_is_speaker_disjoint():
    from affectkit.evaluation.metaser import _Lang, target_split

    spk = np.array([f"s{i % 6}" for i in range(60)])
    lang = _Lang(np.zeros((60, 2)), np.arange(60) % 4, spk)
    for seed in range(3):
        a, t = target_split(lang, seed)
        assert len(a) + len(t) == 60
        assert not set(spk[a]) & set(spk[t])
        assert len(set(spk[a])) == 3


# --- paired comparison of two suite entries ---------------------------------------------------

def test_paired_differences_by_seed_and_fold(tmp_path):
    from affectkit.errors import ConfigError
    from affectkit.evaluation.paired import main

    def put(entry, seed, fold, ua, mae):
        d = tmp_path / "suite" / entry / f"seed{seed}" / fold
        d.mkdir(parents=True)
        (d / "test_metrics.json").write_text(json.dumps({"test": {"ua": ua, "mae": mae}}))

    # other − base: ua +0.1, +0.3 (seed 0), +0.2 (seed 1); mae −0.1 each; f2 of seed 1 unpaired
    for seed, fold, b, o in [(0, "f0", 0.5, 0.6), (0, "f1", 0.4, 0.7), (1, "f0", 0.6, 0.8)]:
        put("plain", seed, fold, b, 1.0)
        put("suci", seed, fold, o, 0.9)
    put("plain", 1, "f2", 0.1, 1.0)
    res = main([str(tmp_path / "suite"), "--base", "plain", "--other", "suci",
                "--metrics", "ua", "mae", "--out", str(tmp_path / "out")])
    ua, mae = res["rows"]
    assert ua["n_pairs"] == 3 and res["unpaired"]["base_only"] == [["seed1", "f2"]]
    assert ua["diff"] == pytest.approx(0.2) and ua["diff_sd"] == pytest.approx(0.1)
    assert ua["diff_sd_seeds"] == pytest.approx(0.0)  # seed means +0.2 and +0.2
    assert ua["verdict"] == "gain"  # mean diff 0.2 beyond its sd 0.1
    assert mae["diff"] == pytest.approx(-0.1) and mae["verdict"] == "gain" and mae["wins"] == 3
    assert (tmp_path / "out.md").read_text().count("\n") == 4
    with pytest.raises(ConfigError, match="no such entry"):
        main([str(tmp_path / "suite"), "--base", "nope", "--other", "suci", "--metrics", "ua"])


def test_closed_form_baselines_fit_the_dimensional_task():
    from affectkit.config import TrainerConfig
    from affectkit.data.batch import Batch
    from affectkit.models import create_model
    from affectkit.training import Trainer
    from affectkit.types import Modality

    T = Modality.TEXT
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    Y = (X @ rng.normal(size=(5, 2)) + 3 + 0.1 * rng.normal(size=(200, 2))).astype(np.float32)
    tr = Batch({T: torch.from_numpy(X[:150])}, torch.from_numpy(Y[:150]), [str(i) for i in range(150)])
    va = Batch({T: torch.from_numpy(X[150:])}, torch.from_numpy(Y[150:]), [str(i) for i in range(50)])
    task = make_task("dimensional")
    got = {}
    for name in ("sk.ridge", "sk.majority"):
        model = create_model(name, input_dims={T: 5}, n_outputs=task.n_outputs)
        trainer = Trainer(model, task, TrainerConfig(progress=False))
        trainer.fit(tr, va)
        assert trainer.forward_all(va)["score"].shape == (50, 2)
        got[name] = trainer.evaluate(va)
    assert got["sk.ridge"]["ccc_valence"] > 0.95 and got["sk.ridge"]["ccc_arousal"] > 0.95
    assert got["sk.majority"]["ccc_mean"] == pytest.approx(0.0)  # a constant has CCC 0
    np.testing.assert_allclose(got["sk.majority"]["mae_valence"],
                               np.abs(Y[150:, 0] - Y[:150, 0].mean()).mean(), rtol=1e-5)


def test_collate_reads_vectors_as_one_frame_sequences():
    from affectkit.data.batch import collate
    from affectkit.types import Modality

    A = Modality.AUDIO
    feats = {A: {"a": np.arange(4, dtype=np.float32), "b": np.ones((3, 4), np.float32)}}
    b = collate(["a", "b"], feats, {A: "sequence"}, np.zeros(2))
    assert b.inputs[A].shape == (2, 3, 4) and b.lengths[A].tolist() == [1, 3]
    np.testing.assert_array_equal(b.inputs[A][0, 0].numpy(), np.arange(4))


def test_suci_resumed_run_restores_its_dictionary(tmp_path):
    from affectkit.config import TrainerConfig
    from affectkit.data.batch import Batch
    from affectkit.training import Trainer
    from affectkit.training.strategies import suci as S
    from affectkit.types import Modality

    T = Modality.TEXT
    x = torch.randn(36, 6, generator=torch.Generator().manual_seed(2))
    spk = [f"s{i % 3}" for i in range(36)]
    train = Batch({T: x[:24]}, x[:24, 0], [f"c/{i}" for i in range(24)], speakers=spk[:24])
    valid = Batch({T: x[24:]}, x[24:, 0], [f"c/{i}" for i in range(24, 36)], speakers=spk[24:])
    cfg = TrainerConfig(epochs=2, batch_size=8, progress=False, threads=1, patience=0)
    first = S.SuCI(hidden=4)
    Trainer(_suci_model(), make_task("sentiment"), cfg, seed=0, run_dir=tmp_path,
            strategy=first).fit(train, valid)
    want = first.module.z_text.clone()
    # a second process resumes the finished run: no epoch left to rebuild the dictionary from
    again = S.SuCI(hidden=4)
    model = _suci_model()
    Trainer(model, make_task("sentiment"), cfg, seed=0, run_dir=tmp_path,
            strategy=again).fit(train, valid)
    assert bool(model.suci.active) and again.n_subjects == 3
    torch.testing.assert_close(model.suci.z_text, want)
