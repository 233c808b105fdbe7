"""Cost of the dialogue context models against dialogue length (``affect bench dialogue-cost``).

One conversation of T utterances (384-d vectors, as ``text.minilm`` gives) through each
``dialogue.*`` model in eval mode, one torch thread, median of ``repeats`` forward passes per
length; the slope of log(time) against log(T) over the longer half of the lengths says how the
cost grows (≈ 1 linear, ≈ 2 quadratic). Peak memory is not measured (allocator noise on CPU).
"""

from __future__ import annotations

import time

import numpy as np

LENGTHS = (10, 25, 50, 100, 250, 500)
MODELS = ("dialogue.ssm", "dialogue.gru", "dialogue.transformer")


def run(lengths=LENGTHS, models=MODELS, *, hidden: int = 128, dim: int = 384,
        repeats: int = 5, seed: int = 0) -> dict:
    import torch

    from affectkit.models import create_model
    from affectkit.types import Modality

    torch.set_num_threads(1)
    T_ = Modality.TEXT
    rows = []
    for name in models:
        torch.manual_seed(seed)
        model = create_model(name, input_dims={T_: dim}, n_outputs=7, hidden=hidden).eval()
        times = []
        for n in lengths:
            x = {T_: torch.randn(1, n, dim)}
            L = {T_: torch.tensor([n])}
            with torch.no_grad():
                model(x, lengths=L)  # warm-up
                ts = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    model(x, lengths=L)
                    ts.append(time.perf_counter() - t0)
            times.append(float(np.median(ts)))
        half = len(lengths) // 2
        slope = float(np.polyfit(np.log(lengths[half:]), np.log(times[half:]), 1)[0])
        rows.append({"model": name, "ms": [round(1000 * t, 2) for t in times],
                     "ms_per_utterance": [round(1000 * t / n, 3) for t, n in zip(times, lengths)],
                     "slope_loglog": round(slope, 2),
                     "n_parameters": int(sum(p.numel() for p in model.parameters()))})
    return {"lengths": list(lengths), "hidden": hidden, "dim": dim, "repeats": repeats,
            "rows": rows}


def to_markdown(res: dict) -> str:
    head = "| model | params | " + " | ".join(f"T={n}" for n in res["lengths"]) + " | log-log slope |"
    sep = "|---" * (len(res["lengths"]) + 3) + "|"
    lines = [head, sep]
    for r in res["rows"]:
        lines.append(f"| {r['model']} | {r['n_parameters']:,} | "
                     + " | ".join(f"{m:.1f} ms" for m in r["ms"]) + f" | {r['slope_loglog']} |")
    return "\n".join(lines)
