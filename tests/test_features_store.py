"""FeatureStore and batch extraction: caching, atomicity, resume after kill -9, failures,
Ray = local, the trainer's loading API and the `affect extract` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from _media_fixtures import corrupt, tone, truncate, write_wav
from affectkit.errors import ConfigError, FeatureError
from affectkit.features import FeatureStore, extract, get_extractor, load_features
from affectkit.features.store import default_root
from affectkit.types import Modality, Utterance

REPO = Path(__file__).resolve().parents[1]


def _utts(folder: Path, n: int, *, seconds: float = 0.5) -> list[Utterance]:
    out = []
    for i in range(n):
        p = write_wav(folder / f"u{i:03d}.wav", tone(seconds, 100.0 + 10 * i))
        out.append(Utterance(id=f"syn/u{i:03d}", corpus="syn", text=f"sentence number {i}",
                             media={Modality.AUDIO: p}))
    return out


def test_put_get_plain_npy_and_content_addressing(tmp_path):
    store = FeatureStore(tmp_path / "cache")
    (u,) = _utts(tmp_path / "wav", 1)
    ext = get_extractor("audio.logmel")
    with pytest.raises(FeatureError, match="affect extract syn --features audio.logmel"):
        store.get(ext, u)
    a = ext.process_utterance(u)
    p = store.put(ext, u, a)
    np.testing.assert_array_equal(store.get("audio.logmel", u), a)
    # a plain .npy, readable without pickle; signature.json describes the folder
    np.testing.assert_array_equal(np.load(p, allow_pickle=False), a)
    sig = json.loads((p.parents[1] / "signature.json").read_text())
    assert sig["name"] == "audio.logmel" and sig["dim"] == 64 and len(sig["feature_names"]) == 64
    assert not list(store.root.rglob("*.tmp"))
    # new content (same id) → a different key; a new parameter → a different folder
    write_wav(u.media[Modality.AUDIO], tone(0.5, 300.0))
    assert not store.has(ext, u)
    assert store.path(get_extractor("audio.logmel", n_mels=40), u).parent.parent != p.parent.parent
    # a span is part of the key
    seg = Utterance(id=u.id, corpus="syn", media=u.media, start=0.1, end=0.3)
    assert store.path(ext, seg) != store.path(ext, u)
    # wrong shape never reaches the store
    with pytest.raises(FeatureError):
        store.put(ext, u, np.zeros((5, 3)))


def test_cache_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_CACHE", str(tmp_path / "env"))
    assert default_root() == tmp_path / "env" and FeatureStore().root == tmp_path / "env"
    assert FeatureStore(tmp_path / "x").root == tmp_path / "x"
    monkeypatch.delenv("AFFECTKIT_CACHE")
    assert "affectkit" in str(default_root())


def test_extract_caches_and_records_failures(tmp_path):
    utts = _utts(tmp_path / "wav", 5)
    bad = [
        Utterance(id="syn/corrupt", corpus="syn", media={Modality.AUDIO: corrupt(tmp_path / "c.wav")}),
        Utterance(id="syn/cut", corpus="syn",
                  media={Modality.AUDIO: truncate(write_wav(tmp_path / "full.wav", tone(2.0)),
                                                  tmp_path / "cut.wav")}),
        Utterance(id="syn/gone", corpus="syn", media={Modality.AUDIO: tmp_path / "missing.wav"}),
        Utterance(id="syn/textonly", corpus="syn", text="no audio here"),
    ]
    store = FeatureStore(tmp_path / "cache")
    rep = extract(utts + bad, ["audio.logmel", "audio.prosody"], store, progress=False)
    for name in ("audio.logmel", "audio.prosody"):
        s = rep.stats[name]
        assert (s.computed, s.cached, s.failed, s.skipped) == (5, 0, 3, 1)
    reasons = {(f.extractor, f.item): f.error for f in rep.failures}
    assert "truncated" in reasons[("audio.logmel", "syn/cut")]
    assert "MediaError" in reasons[("audio.logmel", "syn/corrupt")]
    assert "missing.wav" in reasons[("audio.logmel", "syn/gone")]
    recorded = store.failures()
    assert len(recorded) == 6 and {r["item"] for r in recorded} == {"syn/corrupt", "syn/cut", "syn/gone"}
    again = extract(utts + bad, ["audio.logmel", "audio.prosody"], store, progress=False)
    assert again.computed == 0 and again.cached == 10 and again.failed == 6


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from affectkit.features import extract, FeatureStore
    from affectkit.features.audio.logmel import LogMel
    from affectkit.types import Modality, Utterance

    class SlowLogMel(LogMel):  # same name/params/version -> same signature as audio.logmel
        def _compute(self, x):
            time.sleep(0.25)
            return super()._compute(x)

    wavs = sorted(Path(sys.argv[1]).glob("*.wav"))
    utts = [Utterance(id=f"syn/{p.stem}", corpus="syn", media={Modality.AUDIO: p}) for p in wavs]
    extract(utts, [SlowLogMel()], FeatureStore(sys.argv[2]), progress=False)
""")


def test_killed_run_resumes_computing_only_missing(tmp_path):
    utts = _utts(tmp_path / "wav", 24)
    cache = tmp_path / "cache"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "wav"), str(cache)])
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(list(cache.rglob("*.npy"))) < 4:
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no cleanup, no atexit
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}
    assert 4 <= len(done) < len(utts), f"kill landed at {len(done)} of {len(utts)}"
    store = FeatureStore(cache)
    for p in done:  # every file present is complete
        assert np.load(p, allow_pickle=False).shape[1] == 64
    rep = extract(utts, ["audio.logmel"], store, progress=False)
    st = rep.stats["audio.logmel"]
    assert (st.cached, st.computed, st.failed) == (len(done), len(utts) - len(done), 0)
    assert all(p.stat().st_mtime_ns == m for p, m in done.items())  # not rewritten
    assert not list(cache.rglob("*.tmp"))
    ref = get_extractor("audio.logmel")
    for u in utts[:3] + utts[-3:]:
        np.testing.assert_array_equal(store.get("audio.logmel", u), ref.process_utterance(u))


def test_two_processes_writing_the_same_items(tmp_path):
    utts = _utts(tmp_path / "wav", 12)
    script = tmp_path / "w.py"
    script.write_text(textwrap.dedent("""
        import sys
        from pathlib import Path
        from affectkit.features import extract
        from affectkit.types import Modality, Utterance
        wavs = sorted(Path(sys.argv[1]).glob("*.wav"))
        utts = [Utterance(id=f"syn/{p.stem}", corpus="syn", media={Modality.AUDIO: p}) for p in wavs]
        r = extract(utts, ["audio.prosody"], sys.argv[2], progress=False, chunk_size=1)
        assert r.failed == 0, r.failures
    """))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "wav"), str(tmp_path / "c")])
             for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    store = FeatureStore(tmp_path / "c")
    ref = get_extractor("audio.prosody")
    assert store.count("audio.prosody") == 12 and not list(store.root.rglob("*.tmp"))
    for u in utts:
        np.testing.assert_array_equal(store.get("audio.prosody", u), ref.process_utterance(u))


def test_ray_engine_equals_local(tmp_path):
    pytest.importorskip("ray")
    utts = _utts(tmp_path / "wav", 6)
    names = ["audio.logmel", "audio.prosody", "text.minilm"]  # NumPy/librosa and PyTorch
    local = extract(utts, names, tmp_path / "local", progress=False)
    ray_rep = extract(utts, names, tmp_path / "ray", engine="ray", workers=2, progress=False,
                      chunk_size=2)
    assert ray_rep.computed == local.computed == 18 and ray_rep.failed == 0
    a, b = FeatureStore(tmp_path / "local"), FeatureStore(tmp_path / "ray")
    for n in names:
        for u in utts:
            if n.startswith("text."):  # other batch shapes → float rounding of the matmuls only
                np.testing.assert_allclose(a.get(n, u), b.get(n, u), atol=1e-5)
            else:
                np.testing.assert_array_equal(a.get(n, u), b.get(n, u))


def test_process_pool_equals_local(tmp_path):
    utts = _utts(tmp_path / "wav", 4)
    local = extract(utts, ["audio.logmel"], tmp_path / "local", progress=False)
    pool = extract(utts, ["audio.logmel"], tmp_path / "pool", workers=2, chunk_size=2,
                   progress=False)
    assert pool.computed == local.computed == 4 and pool.failed == 0
    a, b = FeatureStore(tmp_path / "local"), FeatureStore(tmp_path / "pool")
    for u in utts:
        np.testing.assert_array_equal(a.get("audio.logmel", u), b.get("audio.logmel", u))


def test_load_features_for_the_trainer(tmp_path):
    utts = _utts(tmp_path / "wav", 3)
    store = FeatureStore(tmp_path / "cache")
    extract(utts, ["audio.logmel", "audio.prosody"], store, progress=False)
    f = load_features(utts, ["audio.logmel", "audio.prosody"], store)
    assert list(f) == [Modality.AUDIO] and f[Modality.AUDIO][0].shape == (51, 70)
    pooled = load_features(utts, ["audio.logmel", "audio.prosody"], store, pool="meanstd")
    assert pooled[Modality.AUDIO][1].shape == (140,)
    np.testing.assert_allclose(pooled[Modality.AUDIO][1][:64],
                               store.get("audio.logmel", utts[1]).mean(0), rtol=1e-6)
    extra = Utterance(id="syn/new", corpus="syn", media={Modality.AUDIO: utts[0].media[Modality.AUDIO]},
                      start=0.0, end=0.2)
    with pytest.raises(FeatureError, match="missing"):
        load_features(utts + [extra], ["audio.logmel"], store)
    got = load_features(utts + [extra], ["audio.logmel"], store, missing="none")[Modality.AUDIO]
    assert got[-1] is None and got[0] is not None
    with pytest.raises(ConfigError, match="pool"):
        load_features(utts, ["audio.logmel", "asr.whisper"], store)


def _ravdess_tree(root: Path) -> None:
    for i, emo in enumerate(["01", "03", "04", "05", "06", "07"]):
        actor = f"{1 + i % 2:02d}"
        write_wav(root / f"Actor_{actor}" / f"03-01-{emo}-01-01-01-{actor}.wav", tone(0.6, 120 + 20 * i))
    corrupt(root / "Actor_01" / "03-01-08-01-01-01-01.wav")
    full = write_wav(root.parent / "full.wav", tone(2.0))
    truncate(full, root / "Actor_02" / "03-01-08-01-01-02-02.wav")


def test_cli_extract_summary_failures_and_second_run(tmp_path):
    root = tmp_path / "ravdess"
    _ravdess_tree(root)
    cmd = [str(Path(sys.executable).parent / "affect"), "extract", "ravdess", "--root", str(root),
           "--features", "audio.logmel", "--cache", str(tmp_path / "cache"), "--json"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    rep = json.loads(first.stdout)
    assert (rep["computed"], rep["failed"], rep["items"]) == (6, 2, 8)
    assert {f["item"].rsplit("-", 1)[0] for f in rep["failures"]} == {
        "ravdess/03-01-08-01-01-01", "ravdess/03-01-08-01-01-02"}
    assert (tmp_path / "cache" / "failures.jsonl").exists()
    second = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env,
                                       timeout=120).stdout)
    assert (second["computed"], second["cached"], second["failed"]) == (0, 6, 2)
    table = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env, timeout=120)
    assert "cached" in table.stdout and "truncated" in table.stderr


def test_vision_from_fer2013_csv_rows(tmp_path):
    """Images stored as csv rows (the original fer2013.csv) go through the corpus's loader."""
    from affectkit.data import load_corpus

    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"] + [
        f"{e},{' '.join(map(str, rng.integers(0, 256, 48 * 48)))},{usage}"
        for e, usage in [(3, "Training"), (0, "PublicTest"), (6, "PrivateTest")]
    ]
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    utts = load_corpus("fer2013", tmp_path).utterances
    rep = extract(utts, ["vision.fer"], tmp_path / "cache", progress=False)
    assert rep.computed == 3 and rep.failed == 0
    store = FeatureStore(tmp_path / "cache")
    assert len({store.path("vision.fer", u) for u in utts}) == 3
    assert not np.array_equal(store.get("vision.fer", utts[0]), store.get("vision.fer", utts[1]))
