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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from affectkit.analysis.results import MODALITIES
from affectkit.errors import ConfigError


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


def load() -> list[float]:
    """1-, 5- and 15-minute load averages (the machine is shared: RTFs depend on them)."""
    import os

    return [round(x, 2) for x in os.getloadavg()]


def mosi400_clips(root: Path, limit: int | None) -> list[Path]:
    clips = sorted((root / "video").glob("*.mp4"))
    if limit:
        # spread the subset over videos deterministically
        clips = clips[:: max(1, len(clips) // limit)][:limit]
    return clips


def bare_asr(audios: list[np.ndarray], size: str = "base") -> dict:
    """The compute bound of speech recognition: stock faster-whisper (a fresh, unpatched
    ``WhisperModel`` of the same files, int8, same threads) transcribing the same 16 kHz audio
    with Silero VAD, greedy decoding and language detection, no word timestamps; the
    analyzer's overhead is reported as a ratio to this time."""
    from faster_whisper import WhisperModel

    from affectkit.backbones import whisper as backbone

    m = WhisperModel(str(backbone.model_dir(size)), device="cpu", compute_type="int8",
                     cpu_threads=backbone._threads(), local_files_only=True)
    m.transcribe(np.zeros(16_000, np.float32), beam_size=1)  # warm-up
    t0 = time.perf_counter()
    for x in audios:
        segs, _ = m.transcribe(x, beam_size=1, vad_filter=True, condition_on_previous_text=False)
        list(segs)
    dt = time.perf_counter() - t0
    secs = sum(len(x) for x in audios) / 16_000
    return {"model": f"whisper {size} (stock faster-whisper)", "media_seconds": secs,
            "seconds": dt, "rtf": dt / secs if secs else None}


def mosi400_run(analyzer, root: Path, limit: int | None, progress=None) -> dict:
    import pandas as pd

    labels = pd.read_csv(root / "labels.csv", dtype={"clip_id": str})
    truth = {f"{r.video_id}_{r.clip_id}": float(r.label) for r in labels.itertuples()}
    clips = mosi400_clips(root, limit)
    load0 = load()
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
            "load_before": load0, "load_after": load(),
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

    if shutil.which("ffmpeg") is None:
        raise ConfigError("the long-input part concatenates mosi400 clips with the `ffmpeg` "
                          "command, which is not on PATH: install it (apt install ffmpeg) or "
                          "leave `long` out of --parts")

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


_HWM = ("def hwm():\n"
        "    for l in open('/proc/self/status'):\n"
        "        if l.startswith('VmHWM:'): return int(l.split()[1])/1024\n")
# peak RSS of the child itself: /proc/self/status VmHWM (ru_maxrss would include the parent's
# peak, which Linux carries across fork + exec)


def peak_memory(path: Path, modalities: str = "text,audio,vision", warmup: Path | None = None) -> dict:
    """Run the analyzer in a child process and read its peak RSS. With ``warmup`` (a short
    clip analysed first, diarisation on) the models are loaded before the clock starts."""
    code = (
        "import json,os,sys,time\n" + _HWM +
        "import torch; torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS') or 2))\n"
        "from affectkit.analysis import Analyzer\n"
        f"a=Analyzer(modalities={modalities.split(',')!r})\n"
        + (f"Analyzer(modalities={modalities.split(',')!r}, predictors=a.predictors, "
           f"fusion=a.fusion, diarise=True).analyze_file({str(warmup)!r})\n" if warmup else "")
        + "t=time.perf_counter()\n"
        f"fr=a.analyze_file({str(path)!r})\n"
        "print(json.dumps({'ok':fr.ok,'error':fr.error,'utterances':len(fr.utterances),"
        "'speakers':len({u.speaker for u in fr.utterances if u.speaker}),"
        "'non_speech':sum(bool(u.non_speech) for u in fr.utterances),"
        "'duration':fr.duration,'seconds':time.perf_counter()-t,"
        "'peak_rss_mb':hwm()}))\n"
    )
    load0 = load()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(modalities=modalities, load_before=load0, load_after=load())
    if res.get("duration"):
        res["rtf"] = res["seconds"] / res["duration"]
    return res


def bare_asr_child(path: Path) -> dict:
    """:func:`bare_asr` of a file's whole audio in a child process (its own peak RSS)."""
    code = (
        "import json\n" + _HWM +
        "from affectkit import media\n"
        "from affectkit.analysis.bench import bare_asr\n"
        f"r=bare_asr([media.load_audio({str(path)!r})])\n"
        "r['peak_rss_mb']=hwm()\n"
        "print(json.dumps(r))\n"
    )
    load0 = load()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_before": load0,
            "load_after": load()}


def parse_long_runs(spec: str) -> list[tuple[float, str]]:
    """``"60:audio 5:text+audio+vision"`` → [(60.0, "audio"), (5.0, "text,audio,vision")]."""

    runs = []
    for part in spec.split():
        try:
            minutes, mods = part.split(":")
            runs.append((float(minutes), mods.replace("+", ",")))
        except ValueError:
            raise ConfigError(f"--long-runs: {part!r} is not MINUTES:MODALITIES "
                              "(e.g. 60:audio 5:text+audio+vision)") from None
    return runs


PARTS = ("clips", "audio", "text", "long")


def run_all(root: Path, *, limit: int | None, long_minutes: float | None, progress=None,
            parts: tuple[str, ...] = PARTS, long_runs: list[tuple[float, str]] | None = None,
            diarise: bool | None = True) -> dict:
    """``clips``: all modalities (base ASR; diarisation forced on with ``diarise=True``,
    although the analyzer's default only diarises > 20 s of speech) on ``limit`` mosi400
    clips, then :func:`bare_asr` of the same clips' audio and the ratio; ``audio``: audio-only
    on the same clips; ``text``: text throughput; ``long``: for each ``(minutes, modalities)``
    of ``long_runs`` (default ``[(long_minutes, all)]``) a concatenated mosi400 input analysed
    in a child process (peak RSS, RTF) and, when the text modality is on, stock Whisper base
    on the same audio in another child. Every part records the load average before/after."""
    import os

    import torch

    from affectkit import media
    from affectkit.analysis import Analyzer
    from affectkit.backbones import whisper as backbone

    torch.set_num_threads(backbone._threads())
    res: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()}-core CPU "
                 "(shared with other jobs: see load_before/after)",
                 "threads": backbone._threads(), "load_start": load()}
    if "clips" in parts:
        full = Analyzer(diarise=diarise)
        full.analyze_file(sorted((root / "video").glob("*.mp4"))[0])  # warm-up: load every model
        res["all_modalities"] = mosi400_run(full, root, limit, progress)
        res["all_modalities"]["diarise"] = diarise
        audios = [media.load_audio(c) for c in mosi400_clips(root, limit)]
        res["bare_asr"] = {**bare_asr(audios), "load_after": load()}
        if res["bare_asr"]["seconds"]:
            res["all_modalities"]["ratio_to_bare_asr"] = (
                res["all_modalities"]["processing_seconds"] / res["bare_asr"]["seconds"])
    if "audio" in parts:
        audio = Analyzer(modalities=["audio"], diarise=diarise)
        audio.analyze_file(sorted((root / "video").glob("*.mp4"))[0])  # warm-up
        res["audio_only"] = mosi400_run(audio, root, min(limit or 40, 40))
        res["audio_only"].pop("accuracy", None)
        res["audio_only"]["diarise"] = diarise
        if res.get("bare_asr", {}).get("seconds") and limit and limit <= 40:
            res["audio_only"]["ratio_to_bare_asr"] = (
                res["audio_only"]["processing_seconds"] / res["bare_asr"]["seconds"])
    if "text" in parts:
        res["text_only"] = text_throughput()
    runs = long_runs or ([(long_minutes, ",".join(MODALITIES))] if long_minutes else [])
    if runs and "long" in parts:
        res["long_runs"] = []
        for minutes, mods in runs:
            with tempfile.TemporaryDirectory() as d:
                p = build_long_input(root, minutes, Path(d) / "long.mp4")
                r = {"minutes": minutes,
                     **peak_memory(p, mods, warmup=sorted((root / "video").glob("*.mp4"))[0])}
                if "text" in mods.split(","):
                    r["bare_asr"] = bare_asr_child(p)
                    r["ratio_to_bare_asr"] = r["seconds"] / r["bare_asr"]["seconds"]
                res["long_runs"].append(r)
                if progress:
                    progress(len(res["long_runs"]), len(runs))
        res["long_input"] = res["long_runs"][0]
    res["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["load_end"] = load()
    if "clips" in parts:
        res["whisper_encode_memo"] = dict(getattr(backbone.load_model("base"), "encode_stats", {}))
        # (before 2026-11-27 18:30 this read a second, unused model: lru_cache keyed on spelling)
    return res
