"""Selective-scan forms tried for models/ssm.py, timed alone on one CPU thread (issue 14).

    OMP_NUM_THREADS=1 python benchmarks/ssm_scan_variants.py > benchmarks/results/ssm-scan-variants.json

Recurrence h_t = a_t·h_{t−1} + b_t over (1, T, 256, 8) states (the dialogue.ssm sizes), output
read with C. Forms: ``stepwise`` / ``loop`` / ``parallel`` (models.ssm.SCANS), ``chunked`` (a
closed-form scan in log space: cumsum of log-decays within chunks of 32, float64 against
overflow, a carry loop over chunks; not kept), and the loop under TorchScript (forward and
forward+backward; not kept). Median of 3 calls, milliseconds.
"""

from __future__ import annotations

import json
import time

import torch

from affectkit.models.ssm import SCANS


def chunked(dA, b, C, K=32):
    la = dA.log()
    B, T = b.shape[:2]
    nC = -(-T // K)
    pad = nC * K - T
    la, b = la.clamp(min=-40).double(), b.double()
    if pad:
        la = torch.cat([la, la.new_zeros(B, pad, *la.shape[2:])], 1)
        b = torch.cat([b, b.new_zeros(B, pad, *b.shape[2:])], 1)
    la, b = la.view(B, nC, K, *la.shape[2:]), b.view(B, nC, K, *b.shape[2:])
    L = la.cumsum(2)
    eL = L.exp()
    hl = eL * (b * (-L).exp()).cumsum(2)
    dec, end = eL[:, :, -1], hl[:, :, -1]
    carry = [torch.zeros_like(end[:, 0])]
    for c in range(nC - 1):
        carry.append(torch.addcmul(end[:, c], dec[:, c], carry[-1]))
    h = (hl + eL * torch.stack(carry, 1)[:, :, None]).view(B, nC * K, *hl.shape[3:])[:, :T]
    return torch.einsum("btdn,btn->btd", h.float(), C)


@torch.jit.script
def loop_jit(dA: torch.Tensor, b: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    h = torch.zeros_like(b[:, 0])
    hs: list[torch.Tensor] = []
    for t in range(b.shape[1]):
        h = torch.addcmul(b[:, t], dA[:, t], h)
        hs.append(h)
    return torch.einsum("btdn,btn->btd", torch.stack(hs, 1), C)


def timed(f, *args, backward=False, n=3):
    ts = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        y = f(*args)
        if backward:
            y.sum().backward()
        ts.append(time.perf_counter() - t0)
    return round(1000 * sorted(ts[1:])[n // 2], 2)


def main():
    torch.set_num_threads(1)
    out = {"forward_ms": {}, "forward_backward_ms": {}}
    for T in (100, 500, 1000):
        g = torch.Generator().manual_seed(0)
        dA = torch.rand(1, T, 256, 8, generator=g) * 0.5 + 0.5
        b, C = torch.randn(1, T, 256, 8, generator=g), torch.randn(1, T, 8, generator=g)
        fs = dict(SCANS) | {"chunked": chunked, "loop_torchscript": loop_jit}
        ref = SCANS["stepwise"](dA, b, C)
        out["forward_ms"][T] = {k: timed(f, dA, b, C) for k, f in fs.items()}
        out.setdefault("max_abs_diff_vs_stepwise", {})[T] = {
            k: float((f(dA, b, C) - ref).abs().max()) for k, f in fs.items()}
    for T in (100, 500):
        g = torch.Generator().manual_seed(0)
        dA = (torch.rand(1, T, 256, 8, generator=g) * 0.5 + 0.5).requires_grad_()
        b = torch.randn(1, T, 256, 8, generator=g).requires_grad_()
        C = torch.randn(1, T, 8, generator=g).requires_grad_()
        out["forward_backward_ms"][T] = {
            k: timed(f, dA, b, C, backward=True, n=1 if k == "loop_torchscript" else 3)
            for k, f in (("loop", SCANS["loop"]), ("stepwise", SCANS["stepwise"]),
                         ("parallel", SCANS["parallel"]), ("loop_torchscript", loop_jit))}
    out["date"] = time.strftime("%Y-%m-%d")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
