"""First-call cost of the compiled selective scan (models/ssm_kernel.py, numba JIT), issue 14.

    OMP_NUM_THREADS=1 python benchmarks/ssm_kernel_first_call.py > benchmarks/results/ssm-kernel-first-call-2026-12-07.json

Each run is a fresh Python process with its own numba cache folder (``NUMBA_CACHE_DIR``):
``cold`` starts from an empty cache (the JIT compiles both kernels and writes the cache),
``warm`` runs again on that cache (the kernels are loaded from disk), as every later process
does (the package's own cache lives in ``models/__pycache__`` unless ``NUMBA_CACHE_DIR`` is
set). Per run, seconds of wall clock (and of process CPU time, ``*_cpu_s``, which a busy
machine inflates less): ``import_s`` (importing the kernel module, i.e. numba),
``first_call_s`` (the first call on a tiny input: compile or cache load), then for
``dialogue.ssm`` (hidden 128, one 500-utterance dialogue, eval, no_grad, one torch thread) the
first forward pass (``model_first_forward_s``; the kernel is already loaded) and the median of
5 later ones (``model_forward_s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, statistics, time
import torch
torch.set_num_threads(1)
c0, t0 = time.process_time(), time.perf_counter()
from affectkit.models import ssm_kernel
c1, t1 = time.process_time(), time.perf_counter()
g = torch.Generator().manual_seed(0)
ssm_kernel.selective_scan(torch.rand(1, 4, 8, generator=g), -torch.rand(8, 2, generator=g),
                          torch.randn(1, 4, 2, generator=g), torch.randn(1, 4, 8, generator=g),
                          torch.randn(1, 4, 2, generator=g), torch.ones(8))
c2, t2 = time.process_time(), time.perf_counter()
from affectkit.models import create_model
from affectkit.types import Modality
torch.manual_seed(0)
m = create_model("dialogue.ssm", input_dims={Modality.TEXT: 384}, n_outputs=7, hidden=128).eval()
x = {Modality.TEXT: torch.randn(1, 500, 384)}
L = {Modality.TEXT: torch.tensor([500])}
with torch.no_grad():
    t3 = time.perf_counter()
    m(x, lengths=L)
    t4 = time.perf_counter()
    ts = []
    for _ in range(5):
        a = time.perf_counter()
        m(x, lengths=L)
        ts.append(time.perf_counter() - a)
print(json.dumps({"import_s": round(t1 - t0, 3), "first_call_s": round(t2 - t1, 3),
                  "import_cpu_s": round(c1 - c0, 3), "first_call_cpu_s": round(c2 - c1, 3),
                  "model_first_forward_s": round(t4 - t3, 4),
                  "model_forward_s": round(statistics.median(ts), 4)}))
"""


def main() -> None:
    import numba

    out = {"date": "2026-12-07", "numba": numba.__version__,
           "load_average_before": [round(v, 2) for v in os.getloadavg()], "runs": {}}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        for name in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                                 text=True, check=True)
            out["runs"][name] = json.loads(res.stdout.strip().splitlines()[-1])
        out["cache_files"] = len(os.listdir(cache)) > 0
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
