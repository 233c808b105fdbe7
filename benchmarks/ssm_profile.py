"""Where the time of one dialogue.ssm forward pass goes, loop scan against the compiled scan
(issue 14, step 1 of making the SSM cheaper per dialogue).

    OMP_NUM_THREADS=1 python benchmarks/ssm_profile.py > benchmarks/results/ssm-profile-2026-12-07.json

One 500-utterance dialogue (384-d vectors, hidden 128, the ``affect bench dialogue-cost``
sizes), eval, no_grad, one torch thread. Each component is timed with forward hooks in process
CPU time (less inflated by other processes than the wall clock on a shared machine), median
of 21 passes after 3 warm-ups, milliseconds. ``scan`` is the selective-scan function alone
(``loop_scan``, or the compiled kernel with its decays and skip term); ``ssm other`` is the
rest of the two SelectiveSSM passes: building exp(ΔA) and ΔB·x (loop only), the depthwise
convolution, activations, masks, the skip and gate products.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import defaultdict

import torch

from affectkit.models import create_model, ssm
from affectkit.models.ssm import SelectiveSSM
from affectkit.types import Modality

T, DIM, HIDDEN, REPEATS = 500, 384, 128, 21
clock = time.process_time


def profile(scan: str) -> dict:
    torch.manual_seed(0)
    model = create_model("dialogue.ssm", input_dims={Modality.TEXT: DIM}, n_outputs=7,
                         hidden=HIDDEN).eval()
    for m in model.modules():
        if isinstance(m, SelectiveSSM):
            m.scan = scan
    acc: dict[str, float] = defaultdict(float)
    names = {"encoders.text.inp": "utterance input (LayerNorm, Linear 384→128, GELU)",
             "encoders.text.net.proj": "encoder input projection",
             "encoders.text.net.layers.0.norm": "layer norm",
             "encoders.text.net.layers.0.fwd": "ssm forward direction",
             "encoders.text.net.layers.0.bwd": "ssm backward direction",
             "encoders.text.net.broad": "broad-learning block",
             "encoders.text.net.norm": "output norm", "heads.text": "head"}
    proj = ("in_proj", "x_proj", "dt_proj", "out_proj")

    def hook(label):
        def pre(mod, inp):
            mod._t0 = clock()

        def post(mod, inp, out):
            acc[label] += clock() - mod._t0
        return pre, post

    for name, mod in model.named_modules():
        label = names.get(name)
        if label is None and name.rsplit(".", 1)[-1] in proj and ".layers." in name:
            label = "ssm projections (in, x, dt, out; both directions)"
        if label:
            pre, post = hook(label)
            mod.register_forward_pre_hook(pre)
            mod.register_forward_hook(post)

    def timed(f):
        def g(*a, **k):
            t0 = clock()
            r = f(*a, **k)
            acc["scan"] += clock() - t0
            return r
        return g

    real_loop = ssm.SCANS["loop"]
    kernel = ssm.compiled_kernel()
    real_kernel = kernel.selective_scan if kernel else None
    ssm.SCANS["loop"] = timed(real_loop)
    if kernel:
        kernel.selective_scan = timed(real_kernel)
    x = {Modality.TEXT: torch.randn(1, T, DIM)}
    L = {Modality.TEXT: torch.tensor([T])}
    per: dict[str, list[float]] = defaultdict(list)
    try:
        with torch.no_grad():
            for i in range(3 + REPEATS):
                acc.clear()
                t0, w0 = clock(), time.perf_counter()
                model(x, lengths=L)
                acc["total (CPU)"] = clock() - t0
                acc["total (wall)"] = time.perf_counter() - w0
                if i >= 3:
                    for k, v in acc.items():
                        per[k].append(v)
    finally:
        ssm.SCANS["loop"] = real_loop
        if kernel:
            kernel.selective_scan = real_kernel
    med = {k: statistics.median(v) * 1000 for k, v in per.items()}
    fb = med.pop("ssm forward direction") + med.pop("ssm backward direction")
    med["ssm other"] = fb - med["ssm projections (in, x, dt, out; both directions)"] - med["scan"]
    return {k: round(v, 2) for k, v in sorted(med.items(), key=lambda kv: -kv[1])}


def main() -> None:
    torch.set_num_threads(1)
    out = {"date": "2026-12-07", "T": T, "dim": DIM, "hidden": HIDDEN, "repeats": REPEATS,
           "load_average_before": [round(v, 2) for v in os.getloadavg()],
           "ms": {"loop": profile("loop"), "auto (compiled)": profile("auto")}}
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
