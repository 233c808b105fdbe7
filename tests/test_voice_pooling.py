"""Frame pooling heads for the Whisper voice features (evaluation/voice_pooling.py)."""

from __future__ import annotations

import numpy as np
import torch

from affectkit.evaluation import voice_pooling as vp


CENTRES = {c: np.random.default_rng(7).normal(0, 3, 16) + i for i, c in enumerate("abc")}


def _clips(n, rng, classes=("a", "b", "c")):
    """Each clip: noise frames plus a few class-specific 'salient' frames at random places
    (a small minority of the clip's frames)."""
    centres = CENTRES
    frames, labels = [], []
    for i in range(n):
        c = classes[i % len(classes)]
        T = int(rng.integers(30, 60))
        f = rng.normal(0, 1, (T, 16)).astype(np.float32)
        f[:, 0] = 0.0  # channel 0 marks the salient frames
        k = rng.choice(T, 3, replace=False)
        f[k] = centres[c] + rng.normal(0, 0.3, (3, 16))
        f[k, 0] = 5.0
        frames.append(f.astype(np.float32))
        labels.append(c)
    return frames, np.array(labels)


def test_attentive_head_learns_to_attend_to_salient_frames():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    F, y = _clips(240, rng)
    Fv, yv = _clips(60, rng)
    Ft, yt = _clips(90, rng)
    h = vp.AttentiveHead(epochs=15, batch=32).fit(F, y, np.ones(len(y)), Fv, yv, seed=0)
    acc = float((h.predict(Ft) == yt).mean())
    assert acc > 0.8, acc
    assert 1 <= h.best_epoch <= 15 and h.valid_ua == max(h.valid_ua, 0)
    # the learned attention puts more than uniform weight on the salient frames
    share = []
    with torch.no_grad():
        for f in Ft[:20]:
            a = h.net.score(torch.from_numpy((f - h.mu) / h.sd)).squeeze(-1)
            share.append(float(torch.softmax(a, 0)[torch.from_numpy(f[:, 0] == 5.0)].sum()))
    uniform = np.mean([3 / len(f) for f in Ft[:20]])
    assert np.mean(share) > 2 * uniform, (np.mean(share), uniform)
    # padding is masked: a clip's prediction does not depend on its batch neighbours
    one = [h.predict([f])[0] for f in Ft[:10]]
    assert one == list(h.predict(Ft[:10]))


def test_downsample_and_pool_shapes():
    f = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    d = vp.downsample(f, 4)
    assert d.shape == (3, 3)
    np.testing.assert_allclose(d[0], f[:4].mean(0))
    np.testing.assert_allclose(d[2], np.vstack([f[8:], f[9:], f[9:]]).mean(0))
    p = vp.pool([f, f[:5]], "msm")
    assert p.shape == (2, 9)
    np.testing.assert_allclose(p[0, 6:], f.max(0))


def test_speaker_frame_norm_uses_each_speakers_own_frames():
    rng = np.random.default_rng(1)
    frames = [rng.normal(5, 2, (20, 4)).astype(np.float32) for _ in range(3)] + \
             [rng.normal(-3, 0.5, (10, 4)).astype(np.float32) for _ in range(2)]
    out = vp.speaker_frame_norm(frames, ["s1"] * 3 + ["s2"] * 2)
    for ix in ([0, 1, 2], [3, 4]):
        st = np.concatenate([out[i] for i in ix])
        np.testing.assert_allclose(st.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(st.std(0), 1, atol=1e-3)
