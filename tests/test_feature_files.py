"""MMSA / MulT feature pickles: layouts, the pickle guard, and import into the feature store.

The files are small synthetic pickles in the published layouts (thuiar/MMSA data_loader.py,
yaohungt/Multimodal-Transformer src/dataset.py); no real data is involved.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from affectkit.features.imported import import_feature_file, load_pickle, read_feature_file
from affectkit.errors import ConfigError, DataError
from affectkit.types import Modality

T, A, V = Modality.TEXT, Modality.AUDIO, Modality.VISION


def mmsa_split(n: int, rng, video: str, aligned: bool = False):
    L = 6
    tl = rng.integers(2, L + 1, n)
    bert = np.zeros((n, 3, L), np.int64)
    for i, k in enumerate(tl):
        bert[i, 1, :k] = 1
    text = rng.normal(size=(n, L, 8)).astype(np.float32)
    ta, tv = (L, L) if aligned else (7, 5)
    audio = rng.normal(size=(n, ta, 3)).astype(np.float32)
    audio[0, 0, 1] = -np.inf  # COVAREP writes -inf; MMSA's loader zeroes it
    part = {
        "raw_text": [f"sentence {video} {i}" for i in range(n)],
        "id": [f"{video}$_${i + 1}" for i in range(n)],
        "text": text, "text_bert": bert, "audio": audio,
        "vision": rng.normal(size=(n, tv, 4)).astype(np.float32),
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
        "classification_labels": np.ones(n), "annotations": ["Positive"] * n,
    }
    if not aligned:
        part["audio_lengths"] = list(rng.integers(1, ta + 1, n))
        part["vision_lengths"] = list(rng.integers(1, tv + 1, n))
    return part


@pytest.fixture
def mmsa_file(tmp_path):
    rng = np.random.default_rng(0)
    data = {"train": mmsa_split(6, rng, "vidA"), "valid": mmsa_split(3, rng, "vidB"),
            "test": mmsa_split(3, rng, "vidC")}
    p = tmp_path / "unaligned_50.pkl"
    p.write_bytes(pickle.dumps(data, protocol=4))
    return p, data


def mult_split(n: int, rng, iemocap: bool = False, split: str = "train"):
    def seq(T, D):
        x = np.zeros((n, T, D), np.float32)
        for i in range(n):
            k = int(rng.integers(1, T + 1))
            x[i, T - k:] = rng.normal(size=(k, D))  # pre-padded with zeros
        return x

    labels = (np.eye(2)[rng.integers(0, 2, (n, 4))].astype(np.float32) if iemocap
              else rng.uniform(-3, 3, (n, 1, 1)).astype(np.float32))
    ids = np.array([[f"v{i % 2}{split}".encode(), f"{i}".encode(), b"x"] for i in range(n)],
                   dtype=object)
    return {"text": seq(5, 8), "audio": seq(9, 3), "vision": seq(4, 2), "labels": labels, "id": ids}


def test_pickle_is_refused_without_allow_pickle(mmsa_file):
    p, _ = mmsa_file
    with pytest.raises(ConfigError, match="execut"):
        read_feature_file(p, "mmsa")
    with pytest.raises(ConfigError, match="--format"):
        read_feature_file(p, "nope", allow_pickle=True)


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"train": Evil()}))
    with pytest.raises(DataError, match="refused global"):
        load_pickle(p, allow_pickle=True)
    assert not marker.exists()


def test_read_mmsa_unaligned(mmsa_file):
    p, data = mmsa_file
    ff = read_feature_file(p, "mmsa", allow_pickle=True)
    assert len(ff.items) == 12 and not ff.issues
    assert ff.dims == {T: 8, A: 3, V: 4}
    assert {i.split for i in ff.items} == {"train", "valid", "test"}
    it = ff.items[0]
    tr = data["train"]
    assert it.local_id == "vidA_1" and it.video == "vidA"
    assert it.features[T].shape == (tr["text_bert"][0, 1].sum(), 8)
    assert it.features[A].shape[0] == tr["audio_lengths"][0]
    assert it.features[V].shape[0] == tr["vision_lengths"][0]
    assert np.isfinite(it.features[A]).all()
    assert sum(ff.notes.values()) >= 1  # the -inf repairs are counted, not hidden
    assert it.sentiment == pytest.approx(float(tr["regression_labels"][0]))
    assert it.text == "sentence vidA 0"


def test_read_mmsa_aligned_uses_text_lengths(tmp_path):
    rng = np.random.default_rng(1)
    data = {"train": mmsa_split(4, rng, "a", aligned=True), "test": mmsa_split(2, rng, "b", aligned=True)}
    p = tmp_path / "aligned_50.pkl"
    p.write_bytes(pickle.dumps(data))
    ff = read_feature_file(p, "mmsa", allow_pickle=True)
    for it in ff.items:
        assert it.features[A].shape[0] == it.features[T].shape[0] == it.features[V].shape[0]


def test_read_mult_sentiment_and_iemocap(tmp_path):
    rng = np.random.default_rng(2)
    p = tmp_path / "mosi_data_noalign.pkl"
    data = {s: mult_split(4, rng, split=s) for s in ("train", "valid", "test")}
    p.write_bytes(pickle.dumps(data))
    ff = read_feature_file(p, "mult", allow_pickle=True)
    assert len(ff.items) == 12 and ff.label_kind == "sentiment"
    x = data["train"]["audio"][1]
    nz = np.flatnonzero(np.abs(x).sum(1) > 0)
    np.testing.assert_allclose(ff.items[1].features[A], x[nz[0]:])  # padding removed
    assert ff.items[1].local_id == "v1train_1_x" and ff.items[1].video == "v1train"

    p2 = tmp_path / "iemocap_data.pkl"
    data = {s: mult_split(5, rng, iemocap=True, split=s) for s in ("train", "test")}
    for s in data:  # make row 0 valid (exactly one emotion) and row 1 invalid (none)
        data[s]["labels"][0] = np.eye(2)[[0, 0, 1, 0]]
        data[s]["labels"][1] = np.eye(2)[[0, 0, 0, 0]]
    p2.write_bytes(pickle.dumps(data))
    ff = read_feature_file(p2, "mult", allow_pickle=True)
    assert ff.label_kind == "emotion"
    assert ff.items[0].emotion == "sad"
    assert any("marks 0 emotions" in i.reason for i in ff.issues)  # reported, not dropped silently


def test_layout_errors_name_the_key(tmp_path):
    rng = np.random.default_rng(3)
    part = mmsa_split(2, rng, "a")
    del part["vision"]
    p = tmp_path / "bad.pkl"
    p.write_bytes(pickle.dumps({"train": part}))
    with pytest.raises(DataError, match="'vision' missing"):
        read_feature_file(p, "mmsa", allow_pickle=True)
    p.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataError, match="dict of splits"):
        read_feature_file(p, "mmsa", allow_pickle=True)


def test_import_into_store_then_train(mmsa_file, tmp_path, monkeypatch):
    """Import once, then the ordinary pipeline (corpus + store + Trainer) trains a fusion model."""
    import torch

    from affectkit.config import ExperimentConfig, from_dict
    from affectkit.experiment import run_experiment
    from affectkit.features import FeatureStore, load_features

    p, data = mmsa_file
    cache = tmp_path / "cache"
    monkeypatch.setenv("AFFECTKIT_CACHE", str(cache))
    rep = import_feature_file(p, "mmsa", name="mmsa-tiny", allow_pickle=True, store_root=cache)
    assert rep.written == 12 * 3 and sorted(rep.extractors) == [
        "audio.mmsa-tiny", "text.mmsa-tiny", "vision.mmsa-tiny"]
    assert "corpus: mmsa-tiny" in rep.config_snippet()
    from affectkit.data.base import load_corpus

    res = load_corpus("mmsa-tiny", rep.folder)
    assert res.by_split() == {"test": 3, "train": 6, "valid": 3}
    feats = load_features(res.utterances, rep.extractors, FeatureStore(cache))
    assert feats[A][0].shape[1] == 3 and len(feats[T]) == 12
    cfg = from_dict(ExperimentConfig, {
        "name": "tiny", "data": {"corpus": "mmsa-tiny", "root": str(rep.folder),
                                 "split": "official", "label": "sentiment"},
        "features": {"text": "text.mmsa-tiny", "audio": "audio.mmsa-tiny",
                     "vision": "vision.mmsa-tiny"},
        "model": {"name": "fusion.late", "args": {"hidden": 8}},
        "task": {"kind": "sentiment"},
        "trainer": {"epochs": 2, "batch_size": 4, "progress": False, "threads": 1},
    }).validate()
    torch.manual_seed(0)
    out = run_experiment(cfg, progress=False)
    test = out["runs"][0]["test"]
    assert test["n"] == 3 and np.isfinite(test["mae"])
