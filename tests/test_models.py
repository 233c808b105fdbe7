"""Model-specific behaviour (missing-modality errors, LoRA) and the config → data → features →
trainer pipeline on a small synthetic speech corpus. The contract over every registered model
(selected by declared capabilities) is tests/contract/test_models.py."""

import json

import numpy as np
import pytest
import torch

from affectkit.errors import ConfigError
from affectkit.models import create_model
from affectkit.types import Modality


def test_missing_modality_is_an_error():
    with pytest.raises(ConfigError, match="requires modalities"):
        create_model("voice.crnn", input_dims={Modality.TEXT: 384}, n_outputs=3)
    m = create_model("mlp", input_dims={Modality.TEXT: 4, Modality.AUDIO: 3}, n_outputs=2)
    with pytest.raises(ValueError, match="does not tolerate missing"):
        m({Modality.TEXT: torch.randn(2, 4)})


def test_lora_saves_only_deltas_and_starts_at_pretrained():
    from affectkit.models.text import LoRALinear

    base = torch.nn.Linear(6, 4)
    lora = LoRALinear(base, r=2)
    x = torch.randn(3, 6)
    torch.testing.assert_close(lora(x), base(x))  # B = 0 at init
    with torch.no_grad():
        lora.lora_b.normal_()
    torch.testing.assert_close(lora(x), x @ lora.merged_weight().T + base.bias)
    m = create_model("text.minilm_ft", input_dims={Modality.TEXT: 0}, n_outputs=3, tune="lora",
                     lora_r=4)
    sd = m.trainable_state_dict()
    assert all("lora_" in k or k.startswith("head.") for k in sd)
    assert sum(v.numel() for v in sd.values()) < 0.05 * m.n_parameters()


# --- the pipeline on a synthetic corpus --------------------------------------------------------


@pytest.fixture
def tone_corpus(tmp_path, monkeypatch):
    """6 speakers × 3 'emotions' (low / mid / high pitch tones) as wav files + a loader."""
    import soundfile as sf

    from affectkit.data.base import CORPORA, Corpus
    from affectkit.types import LabelSpace, Utterance

    root = tmp_path / "tones"
    rng = np.random.default_rng(0)
    freqs = {"sad": 140.0, "neutral": 220.0, "angry": 330.0}
    for s in range(6):
        for emo, f in freqs.items():
            for k in range(4):
                t = np.arange(int(16000 * 0.6)) / 16000
                x = 0.3 * np.sin(2 * np.pi * f * (1 + 0.03 * s) * t) + 0.01 * rng.normal(size=t.size)
                (root / f"spk{s}").mkdir(parents=True, exist_ok=True)
                sf.write(root / f"spk{s}" / f"{emo}_{k}.wav", x.astype(np.float32), 16000)

    class Tones(Corpus):
        name = "tones_test"
        label_space = LabelSpace(emotions=tuple(freqs))

        def scan(self):
            for p in sorted(self.root.rglob("*.wav")):
                emo = p.stem.split("_")[0]
                yield Utterance(id=self.uid(f"{p.parent.name}/{p.stem}"), corpus=self.name,
                                speaker=f"tones/{p.parent.name}",
                                media={Modality.AUDIO: p}, emotion=emo, emotion_original=emo)

    monkeypatch.setitem(CORPORA._items, "tones_test", Tones)
    monkeypatch.setenv("AFFECTKIT_CACHE", str(tmp_path / "cache"))
    return root


def _write_cfg(path, root, model, features, epochs=3):
    path.write_text(f"""
name: tones-{model}
data: {{corpus: tones_test, root: {root}, split: kfold, folds: 3}}
features: {{audio: {features}}}
model: {{name: {model}}}
task: {{kind: emotion, key_metric: ua}}
trainer: {{epochs: {epochs}, batch_size: 16, lr: 0.003, patience: 0, progress: false}}
seed: 0
""")
    return path


def test_pipeline_train_evaluate_cli(tone_corpus, tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli import app

    runner = CliRunner()
    cfg = _write_cfg(tmp_path / "svm.yaml", tone_corpus, "sk.svm", "audio.functionals")
    r = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "runs"), "--json", "-q"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["n_folds"] == 3 and res["speaker_independent"]
    assert all(run["test"]["ua"] > 0.9 for run in res["runs"])  # pitch separates the classes
    # every test speaker is absent from train and valid (asserted in code, checked here too)
    for run in res["runs"]:
        assert run["sizes"]["test"] == 24

    cfg2 = _write_cfg(tmp_path / "crnn.yaml", tone_corpus, "voice.crnn", "audio.logmel", epochs=2)
    r = runner.invoke(app, ["train", str(cfg2), "--out", str(tmp_path / "runs"), "--json", "-q",
                            "--fold", "fold0"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.output)["runs"][0]
    run_dir = tmp_path / "runs" / "tones-voice.crnn" / "seed0" / "fold0"
    for f in ("model.safetensors", "config.json", "metrics.json", "task.json", "data.json"):
        assert (run_dir / f).exists(), f
    r = runner.invoke(app, ["evaluate", str(run_dir), "--split", "test", "--json"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.output)
    assert again["ua"] == pytest.approx(run["test"]["ua"])  # reloaded weights, same score
    assert again["confusion"] == run["test"]["confusion"]


def test_unknown_feature_and_split_leak(tone_corpus, tmp_path):
    from affectkit.config import load_config
    from affectkit.experiment import prepare

    cfg = load_config(_write_cfg(tmp_path / "c.yaml", tone_corpus, "sk.svm", "audio.logmell"))
    with pytest.raises(ConfigError, match="did you mean 'audio.logmel'"):
        prepare(cfg, progress=False)


def test_benchmark_suite_table(tone_corpus, tmp_path):
    from affectkit.evaluation.suites import load_suite, run_suite, to_markdown, update_docs

    suite = tmp_path / "tones.yaml"
    suite.write_text(f"""
name: tones
title: Tones 3-class, 3 speaker folds
metrics: [ua, wa]
base:
  data: {{corpus: tones_test, root: {tone_corpus}, split: kfold, folds: 3}}
  task: {{kind: emotion}}
  trainer: {{epochs: 2, batch_size: 16, progress: false}}
entries:
  - {{label: majority class, model: {{name: sk.majority}}, features: {{audio: audio.functionals}}, deterministic: true}}
  - {{label: MLP, model: {{name: mlp, args: {{hidden: 16}}}}, features: {{audio: audio.functionals}}}}
""")
    res = run_suite(load_suite(suite), seeds=2, run_root=tmp_path / "runs", progress=False)
    maj, mlp = res["rows"]
    assert maj["metrics"]["ua"]["n"] == 3 and mlp["metrics"]["ua"]["n"] == 6  # folds × seeds
    assert maj["metrics"]["ua"]["mean"] == pytest.approx(1 / 3)
    md = to_markdown(res, "affect benchmark tones")
    assert "| majority class | audio.functionals | 33.3 ± 0.0 |" in md  # 3 folds: sd shown
    docs = update_docs(res, tmp_path / "benchmarks.md", "cmd")
    update_docs(res, docs, "cmd")  # idempotent: the section is replaced, not appended
    assert docs.read_text().count("<!-- suite:tones -->") == 1
    # a second run reuses the finished fold runs
    res2 = run_suite(load_suite(suite), seeds=2, run_root=tmp_path / "runs", progress=False)
    assert res2["rows"][1]["metrics"]["ua"]["values"] == mlp["metrics"]["ua"]["values"]
    # the cost summary sums the runs' own timings, also when the table reused them
    from affectkit.evaluation.suites import cost_summary, write_results

    write_results(res2, tmp_path / "results", "cmd")
    (tmp_path / "results" / "other.json").write_text('{"rows": []}')  # not a suite: ignored
    (cost,) = cost_summary(tmp_path / "results")
    assert cost["suite"] == "tones" and cost["runs"] == 3 + 6 and cost["rows"] == 2
    assert cost["train_seconds"] == pytest.approx(
        round(res2["rows"][0]["train_seconds"] + res2["rows"][1]["train_seconds"], 1))
    assert cost["train_seconds"] >= mlp["train_seconds"] > 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(suite.read_text().replace("metrics:", "metricz:"))
    with pytest.raises(ConfigError, match="unknown key 'metricz'"):
        load_suite(bad)


def test_joined_and_context_features(tone_corpus):
    from affectkit.data import load_corpus
    from affectkit.features.provider import get_features
    from affectkit.types import Utterance

    utts = load_corpus("tones_test", tone_corpus).utterances[:6]
    f = get_features("audio.functionals", utts, progress=False).values
    j = get_features("audio.functionals+audio.logmel", utts, progress=False).values
    u = utts[0].id
    assert j[u].shape == (f[u].shape[0] + 2 * 64,)
    np.testing.assert_allclose(j[u][:f[u].shape[0]], f[u])

    # causal dialogue context: [own, mean of previous ≤3 turns, flag]
    from affectkit.features import provider as fa

    base = {f"d/{t}": np.full(2, float(t), np.float32) for t in range(5)}
    dlg = [Utterance(id=f"d/{t}", corpus="x", dialogue_id="d", turn=t, text="t") for t in range(5)]
    orig = fa.get_features
    try:
        fa.get_features = lambda name, us, **kw: fa.FeatureResult(base, "b")  # noqa: E731
        ctx = fa._context("text.minilm_context", dlg, None, False)
    finally:
        fa.get_features = orig
    assert ctx.values["d/0"].tolist() == [0, 0, 0, 0, 0]
    assert ctx.values["d/4"].tolist() == [4, 4, 2, 2, 1]  # mean of turns 1..3


def test_speaker_normalisation():
    from affectkit.features.provider import speaker_normalise as _speaker_normalise
    from affectkit.types import Utterance

    utts = [Utterance(id=f"u{i}", corpus="x", speaker=f"s{i % 2}") for i in range(6)]
    vals = {u.id: np.array([i * 10.0 + (100 if i % 2 else 0), 1.0], np.float32)
            for i, u in enumerate(utts)}
    out = _speaker_normalise(vals, utts)
    for spk in ("s0", "s1"):
        stack = np.stack([out[u.id] for u in utts if u.speaker == spk])
        np.testing.assert_allclose(stack.mean(0), 0, atol=1e-5)  # each speaker centred
    assert out["u0"][0] < 0 < out["u4"][0]  # order within a speaker is kept
