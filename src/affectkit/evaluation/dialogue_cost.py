"""Cost of the dialogue context models against dialogue length (``affect bench dialogue-cost``).

One conversation of T utterances (384-d vectors, as ``text.minilm`` gives) through each
``dialogue.*`` model in eval mode (the SSM with each of its scan implementations; plain
``dialogue.ssm`` is ``scan="auto"``, the compiled scan under ``no_grad``), one torch thread,
median of ``repeats`` forward passes per length: wall clock (``ms``) and the process's CPU
time (``cpu_ms``, which other processes on a busy machine inflate less), each with its
quartiles (``*_p25_p75``).
The slope of log(time) against log(T) over the longer half of the lengths says how the cost
grows (≈ 1 linear, ≈ 2 quadratic). Each row also keeps its model's very first forward pass
(``first_call_ms``: imports and, for the compiled scan, numba's JIT compile or its on-disk
cache load), and the result the machine's load average before and after. Peak memory is not
measured (allocator noise on CPU).
"""

from __future__ import annotations

import os
import time

import numpy as np

LENGTHS = (10, 25, 50, 100, 250, 500)
#: ``name`` or ``name:scan`` (the Broad-Mamba SSM with one of :data:`affectkit.models.ssm.SCANS`;
#: plain ``dialogue.ssm`` uses ``auto`` — the compiled scan on a CPU at inference when numba
#: imports, else the loop)
MODELS = ("dialogue.ssm", "dialogue.ssm:loop", "dialogue.ssm:stepwise", "dialogue.ssm:parallel",
          "dialogue.gru", "dialogue.transformer")
SCAN_NOTES = {"": "auto: compiled scan at inference, default",
              "compiled": "compiled scan (numba)", "loop": "PyTorch loop scan, as in training",
              "stepwise": "stepwise scan, the first version", "parallel": "parallel prefix scan"}


def run(lengths=LENGTHS, models=MODELS, *, hidden: int = 128, dim: int = 384,
        repeats: int = 5, seed: int = 0) -> dict:
    """Models are timed round-robin (each repeat times every model in turn), so a change of
    machine load between models hits them alike."""
    import torch

    from affectkit.models import create_model
    from affectkit.models.ssm import SelectiveSSM
    from affectkit.types import Modality

    torch.set_num_threads(1)
    load_before = [round(v, 2) for v in os.getloadavg()]
    T_ = Modality.TEXT
    built = {}
    for spec in models:
        name, _, scan = spec.partition(":")
        torch.manual_seed(seed)
        model = create_model(name, input_dims={T_: dim}, n_outputs=7, hidden=hidden).eval()
        if scan:
            for m in model.modules():
                if isinstance(m, SelectiveSSM):
                    m.scan = scan
        built[spec] = model
    times: dict[str, list[float]] = {spec: [] for spec in models}
    cpu: dict[str, list[float]] = {spec: [] for spec in models}
    spread: dict[str, list[list[float]]] = {spec: [] for spec in models}
    cpu_spread: dict[str, list[list[float]]] = {spec: [] for spec in models}
    first_call: dict[str, float] = {}
    for n in lengths:
        x = {T_: torch.randn(1, n, dim)}
        L = {T_: torch.tensor([n])}
        ts: dict[str, list[float]] = {spec: [] for spec in models}
        cs: dict[str, list[float]] = {spec: [] for spec in models}
        with torch.no_grad():
            for spec, model in built.items():
                t0 = time.perf_counter()
                model(x, lengths=L)  # warm-up (the very first call: imports, JIT compile/load)
                first_call.setdefault(spec, time.perf_counter() - t0)
            for _ in range(repeats):
                for spec, model in built.items():
                    t0, c0 = time.perf_counter(), time.process_time()
                    model(x, lengths=L)
                    cs[spec].append(time.process_time() - c0)
                    ts[spec].append(time.perf_counter() - t0)
        for spec in models:
            times[spec].append(float(np.median(ts[spec])))
            cpu[spec].append(float(np.median(cs[spec])))
            spread[spec].append([round(1000 * float(q), 2)
                                 for q in np.percentile(ts[spec], [25, 75])])
            cpu_spread[spec].append([round(1000 * float(q), 2)
                                     for q in np.percentile(cs[spec], [25, 75])])
    rows = []
    for spec, model in built.items():
        name, _, scan = spec.partition(":")
        rows.append({"model": spec, "note": SCAN_NOTES.get(scan, scan) if name == "dialogue.ssm"
                     else "", "ms": [round(1000 * t, 2) for t in times[spec]],
                     "ms_per_utterance": [round(1000 * t / n, 3)
                                          for t, n in zip(times[spec], lengths)],
                     "ms_p25_p75": spread[spec],
                     "cpu_ms": [round(1000 * t, 2) for t in cpu[spec]],
                     "cpu_ms_p25_p75": cpu_spread[spec],
                     "slope_loglog": _slope(lengths, times[spec]),
                     "first_call_ms": round(1000 * first_call[spec], 1),
                     "n_parameters": int(sum(p.numel() for p in model.parameters()))})
    return {"lengths": list(lengths), "hidden": hidden, "dim": dim, "repeats": repeats,
            "load_average_1_5_15min": {"before": load_before,
                                       "after": [round(v, 2) for v in os.getloadavg()]},
            "rows": rows}


def _slope(lengths, times) -> float:
    """Slope of log(time) against log(T) over the longer half of the lengths."""
    half = len(lengths) // 2
    return round(float(np.polyfit(np.log(lengths[half:]), np.log(times[half:]), 1)[0]), 2)


def to_markdown(res: dict, key: str = "ms") -> str:
    """The table of wall-clock medians (``key="ms"``) or process CPU-time medians
    (``key="cpu_ms"``)."""
    head = "| model | params | " + " | ".join(f"T={n}" for n in res["lengths"]) + " | log-log slope |"
    sep = "|---" * (len(res["lengths"]) + 3) + "|"
    lines = [head, sep]
    for r in res["rows"]:
        label = r["model"] + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {label} | {r['n_parameters']:,} | "
                     + " | ".join(f"{m:.1f} ms" for m in r[key])
                     + f" | {_slope(res['lengths'], r[key])} |")
    return "\n".join(lines)
