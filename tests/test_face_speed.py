"""Face pipeline speed-ups keep the outputs (issue 12): the traced channels-last detector
gives the plain module's detections; extra passes can be limited to frames without a face."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.errors import ConfigError
from affectkit.features.vision.detect import FaceApiDetector


@pytest.fixture(scope="module")
def scene():
    import cv2
    import matplotlib
    from PIL import Image

    face = np.asarray(Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg")
                      .convert("RGB"))
    bg = np.full((360, 640, 3), 90, np.uint8)
    bg[60:60 + 180, 380:380 + 154] = cv2.resize(face, (154, 180))
    bg[200:200 + 90, 80:80 + 77] = cv2.resize(face, (77, 90))
    return bg


@pytest.mark.parametrize("shape", [(360, 640), (720, 1280), (480, 480)])
def test_traced_detector_matches_plain(scene, shape):
    import cv2

    img = cv2.resize(scene, shape[::-1])
    plain = FaceApiDetector(fast=False).detect(img)
    fast = FaceApiDetector(fast=True).detect(img)
    assert len(plain) == len(fast) >= 2
    for a, b in zip(plain, fast):
        assert np.allclose(a.box, b.box, atol=1e-3) and a.score == pytest.approx(b.score, abs=1e-5)
        assert np.allclose(a.landmarks, b.landmarks, atol=1e-3)


def test_jit_can_be_switched_off(monkeypatch):
    from affectkit.backbones import faceapi as fa

    monkeypatch.setenv("AFFECTKIT_FACE_JIT", "0")
    assert fa.fast_detector((1, 3, 64, 64)) is fa.load("detector")


def test_extra_passes_only_when_the_plain_pass_is_empty(scene, monkeypatch):
    det = FaceApiDetector(fast=True, extra_passes="if_empty", rotations=(-25.0, 25.0))
    calls = []
    orig = det._pass

    def spy(net, rgb, angle, side=None):
        calls.append((angle, side))
        return orig(net, rgb, angle, side)

    monkeypatch.setattr(det, "_pass", spy)
    assert len(det.detect(scene)) >= 2
    assert calls == [(0.0, None)]  # faces found: no coarse, no rotated passes
    calls.clear()
    assert det.detect(np.full((360, 640, 3), 90, np.uint8)) == []
    assert calls == [(0.0, None), (0.0, 224), (-25.0, None), (25.0, None)]
    with pytest.raises(ConfigError, match="extra_passes"):
        FaceApiDetector(extra_passes="sometimes")
