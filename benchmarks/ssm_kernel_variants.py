"""The inference forms of the selective scan from its factors, timed alone (issue 14).

    OMP_NUM_THREADS=1 python benchmarks/ssm_kernel_variants.py > benchmarks/results/ssm-kernel-variants-2026-12-07.json

Inputs as one SelectiveSSM direction of dialogue.ssm sees them: Δ, x (1, T, 256), A (256, 8),
B, C (1, T, 8), skip D (256). Forms: ``torch_loop`` (what the training path does: build
exp(ΔA) and ΔB·x as (1, T, 256, 8) tensors, then ``loop_scan``), ``compiled`` (the kept kernel,
models/ssm_kernel.py: numba loop, decays by NumPy's vectorised exp in chunks), ``numba_scalar_exp``
(everything in one numba loop, exp included: numba's exp is scalar), and ``numpy_exp_only``
(NumPy's exp of the T·256·8 decays alone, for scale). Also the 3-tap causal depthwise
convolution: ``conv1d`` (padded, cut to T, as in training) against ``shifted_addcmul`` (the
inference path). Process CPU time, median of 11 calls after one warm-up, milliseconds; max
absolute difference against ``torch_loop``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time

import numba
import numpy as np
import torch
import torch.nn.functional as F

from affectkit.models import ssm_kernel
from affectkit.models.ssm import loop_scan


@numba.njit(cache=True, nogil=True)
def numba_scalar_exp(dt, A, Bm, x, C, Dskip, out):  # pragma: no cover - compiled
    nb, T, nd = dt.shape
    nn_ = A.shape[1]
    h = np.zeros((nd, nn_), dtype=np.float32)
    for b in range(nb):
        h[:] = 0
        for t in range(T):
            for d in range(nd):
                u = dt[b, t, d] * x[b, t, d]
                acc = np.float32(0.0)
                for n in range(nn_):
                    hv = math.exp(dt[b, t, d] * A[d, n]) * h[d, n] + u * Bm[b, t, n]
                    h[d, n] = hv
                    acc += hv * C[b, t, n]
                out[b, t, d] = acc + Dskip[d] * x[b, t, d]


def timed(f, n=11):
    f()
    ts = []
    for _ in range(n):
        c0 = time.process_time()
        f()
        ts.append(time.process_time() - c0)
    return round(1000 * statistics.median(ts), 3)


def main() -> None:
    torch.set_num_threads(1)
    out = {"date": "2026-12-07", "numba": numba.__version__,
           "load_average_before": [round(v, 2) for v in os.getloadavg()],
           "cpu_ms": {}, "max_abs_diff_vs_torch_loop": {}}
    for T in (100, 500, 1000):
        g = torch.Generator().manual_seed(0)
        dt = F.softplus(torch.randn(1, T, 256, generator=g) - 2)
        A = -torch.arange(1, 9).float().repeat(256, 1) * torch.rand(256, 1, generator=g).add(0.5)
        Bm, C = torch.randn(1, T, 8, generator=g), torch.randn(1, T, 8, generator=g)
        x, D = torch.randn(1, T, 256, generator=g), torch.randn(256, generator=g)

        def torch_loop():
            dA = torch.exp(dt[..., None] * A)
            dBx = dt[..., None] * Bm[:, :, None, :] * x[..., None]
            return loop_scan(dA, dBx, C) + D * x

        arrs = [t.numpy() for t in (dt, A, Bm, x, C, D)]
        buf = np.empty((1, T, 256), dtype=np.float32)

        def scalar():
            numba_scalar_exp(*arrs, buf)
            return torch.from_numpy(buf.copy())

        dec = (dt[..., None] * A).numpy()
        dec_out = np.empty_like(dec)
        conv = torch.nn.Conv1d(256, 256, 3, groups=256, padding=2)
        w = conv.weight[:, 0, :]

        def conv1d():
            return conv(x.transpose(1, 2))[..., :T].transpose(1, 2)

        def shifted():
            y = torch.addcmul(conv.bias, x, w[:, 2])
            for j in (1, 2):
                y[:, j:].addcmul_(x[:, :T - j], w[:, 2 - j])
            return y

        with torch.no_grad():
            ref = torch_loop()
            forms = {"torch_loop": torch_loop,
                     "compiled": lambda: ssm_kernel.selective_scan(dt, A, Bm, x, C, D),
                     "numba_scalar_exp": scalar}
            out["cpu_ms"][T] = {k: timed(f) for k, f in forms.items()}
            out["cpu_ms"][T]["numpy_exp_only"] = timed(lambda: np.exp(dec, out=dec_out))
            out["cpu_ms"][T]["conv1d"] = timed(conv1d)
            out["cpu_ms"][T]["shifted_addcmul"] = timed(shifted)
            out["max_abs_diff_vs_torch_loop"][T] = {
                k: float((f() - ref).abs().max()) for k, f in forms.items()}
            out["max_abs_diff_vs_torch_loop"][T]["shifted_addcmul_vs_conv1d"] = float(
                (shifted() - conv1d()).abs().max())
    out["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
