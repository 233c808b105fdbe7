"""The compiled selective scan (models/ssm_kernel.py, numba) is the loop scan's function at
inference: equal within 1e-5 on its own, inside SelectiveSSM (masks, short sequences) and for
the whole dialogue.ssm model; ``scan="auto"`` picks it only with gradients off, and without
numba falls back to the loop with one log line."""

from __future__ import annotations

import logging
import sys

import pytest
import torch

from affectkit.errors import ConfigError
from affectkit.models import ssm
from affectkit.models.ssm import BroadMambaEncoder, SelectiveSSM, default_scan, loop_scan

kernel = pytest.importorskip("affectkit.models.ssm_kernel", reason="numba is not importable")


def _factors(B=2, T=37, D=6, N=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    dt = torch.rand(B, T, D, generator=g) * 0.5
    A = -torch.rand(D, N, generator=g).mul(3).add(0.1)
    Bm, C = torch.randn(B, T, N, generator=g), torch.randn(B, T, N, generator=g)
    x, Dskip = torch.randn(B, T, D, generator=g), torch.randn(D, generator=g)
    return dt, A, Bm, x, C, Dskip


def _reference(dt, A, Bm, x, C, Dskip):
    dA = torch.exp(dt[..., None] * A)
    dBx = dt[..., None] * Bm[:, :, None, :] * x[..., None]
    return loop_scan(dA, dBx, C) + Dskip * x


@pytest.mark.parametrize("T", [1, 2, 5, 37, 130])
@pytest.mark.parametrize("chunk", [1 << 17, 48])  # 48 floats: 1–2 steps a chunk, many chunks
def test_compiled_scan_equals_the_loop_scan(T, chunk, monkeypatch):
    monkeypatch.setattr(kernel, "CHUNK_FLOATS", chunk)
    f = _factors(T=T)
    out = kernel.selective_scan(*f)
    assert out.shape == (2, T, 6) and out.dtype == torch.float32
    torch.testing.assert_close(out, _reference(*f), rtol=1e-5, atol=1e-5)
    # without D: the scan alone
    torch.testing.assert_close(kernel.selective_scan(*f[:5]), _reference(*f[:5], 0.0),
                               rtol=1e-5, atol=1e-5)


def test_compiled_scan_on_a_hand_worked_recurrence():
    # Δ = 1, A = log(½) → decay ½; B·x = 1, 2, −1 → h = [1, 2.5, 0.25]; C = 1, 2, 4; D = 0
    dt = torch.ones(1, 3, 1)
    A = torch.tensor([[torch.log(torch.tensor(0.5)).item()]])
    Bm = torch.ones(1, 3, 1)
    x = torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1)
    C = torch.tensor([1.0, 2.0, 4.0]).view(1, 3, 1)
    out = kernel.selective_scan(dt, A, Bm, x, C).flatten().tolist()
    assert out == pytest.approx([1.0, 5.0, 1.0], abs=1e-6)


def _spy(monkeypatch):
    calls = []
    real = kernel.selective_scan

    def spy(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)

    monkeypatch.setattr(kernel, "selective_scan", spy)
    return calls


@pytest.mark.parametrize("T", [1, 2, 3, 20])
def test_selective_ssm_inference_uses_the_kernel_and_equals_the_loop(T, monkeypatch):
    torch.manual_seed(0)
    m = SelectiveSSM(8, d_state=4).eval()
    x = torch.randn(3, T, 8)
    frames = torch.ones(3, T, dtype=torch.bool)
    frames[1, max(1, T - 3):] = False
    frames[2, 1:] = False
    calls = _spy(monkeypatch)
    for fr in (frames, torch.ones_like(frames)):  # with padding, and all valid (no masks)
        with torch.no_grad():
            m.scan = "loop"
            ref = m(x, fr)
            m.scan = "auto"
            out = m(x, fr)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        assert (out[~fr] == 0).all()
    assert len(calls) == 2  # auto ran the kernel, the loop runs did not
    # what sits under the mask changes nothing
    x2 = x.clone()
    x2[2, 1:] = 100.0
    with torch.no_grad():
        torch.testing.assert_close(m(x2, frames)[2], m(x, frames)[2], rtol=0, atol=0)


def test_auto_is_the_loop_when_training_and_compiled_is_forward_only(monkeypatch):
    torch.manual_seed(0)
    m = SelectiveSSM(8, d_state=4)
    x = torch.randn(2, 6, 8)
    frames = torch.ones(2, 6, dtype=torch.bool)
    calls = _spy(monkeypatch)
    assert default_scan(x) == "loop"
    m(x, frames).sum().backward()  # auto with grad: the autograd loop scan
    assert calls == [] and m.A_log.grad is not None
    with torch.no_grad():
        assert default_scan(x) == "compiled"
        assert default_scan(x.double()) == "loop"  # the kernel is float32 only
    m.scan = "compiled"
    with pytest.raises(ConfigError, match="forward-only"):
        m(x, frames)


def test_without_numba_auto_falls_back_to_the_loop_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(ssm, "_kernel_state", {})
    import affectkit.models

    monkeypatch.setitem(sys.modules, "affectkit.models.ssm_kernel", None)  # import → ImportError
    monkeypatch.delattr(affectkit.models, "ssm_kernel")
    torch.manual_seed(0)
    m = SelectiveSSM(8, d_state=4).eval()
    x = torch.randn(2, 9, 8)
    frames = torch.ones(2, 9, dtype=torch.bool)
    with caplog.at_level(logging.WARNING, logger="affectkit.models.ssm"), torch.no_grad():
        assert default_scan(x) == "loop"
        out = m(x, frames)
        m(x, frames)
    lines = [r for r in caplog.records if "compiled selective scan is unavailable" in r.message]
    assert len(lines) == 1 and "pip install numba" in lines[0].message
    m.scan = "loop"
    with torch.no_grad():
        torch.testing.assert_close(out, m(x, frames), rtol=0, atol=0)
    m.scan = "compiled"
    with pytest.raises(ConfigError, match="needs numba"), torch.no_grad():
        m(x, frames)


def test_a_kernel_that_fails_at_run_time_falls_back_to_the_loop_once(monkeypatch, caplog):
    monkeypatch.setattr(ssm, "_kernel_state", {})

    def broken(*a, **k):
        raise RuntimeError("LLVM ERROR: simulated")

    monkeypatch.setattr(kernel, "selective_scan", broken)
    torch.manual_seed(0)
    m = SelectiveSSM(8, d_state=4).eval()
    x = torch.randn(2, 9, 8)
    frames = torch.ones(2, 9, dtype=torch.bool)
    with caplog.at_level(logging.WARNING, logger="affectkit.models.ssm"), torch.no_grad():
        out = m(x, frames)
        assert default_scan(x) == "loop"
        m(x, frames)
        m.scan = "loop"
        ref = m(x, frames)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    lines = [r for r in caplog.records if "simulated" in r.message]
    assert len(lines) == 1 and "loop scan" in lines[0].message


def test_dialogue_ssm_and_encoder_outputs_equal_under_both_scans():
    from affectkit.models import create_model
    from affectkit.types import Modality

    torch.manual_seed(0)
    model = create_model("dialogue.ssm", input_dims={Modality.TEXT: 12}, n_outputs=5,
                         hidden=16).eval()
    x = {Modality.TEXT: torch.randn(3, 40, 12)}
    lengths = {Modality.TEXT: torch.tensor([40, 17, 1])}
    enc = BroadMambaEncoder(12, 16).eval()
    frames = torch.rand(3, 40) > 0.3  # gaps: the encoder compacts them
    outs = {}
    for scan in ("loop", "auto"):
        for mod in [*model.modules(), *enc.modules()]:
            if isinstance(mod, SelectiveSSM):
                mod.scan = scan
        with torch.no_grad():
            outs[scan] = (model(x, lengths=lengths)["logits"], *enc(x[Modality.TEXT], frames))
    with torch.inference_mode():  # inference tensors reach the kernel as well
        outs["inference_mode"] = (model(x, lengths=lengths)["logits"],
                                  *enc(x[Modality.TEXT], frames))
    # with gradients on: the training path throughout (loop scan, conv1d, masks, broad-block cat)
    with torch.enable_grad():
        outs["grad"] = tuple(t.detach() for t in (model(x, lengths=lengths)["logits"],
                                                   *enc(x[Modality.TEXT], frames)))
    for name in ("auto", "inference_mode", "grad"):
        for a, b in zip(outs[name], outs["loop"], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_broad_block_inference_path_equals_the_training_path_and_keeps_dropout():
    from affectkit.models.ssm import BroadBlock

    torch.manual_seed(0)
    bb = BroadBlock(16, dropout=0.5).eval()
    x = torch.randn(2, 7, 16)
    ref = bb(x).detach()
    with torch.no_grad():
        torch.testing.assert_close(bb(x), ref, rtol=1e-5, atol=1e-5)
        bb.train()  # no_grad in train mode (e.g. MC dropout) keeps the dropout path
        torch.manual_seed(1)
        a = bb(x)
        torch.manual_seed(1)
        b = bb(x)
    torch.testing.assert_close(a, b)
    assert (a - ref).abs().max() > 1e-3
