"""The three forms of the selective scan (models/ssm.py) are one function: outputs and
gradients agree with the step-by-step reference, masked steps stay inert, long inputs stay
finite."""

from __future__ import annotations

import pytest
import torch

from affectkit.models.ssm import SCANS, BroadMambaEncoder, SelectiveSSM, default_scan


def _inputs(B=2, T=37, D=6, N=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    dA = torch.rand(B, T, D, N, generator=g).mul(0.9).add(0.05).requires_grad_()
    dBx = torch.randn(B, T, D, N, generator=g).requires_grad_()
    C = torch.randn(B, T, N, generator=g).requires_grad_()
    return dA, dBx, C


@pytest.mark.parametrize("T", [1, 2, 5, 37, 64])
@pytest.mark.parametrize("name", ["loop", "parallel"])
def test_scans_match_the_stepwise_reference_with_gradients(name, T):
    ref_in, in_ = _inputs(T=T), _inputs(T=T)
    ref = SCANS["stepwise"](*ref_in)
    out = SCANS[name](*in_)
    assert out.shape == ref.shape == (2, T, 6)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1))
    (ref * w).sum().backward()
    (out * w).sum().backward()
    for a, b in zip(in_, ref_in, strict=True):  # T = 1: dA unused (no grad) = zero grad
        ga = a.grad if a.grad is not None else torch.zeros_like(a)
        torch.testing.assert_close(ga, b.grad, rtol=1e-4, atol=1e-5)


def test_scans_are_exact_on_a_hand_worked_recurrence():
    # one channel, one state: h = [1, .5·1 + 2, .25·2.5 − 1] = [1, 2.5, −0.375]; C = 1, 2, 4
    dA = torch.tensor([0.0, 0.5, 0.25]).view(1, 3, 1, 1)
    dBx = torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1)
    C = torch.tensor([1.0, 2.0, 4.0]).view(1, 3, 1)
    for f in SCANS.values():
        assert f(dA, dBx, C).flatten().tolist() == [1.0, 5.0, -1.5]


def test_selective_ssm_is_the_same_function_under_every_scan_and_masks_stay_inert():
    torch.manual_seed(0)
    m = SelectiveSSM(8, d_state=4).eval()
    x = torch.randn(3, 20, 8)
    frames = torch.ones(3, 20, dtype=torch.bool)
    frames[1, 13:] = False
    frames[2, 5:] = False
    outs = {}
    for name in SCANS:
        m.scan = name
        with torch.no_grad():
            outs[name] = m(x, frames)
    for name in ("loop", "parallel"):
        torch.testing.assert_close(outs[name], outs["stepwise"], rtol=1e-5, atol=1e-6)
    assert outs["parallel"][frames.logical_not()].abs().max() == 0
    # changing what sits under the mask changes nothing
    x2 = x.clone()
    x2[2, 5:] = 100.0
    with torch.no_grad():
        torch.testing.assert_close(m(x2, frames)[2], outs["parallel"][2], rtol=1e-5, atol=1e-6)


def test_long_sequences_stay_finite_and_cpu_default_is_the_loop():
    torch.manual_seed(0)
    enc = BroadMambaEncoder(16, 16).eval()
    x = torch.randn(1, 3000, 16)
    frames = torch.ones(1, 3000, dtype=torch.bool)
    with torch.no_grad():
        ref = enc(x, frames)[0]
        for mod in enc.modules():
            if isinstance(mod, SelectiveSSM):
                mod.scan = "parallel"
        par = enc(x, frames)[0]
    assert torch.isfinite(par).all()
    torch.testing.assert_close(par, ref, rtol=1e-4, atol=1e-5)
    assert default_scan(x) == "loop"  # with gradients; inference: tests/test_ssm_kernel.py
    with pytest.raises(ValueError, match="allowed: auto, compiled, loop, parallel, stepwise"):
        SelectiveSSM(8, scan="magic")


def test_dialogue_cost_times_each_scan_round_robin():
    from affectkit.evaluation.dialogue_cost import run, to_markdown

    res = run((4, 8), ("dialogue.ssm", "dialogue.ssm:stepwise", "dialogue.gru"), hidden=8,
              dim=6, repeats=1)
    assert [r["model"] for r in res["rows"]] == ["dialogue.ssm", "dialogue.ssm:stepwise",
                                                 "dialogue.gru"]
    assert res["rows"][1]["note"].startswith("stepwise") and res["rows"][2]["note"] == ""
    assert all(len(r["ms"]) == 2 and min(r["ms"]) > 0 for r in res["rows"])
    assert "dialogue.ssm:stepwise (stepwise scan" in to_markdown(res)
    for r in res["rows"]:
        assert len(r["cpu_ms"]) == 2 and min(r["cpu_ms"]) > 0 and r["first_call_ms"] > 0
        assert all(lo <= hi for lo, hi in r["ms_p25_p75"] + r["cpu_ms_p25_p75"])
    assert to_markdown(res, "cpu_ms").count("\n") == 4 and len(res["load_average_1_5_15min"]) == 2
