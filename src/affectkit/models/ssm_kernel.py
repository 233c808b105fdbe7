"""A compiled CPU selective scan for inference (numba), used by ``scan="auto"`` in
:class:`affectkit.models.ssm.SelectiveSSM` when gradients are off.

The PyTorch loop scan dispatches one ``addcmul`` per time step (~0.1 ms each at the dialogue
sizes) and materialises the (B, T, D, N) tensors exp(ΔA) and ΔB·x. Here the recurrence

    h_t = exp(Δ_t A) · h_{t−1} + Δ_t B_t x_t,    y_t = Σ_n h_t[·, n] C_t[n]

runs in one numba-compiled loop over (T, D, N) that keeps h in a (B, D, N) buffer and forms
Δ_t B_t x_t on the fly (and adds the skip term D·x). The decays exp(Δ_t A) are computed by
NumPy's vectorised ``exp`` in chunks of time steps (a chunk of ~512 KB, reused): numba's
``exp`` is scalar, and an all-numba loop with it took 5.0 ms CPU against 2.2 ms for this form
at T = 500, D = 256, N = 8, where NumPy's ``exp`` of the 1 M decays alone takes 0.57 ms
(benchmarks/ssm_kernel_variants.py, 2026-12-07).

Forward only: no autograd graph is built (training keeps :func:`~affectkit.models.ssm.loop_scan`).
Outputs equal the loop scan within float rounding (tests/test_ssm_kernel.py). The kernel is
compiled on first use and cached on disk (``cache=True``, numba's cache directory); the first
call in a fresh environment pays the compile (measured in docs/conversations.md).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

#: floats per chunk of decays exp(Δ·A) (B·K·D·N); 2¹⁷ floats = 512 KB, inside a core's L2
CHUNK_FLOATS = 1 << 17


@numba.njit(cache=True, nogil=True)
def _decay_args(dt, A, buf, s, e):  # pragma: no cover - compiled
    """buf[:, t − s, d, n] = Δ[:, t, d]·A[d, n] for steps s … e−1 (NumPy's broadcasting
    multiply into ``out=`` was 7× slower here: its inner loop is only N long)."""
    nb, _, nd = dt.shape
    nn_ = A.shape[1]
    for b in range(nb):
        for t in range(s, e):
            for d in range(nd):
                v = dt[b, t, d]
                for n in range(nn_):
                    buf[b, t - s, d, n] = v * A[d, n]


@numba.njit(cache=True, nogil=True)
def _scan_chunk(dA, dt, Bm, x, C, Dskip, h, out, s, e):  # pragma: no cover - compiled
    """Steps s … e−1: dA (B, ≥ e−s, D, N) their decays (step t at dA[:, t − s]); dt, x, out
    (B, T, D); Bm, C (B, T, N); Dskip (D,) the skip weights (out = y + Dskip·x); h (B, D, N)
    the state carried in and out (updated in place). Whole arrays and indices rather than
    slices, so one compiled signature serves every call."""
    nb, _, nd = dt.shape
    nn_ = C.shape[2]
    for b in range(nb):
        for t in range(s, e):
            k = t - s
            for d in range(nd):
                u = dt[b, t, d] * x[b, t, d]
                acc = np.float32(0.0)
                for n in range(nn_):
                    hv = dA[b, k, d, n] * h[b, d, n] + u * Bm[b, t, n]
                    h[b, d, n] = hv
                    acc += hv * C[b, t, n]
                out[b, t, d] = acc + Dskip[d] * x[b, t, d]


def selective_scan(dt: torch.Tensor, A: torch.Tensor, Bm: torch.Tensor, x: torch.Tensor,
                   C: torch.Tensor, D: torch.Tensor | None = None) -> torch.Tensor:
    """The selective scan from its factors, without the (B, T, D, N) tensors.

    Equal (up to float rounding) to
    ``loop_scan(exp(dt[..., None] * A), dt[..., None] * Bm[:, :, None, :] * x[..., None], C)``
    ``+ D * x`` (the skip term; left out when ``D`` is None).

    Shapes: dt, x (B, T, Di); A (Di, N); Bm, C (B, T, N); D (Di,) → y (B, T, Di); float32,
    CPU, no grad.
    """
    f32 = np.float32

    def arr(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().numpy(), dtype=f32)

    dt_, x_, B_, C_, A_ = arr(dt), arr(x), arr(Bm), arr(C), arr(A)
    nb, T, Di = dt_.shape
    N = A_.shape[1]
    D_ = arr(D) if D is not None else np.zeros(Di, dtype=f32)
    out = np.empty((nb, T, Di), dtype=f32)
    h = np.zeros((nb, Di, N), dtype=f32)
    K = max(1, min(T, CHUNK_FLOATS // max(1, nb * Di * N)))
    buf = np.empty((nb, K, Di, N), dtype=f32)
    for s in range(0, T, K):
        e = min(T, s + K)
        _decay_args(dt_, A_, buf, s, e)
        np.exp(buf[:, : e - s], out=buf[:, : e - s])
        _scan_chunk(buf, dt_, B_, x_, C_, D_, h, out, s, e)
    return torch.from_numpy(out)
