"""Audio-only speech regions are found in pieces (bounded memory on long inputs) and match the
regions of one pass over the whole input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def speech():
    from conftest import shared_path

    root = shared_path("speech/ravdess")
    from affectkit.analysis.diarise import synthetic_conversation

    files = sorted((root / "Actor_01").glob("*.opus"))
    x, _ = synthetic_conversation({"a": files}, 1, turns=8, seed=5)
    return x


def _cover(regions, n):
    m = np.zeros(n, bool)
    for r in regions:
        m[int(r.start * 100):int(r.end * 100)] = True
    return m


def test_chunked_regions_match_one_pass(speech, monkeypatch):
    pytest.importorskip("faster_whisper")
    from affectkit.analysis import pipeline as P

    fake = SimpleNamespace(window=30.0)
    whole = P.Analyzer._speech_regions(fake, speech)
    monkeypatch.setattr(P, "VAD_CHUNK_S", 7.0)
    pieces = P.Analyzer._speech_regions(fake, speech)
    n = int(len(speech) / 160) + 1
    a, b = _cover(whole, n), _cover(pieces, n)
    assert len(whole) >= 3
    assert (a == b).mean() > 0.97  # the same speech, frame by frame (10 ms)
    assert abs(len(pieces) - len(whole)) <= len(speech) // (7 * 16_000)  # ≤ one extra cut per piece
    assert all(r.end - r.start <= 30.0 + 1e-6 for r in pieces)
    assert all(p.end <= q.start + 1e-6 for p, q in zip(pieces, pieces[1:]))  # ordered, disjoint
    # away from the piece boundaries the regions are those of one pass (to 50 ms: the VAD's
    # recurrent state restarts in every piece), none merged with a neighbour
    far = [r for r in whole
           if all(abs(r.start - b) > 1 and abs(r.end - b) > 1 and not r.start < b < r.end
                  for b in np.arange(7.0, len(speech) / 16_000, 7.0))]
    assert len(far) >= 2
    for r in far:
        assert any(abs(p.start - r.start) < 0.05 and abs(p.end - r.end) < 0.05 for p in pieces), r
