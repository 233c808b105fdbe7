"""Contract tests for every ``fusion.*`` model (parametrised over the registry, so a new fusion
model is tested without anyone remembering to) and for the Broad-Mamba SSM encoder.

The central contract: any subset of modalities at forward time, where "missing" is a missing
key, a presence mask of 0 or an all-zero frame mask — all equivalent — and values under a mask
never influence the output.
"""

from __future__ import annotations

import inspect
import re
import sys

import pytest
import torch

from affectkit.models import MODELS, create_model
from affectkit.models.fusion_base import cap_frames, read_inputs
from affectkit.types import Modality

T, A, V = Modality.TEXT, Modality.AUDIO, Modality.VISION
DIMS = {T: 7, A: 5, V: 4}
# Selected by declaration, never by name: the models that take any subset of modalities AND
# read presence/frame masks (forward shapes, subsets, masked = removed frames and the run-folder
# round trip of every model are in tests/contract/test_models.py).
FUSION = [n for n in MODELS.names()
          if getattr(MODELS.get(n), "tolerates_missing", False)
          and getattr(MODELS.get(n), "accepts_presence_masks", False)]
PAPERS = [n for n in FUSION if getattr(MODELS.get(n), "family", "") == "fusion"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny tensors: thread hand-offs cost more than they give on a shared 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def small(name: str, n_outputs: int = 1, dims=None):
    torch.manual_seed(0)
    params = inspect.signature(MODELS.get(name).__init__).parameters
    kw = {"hidden": 16} if "hidden" in params else {}
    m = create_model(name, input_dims=dims or DIMS, n_outputs=n_outputs, **kw)
    return m.eval()


def batch(B: int = 5, L: int = 6, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = {m: torch.randn(B, L, d, generator=g) for m, d in DIMS.items()}
    lengths = {m: torch.randint(2, L + 1, (B,), generator=g) for m in DIMS}
    return x, lengths


def close(a, b):
    return all(torch.allclose(a[k], b[k], atol=1e-5) for k in ("logits", "embedding"))


def test_registry_has_the_zoo():
    for name in ("fusion.early", "fusion.late", "fusion.tfn", "fusion.lmf", "fusion.mult",
                 "fusion.hopping", "fusion.kst", "fusion.pgf"):
        assert name in MODELS


@pytest.mark.parametrize("name", PAPERS)
def test_docstring_names_paper_and_deviations(name):
    cls = MODELS.get(name)
    doc = sys.modules[cls.__module__].__doc__ or ""
    assert re.search(r"(19|20)\d\d", doc), f"{name}: module docstring should cite the paper (year)"
    if name not in ("fusion.early",):
        assert re.search(r"[Dd]eviation", doc), f"{name}: docstring should state deviations"
    assert cls.tolerates_missing and cls.accepts_presence_masks


@pytest.mark.parametrize("name", FUSION)
@pytest.mark.parametrize("n_outputs", [1, 4])
def test_output_contract(name, n_outputs):
    m = small(name, n_outputs)
    x, L = batch()
    out = m(x, lengths=L)
    assert out["logits"].shape == (5, n_outputs)
    assert out["embedding"].dim() == 2 and out["embedding"].shape[0] == 5
    assert ("score" in out) == (n_outputs == 1)
    for v in out.values():
        assert torch.isfinite(v).all()
    # vectors (B, D) are accepted as one-frame sequences
    vec = m({k: v[:, 0] for k, v in x.items()})
    assert vec["logits"].shape == (5, n_outputs)


@pytest.mark.parametrize("name", FUSION)
def test_empty_sample_gets_a_finite_prediction(name):
    m = small(name)
    x, L = batch()
    masks = {k: torch.tensor([1.0, 0, 1, 1, 1]) for k in DIMS}  # sample 1 has no modality
    out = m(x, lengths=L, masks=masks)
    assert torch.isfinite(out["logits"]).all() and torch.isfinite(out["embedding"]).all()


@pytest.mark.parametrize("name", FUSION)
def test_missing_key_equals_zero_masks(name):
    """Missing key ≡ presence mask 0 ≡ all-zero frame mask ≡ length 0."""
    m = small(name)
    x, L = batch()
    ref = m({T: x[T], V: x[V]}, lengths={T: L[T], V: L[V]})
    by_presence = m(x, lengths=L, masks={A: torch.zeros(5)})
    by_frames = m(x, lengths=L, masks={A: torch.zeros(5, 6)})
    by_length = m(x, lengths={**L, A: torch.zeros(5, dtype=torch.long)})
    for o in (by_presence, by_frames, by_length):
        assert close(ref, o)


@pytest.mark.parametrize("name", FUSION)
def test_masked_values_never_leak(name):
    m = small(name)
    x, L = batch()
    presence = {A: torch.tensor([1.0, 0, 1, 0, 1]), V: torch.tensor([0.0, 1, 1, 1, 0])}
    out = m(x, lengths=L, masks=presence)
    g = torch.Generator().manual_seed(9)
    x2 = {}
    for k, v in x.items():
        v = v.clone()
        t = torch.arange(v.shape[1])[None, :] >= L[k][:, None]  # padded frames
        if k in presence:
            t = t | (presence[k] == 0)[:, None]
        v[t] = torch.randn(int(t.sum()), v.shape[-1], generator=g) * 100
        x2[k] = v
    assert close(out, m(x2, lengths=L, masks=presence))


@pytest.mark.parametrize("name", FUSION)
def test_per_sample_mask_equals_running_that_sample_without_the_key(name):
    m = small(name)
    x, L = batch()
    presence = torch.tensor([1.0, 0, 1, 0, 1])
    out = m(x, lengths=L, masks={V: presence})
    i = 1  # vision masked for sample 1
    alone = m({k: v[i:i + 1] for k, v in x.items() if k != V},
              lengths={k: v[i:i + 1] for k, v in L.items() if k != V})
    assert torch.allclose(out["logits"][i], alone["logits"][0], atol=1e-5)
    j = 2  # vision present for sample 2
    alone = m({k: v[j:j + 1] for k, v in x.items()}, lengths={k: v[j:j + 1] for k, v in L.items()})
    assert torch.allclose(out["logits"][j], alone["logits"][0], atol=1e-5)


@pytest.mark.parametrize("name", FUSION)
def test_learns_and_has_gradients(name):
    m = small(name).train()
    x, L = batch(B=8, seed=3)
    valid = (torch.arange(6)[None, :] < L[T][:, None]).float()
    y = (x[T][..., 0] * valid).sum(1) / valid.sum(1)  # mean of a text feature: any model can learn it
    opt = torch.optim.Adam(m.parameters(), lr=5e-3)
    m.eval()
    with torch.no_grad():
        first = float((m(x, lengths=L)["score"] - y).abs().mean())
    m.train()
    for _ in range(30):
        loss = (m(x, lengths=L)["score"] - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        last = float((m(x, lengths=L)["score"] - y).abs().mean())
    assert last < 0.8 * first, f"{name}: L1 {first:.3f} → {last:.3f}"


@pytest.mark.parametrize("name", FUSION)
def test_bad_inputs_raise_clear_errors(name):
    m = small(name, dims={T: 7, A: 5})
    x, L = batch()
    with pytest.raises(ValueError, match="vision"):
        m(x)
    with pytest.raises(ValueError, match=r"\(B, 7\)"):
        m({T: torch.randn(2, 3, 9)})
    with pytest.raises(ValueError, match="masks"):
        m({T: x[T]}, masks={T: torch.ones(5, 2, 2)})
    with pytest.raises(ValueError, match="no input"):
        m({})


@pytest.mark.parametrize("encoder", ["mean", "gru", "ssm"])
def test_encoders_work_in_late_fusion(encoder):
    torch.manual_seed(0)
    m = create_model("fusion.late", input_dims=DIMS, n_outputs=3, hidden=16, encoder=encoder).eval()
    x, L = batch()
    out = m(x, lengths=L)
    assert out["logits"].shape == (5, 3)
    w = out["weights"]
    assert torch.allclose(w.sum(1), torch.ones(5))
    out = m({T: x[T]}, lengths={T: L[T]})
    assert torch.allclose(out["weights"][:, 0], torch.ones(5))


def test_single_modality_model():
    for name in FUSION:
        torch.manual_seed(0)
        m = small(name, dims={A: 5})
        x, L = batch()
        assert m({A: x[A]}, lengths={A: L[A]})["score"].shape == (5,)


# --- SSM --------------------------------------------------------------------------------------


def test_broad_mamba_masks_and_bidirectionality():
    from affectkit.models.ssm import BroadMambaEncoder

    torch.manual_seed(0)
    enc = BroadMambaEncoder(6, 16).eval()
    x = torch.randn(2, 9, 6)
    frames = torch.ones(2, 9, dtype=torch.bool)
    frames[0, 6:] = False
    frames[1, 3] = False  # a dropped frame in the middle
    y, fo = enc(x, frames)
    assert fo.sum(1).tolist() == [6, 8]
    x2 = x.clone()
    x2[~frames] = 50.0
    assert torch.allclose(y, enc(x2, frames)[0], atol=1e-5), "invalid frames must not leak"
    assert (y[~fo] == 0).all()
    # bidirectional: the first frame's output depends on a later frame (beyond the conv window)
    x3 = x.clone()
    x3[0, 5] = 3 * torch.randn(6)  # (a constant shift would be removed by the input LayerNorm)
    assert (enc(x3, frames)[0][0, 0] - y[0, 0]).abs().max() > 1e-6  # exactly 0 if the scan were broken
    # a dropped middle frame is exactly a removed frame
    keep = [i for i in range(9) if i != 3]
    y_removed, _ = enc(x[1:2, keep], torch.ones(1, 8, dtype=torch.bool))
    assert torch.allclose(y[1, :8], y_removed[0], atol=1e-5)


def test_cap_frames_and_read_inputs():
    x = torch.arange(10.0).reshape(1, 10, 1)
    fr = torch.ones(1, 10, dtype=torch.bool)
    fr[0, 1] = False
    xc, fc = cap_frames(x, fr, 5)
    assert xc.shape == (1, 5, 1) and fc.all()
    assert xc[0, 0, 0] == 0.0 and xc[0, 1, 0] == 2.5  # bin {0, (1 masked)} → 0; {2, 3} → 2.5
    v = read_inputs(DIMS, {"text": torch.randn(2, 7)})  # string keys are accepted
    assert set(v) == {T} and v[T].x.shape == (2, 1, 7)


@pytest.mark.parametrize("name", ["fusion.mult", "fusion.pgf"])
def test_flag_column_frames_are_missing_frames(name):
    """vision.fer_frames-style rows without a face (flag 0) count as dropped frames."""
    torch.manual_seed(0)
    m = create_model(name, input_dims=DIMS, n_outputs=1, hidden=16, flag_columns={"vision": 0}).eval()
    x, L = batch()
    xv = x[V].clone()
    xv[..., 0] = 1.0
    xv[1, :, 0] = 0.0  # sample 1: no face anywhere → vision missing
    xv[2, 1, 0] = 0.0  # sample 2: frame 1 has no face
    x = {**x, V: xv}
    out = m(x, lengths=L)
    frames = (torch.arange(6)[None, :] < L[V][:, None]) & (xv[..., 0] > 0.5)
    ref = m(x, lengths=L, masks={V: frames.float()})
    torch.testing.assert_close(out["logits"], ref["logits"])
    alone = m({T: x[T][1:2], A: x[A][1:2]}, lengths={T: L[T][1:2], A: L[A][1:2]})
    torch.testing.assert_close(out["logits"][1], alone["logits"][0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="flag_columns"):
        create_model(name, input_dims=DIMS, n_outputs=1, hidden=16, flag_columns={"vision": 7})
