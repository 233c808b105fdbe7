"""Benchmarks of the analyzer (``affect bench analyze``): speed, memory and accuracy on mosi400.

* real-time factor (processing seconds / media seconds) on mosi400 videos with all modalities
  and audio-only;
* text-only throughput (utterances/s) on MELD dev sentences;
* peak memory on a long input made by concatenating mosi400 clips (``--long-minutes``), measured
  in a child process (ru_maxrss);
* accuracy of the fused default model on mosi400 next to each single modality: every clip is
  one labelled segment; the analyzer may split it into several utterances, whose predictions
  are averaged weighted by duration. Sentiment: Non0 Acc-2, F1, Corr, MAE. No default model was
  trained on these videos (docs/model_card.md).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from affectkit.analysis.results import MODALITIES


def clip_scores(fr) -> dict[str, float]:
    """Duration-weighted mean sentiment per modality ('fused' too) over a clip's utterances."""
    out: dict[str, float] = {}
    for scope in ("fused",) + MODALITIES:
        num = den = 0.0
        for u in fr.utterances:
            o = u.fused if scope == "fused" else u.per_modality.get(scope)
            if o is None or o.sentiment is None:
                continue
            w = (u.end - u.start) if u.start is not None and u.end is not None else 1.0
            num += w * o.sentiment
            den += w
        if den > 0:
            out[scope] = num / den
    return out


def accuracy_table(truth: dict[str, float], preds: dict[str, dict[str, float]]) -> dict[str, dict]:
    from affectkit.metrics import sentiment_metrics

    table = {}
    for scope in ("fused",) + MODALITIES:
        ids = [i for i in truth if scope in preds.get(i, {})]
        if len(ids) < 10:
            continue
        y = np.array([truth[i] for i in ids])
        p = np.array([preds[i][scope] for i in ids])
        m = sentiment_metrics(y, p)
        table[scope] = {"n": len(ids), **{k: float(v) for k, v in m.items() if np.isscalar(v)}}
    return table


def mosi400_run(analyzer, root: Path, limit: int | None, progress=None) -> dict:
    import pandas as pd

    labels = pd.read_csv(root / "labels.csv", dtype={"clip_id": str})
    truth = {f"{r.video_id}_{r.clip_id}": float(r.label) for r in labels.itertuples()}
    clips = sorted((root / "video").glob("*.mp4"))
    if limit:
        # spread the subset over videos deterministically
        clips = clips[:: max(1, len(clips) // limit)][:limit]
    media_s = proc_s = 0.0
    preds, failures = {}, []
    for k, clip in enumerate(clips):
        t0 = time.perf_counter()
        fr = analyzer.analyze_file(clip)
        proc_s += time.perf_counter() - t0
        if not fr.ok:
            failures.append(f"{clip.name}: {fr.error}")
            continue
        media_s += fr.duration or 0.0
        preds[clip.stem] = clip_scores(fr)
        if progress:
            progress(k + 1, len(clips))
    truth = {i: truth[i] for i in preds if i in truth}
    return {"clips": len(clips), "media_seconds": media_s, "processing_seconds": proc_s,
            "rtf": proc_s / media_s if media_s else None, "failures": failures,
            "accuracy": accuracy_table(truth, preds)}


def text_throughput(n: int = 1000) -> dict:
    from affectkit.analysis import Analyzer
    from affectkit.data import load_corpus

    utts = [u for u in load_corpus("meld").utterances if u.split == "valid"][:n]
    a = Analyzer(modalities=["text"])
    a.analyze_text([u.text for u in utts[:32]])  # warm-up (model load, first batch)
    t0 = time.perf_counter()
    fr = a.analyze_text([u.text for u in utts], [u.speaker for u in utts])
    dt = time.perf_counter() - t0
    return {"utterances": len(fr.utterances), "seconds": dt, "utterances_per_s": len(fr.utterances) / dt}


def build_long_input(root: Path, minutes: float, dest: Path) -> Path:
    """Concatenate mosi400 clips (stream copy, no re-encode) until ``minutes`` are reached."""
    import av

    clips = sorted((root / "video").glob("*.mp4"))
    total, chosen = 0.0, []
    while total < minutes * 60:
        for c in clips:
            with av.open(str(c)) as f:
                total += (f.duration or 0) / 1e6
            chosen.append(c)
            if total >= minutes * 60:
                break
    lst = dest.with_suffix(".txt")
    lst.write_text("".join(f"file '{c}'\n" for c in chosen))
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(lst),
                    "-c", "copy", str(dest)], check=True)
    return dest


def peak_memory(path: Path, modalities: str = "text,audio,vision") -> dict:
    """Run the analyzer in a child process and read its peak RSS."""
    code = (
        "import json,resource,sys,time\n"
        "from affectkit.analysis import Analyzer\n"
        f"a=Analyzer(modalities={modalities.split(',')!r})\n"
        "t=time.perf_counter()\n"
        f"fr=a.analyze_file({str(path)!r})\n"
        "print(json.dumps({'ok':fr.ok,'error':fr.error,'utterances':len(fr.utterances),"
        "'duration':fr.duration,'seconds':time.perf_counter()-t,"
        "'peak_rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PARTS = ("clips", "audio", "text", "long")


def run_all(root: Path, *, limit: int | None, long_minutes: float | None, progress=None,
            parts: tuple[str, ...] = PARTS) -> dict:
    from affectkit.analysis import Analyzer

    res: dict = {"date": time.strftime("%Y-%m-%d"), "machine": "2-core CPU (shared)"}
    if "clips" in parts:
        full = Analyzer()
        full.analyze_file(sorted((root / "video").glob("*.mp4"))[0])  # warm-up: load every model
        res["all_modalities"] = mosi400_run(full, root, limit, progress)
    if "audio" in parts:
        audio = Analyzer(modalities=["audio"])
        res["audio_only"] = mosi400_run(audio, root, min(limit or 40, 40))
        res["audio_only"].pop("accuracy", None)
    if "text" in parts:
        res["text_only"] = text_throughput()
    if long_minutes and "long" in parts:
        with tempfile.TemporaryDirectory() as d:
            p = build_long_input(root, long_minutes, Path(d) / "long.mp4")
            res["long_input"] = {"minutes": long_minutes, **peak_memory(p)}
    res["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res
