"""Word error rate of the Whisper ASR models on the mosi400 clips: ``affect bench asr``.

Reference: the CMU-MOSI transcript of each clip (``multimodal/mosi400/labels.csv``, the ``text``
column, upper case without punctuation). Hypothesis: :func:`affectkit.features.asr.whisper.
transcribe` on the clip's audio track (VAD on, greedy decoding as in ``affect analyze``), all
segments joined. Both sides are normalised the same way: upper case, apostrophes dropped
(``DIDN'T`` → ``DIDNT``, as the references spell it), every other non-alphanumeric character a
space. WER = (substitutions + deletions + insertions) / reference words, pooled over clips
(corpus WER), plus the mean of per-clip WERs. ``--limit N`` takes N clips spread evenly over the
sorted clip list (all 16 videos). Timing: wall seconds of recognition only (decoding excluded),
real-time factor = that / audio seconds.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import numpy as np

from affectkit.errors import DataError

_APOS = re.compile(r"['’`]")
_NON = re.compile(r"[^A-Z0-9]+")


def normalise(text: str) -> list[str]:
    t = _APOS.sub("", text.upper())
    return _NON.sub(" ", t).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def clips(root: Path, limit: int | None = None) -> list[tuple[Path, str]]:
    labels = root / "labels.csv"
    if not labels.is_file():
        raise DataError(f"{labels} not found: `affect bench asr` needs the mosi400 corpus "
                        "($AFFECTKIT_DATA/multimodal/mosi400)")
    rows = []
    with open(labels, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            p = root / "video" / f"{r['video_id']}_{r['clip_id']}.mp4"
            if p.is_file() and r["text"].strip():
                rows.append((p, r["text"]))
    rows.sort(key=lambda t: t[0].name)
    if limit and len(rows) > limit:
        idx = np.linspace(0, len(rows) - 1, limit).round().astype(int)
        rows = [rows[i] for i in idx]
    return rows


def run(root: Path, *, models=("base", "tiny.en"), limit: int | None = None,
        progress: bool = True) -> dict:
    from rich.progress import Progress

    from affectkit.features.asr.whisper import load_model, transcribe
    from affectkit.media import load_audio

    items = clips(root, limit)
    audio = [load_audio(p) for p, _ in items]
    secs = float(sum(len(a) for a in audio) / 16_000)
    out: dict = {"n_clips": len(items), "audio_seconds": round(secs, 1), "models": {}}
    with Progress(disable=not progress, transient=True) as bar:
        for m in models:
            load_model("int8", m)  # load outside the timing
            task = bar.add_task(f"ASR {m}", total=len(items))
            errs = words = 0
            per, langs = [], {}
            t0 = time.perf_counter()
            hyps = []
            for a in audio:
                segs = transcribe(a, model=m)
                hyps.append(" ".join(s.text for s in segs))
                for s in segs:
                    langs[s.language] = langs.get(s.language, 0) + 1
                bar.advance(task)
            dt = time.perf_counter() - t0
            examples = []
            for (p, ref), hyp in zip(items, hyps):
                r, h = normalise(ref), normalise(hyp)
                e = edit_distance(r, h)
                errs += e
                words += len(r)
                per.append(e / max(1, len(r)))
                if len(examples) < 5:  # clip ids and error counts only: the transcripts are
                    # corpus data and never go into committed results
                    examples.append({"clip": p.stem, "errors": e, "ref_words": len(r)})
            out["models"][m] = {
                "wer": round(errs / max(1, words), 4), "mean_clip_wer": round(float(np.mean(per)), 4),
                "ref_words": words, "seconds": round(dt, 1), "rtf": round(dt / secs, 4),
                "segment_languages": dict(sorted(langs.items(), key=lambda kv: -kv[1])),
                "examples": examples,
            }
    return out
