"""CAM++ eager vs frozen TorchScript (``diarise.CAMPLUS_JIT``): CPU time per sub-segment in
isolation, inside ``embed_segments``, and the one-off cost of tracing + freezing.

    OMP_NUM_THREADS=1 python benchmarks/camplus_jit_probe.py > benchmarks/results/camplus_jit_probe_2026-12-07.txt

Input: one synthetic EmoDB conversation (3 speakers, seed 201 — an exploration seed). CPU time
(``time.process_time``, one torch thread); passes of 8 and 16 rows of 148 frames; the variants
alternate, repeated, medians reported.
"""

import os
import time

import numpy as np
import torch

from affectkit.analysis import diarise as D
from affectkit.analysis.diarise import speaker_clips

torch.set_num_threads(1)
print("load average", [round(v, 2) for v in os.getloadavg()])
by = speaker_clips(("emodb",))["emodb"]
x, _ = D.synthetic_conversation(by, 3, seed=201)
x = np.clip(x, -1, 1).astype(np.float32)
d = D._diarizer()
d.logical_cores = 1
sub = d._generate_subsegments(D._silero_vad(x), None)
f, fr, off, fd = d._extract_fbank_features(x, sub)
big = torch.from_numpy(f)
rows = [big[int(o):int(o) + int(n) * fd].view(int(n), fd) for n, o in zip(fr, off) if n == 148]
X = torch.stack(rows[:64])
m = d.embeddings_model
c = time.process_time()
with torch.no_grad():
    frozen8 = torch.jit.freeze(torch.jit.trace(m, torch.zeros(8, 148, 80), check_trace=False))
print(f"trace + freeze (8 rows): {time.process_time() - c:.2f} s CPU")
with torch.no_grad():
    V = {("eager", 8): m, ("eager", 16): m, ("frozen", 8): frozen8,
         ("frozen", 16): torch.jit.freeze(torch.jit.trace(m, torch.zeros(16, 148, 80),
                                                          check_trace=False)),
         ("frozen+mkldnn", 8): torch.jit.optimize_for_inference(
             torch.jit.trace(m, torch.zeros(8, 148, 80), check_trace=False))}
res: dict = {}
with torch.inference_mode():
    ref = torch.cat([m(X[i:i + 8]) for i in range(0, len(X), 8)])
    for k, fn in V.items():
        for _ in range(3):  # the profiling executor optimises after its first calls
            y = torch.cat([fn(X[i:i + k[1]]) for i in range(0, len(X), k[1])])
        print(k, "max |diff| to eager", f"{float((y - ref).abs().max()):.1e}")
    for rep in range(5):
        for k, fn in V.items():
            c = time.process_time()
            for i in range(0, len(X), k[1]):
                fn(X[i:i + k[1]])
            res.setdefault(k, []).append((time.process_time() - c) / len(X) * 1000)
for k, v in res.items():
    print(f"isolation {k}: median {np.median(v):.1f} ms CPU per sub-segment "
          f"(min {min(v):.1f}, max {max(v):.1f}; {len(X)} sub-segments x 5)")
pipe: dict = {}
for j in (True, False):
    D.CAMPLUS_JIT = j
    D.embed_segments(x[:16_000 * 30])
for rep in range(3):
    for j in (True, False):
        D.CAMPLUS_JIT = j
        c = time.process_time()
        D.embed_segments(x)
        pipe.setdefault(j, []).append(round(time.process_time() - c, 2))
print(f"embed_segments on {len(x) / 16000:.1f} s ({len(sub)} sub-segments), CPU s per run: "
      f"frozen {pipe[True]}, eager {pipe[False]}")
print("load average", [round(v, 2) for v in os.getloadavg()])
