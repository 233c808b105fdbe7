"""SSD MobileNet v1 port (face-api.js): conversion, parity with the NumPy graph, detection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path

TARBALL = os.environ.get("AFFECTKIT_FACEAPI_TGZ", "")


def _tarball() -> Path:
    if not TARBALL or not Path(TARBALL).is_file():
        pytest.skip("set AFFECTKIT_FACEAPI_TGZ to the `npm pack @vladmandic/face-api` tarball")
    return Path(TARBALL)


def _scene(face_px: int, *, cx: int = 320, cy: int = 180, emotion: str = "happy",
           corpus: str = "face/ckplus48") -> np.ndarray:
    """A 640×360 frame: smooth random background with one real face crop pasted."""
    import cv2

    f = sorted((shared_path(corpus) / emotion).glob("*.png"))[0]
    face = cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (face_px, face_px),
                      interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    bg = cv2.resize(rng.integers(40, 200, (9, 16, 3)).astype(np.uint8), (640, 360),
                    interpolation=cv2.INTER_CUBIC)
    y0, x0 = cy - face_px // 2, cx - face_px // 2
    bg[y0: y0 + face_px, x0: x0 + face_px] = face[:, :, None]
    return bg


# -- weights ---------------------------------------------------------------------------------
def test_shipped_ssd_weights_have_priors_and_provenance():
    from affectkit.backbones import faceapi_ssd as ssd

    info = json.loads((ssd.WEIGHTS_DIR / f"{ssd.STEM}.json").read_text())
    assert info["package"] == "@vladmandic/face-api" and info["licence"] == "MIT"
    size = (ssd.WEIGHTS_DIR / f"{ssd.STEM}.safetensors").stat().st_size
    assert 5_000_000 < size < 6_000_000  # uint8 codes as shipped, not float32 (22 MB)
    net, priors = ssd.load()
    assert priors.shape == (ssd.N_PRIORS, 4)
    assert np.all(priors[:, 2] > priors[:, 0]) and np.all(priors[:, 3] > priors[:, 1])
    assert sum(p.numel() for p in net.parameters()) > 5_000_000
    assert "ssd_mobilenetv1_model" in (ssd.WEIGHTS_DIR / "README.md").read_text()


def test_safetensors_metadata_is_written_in_sorted_order(tmp_path):
    from safetensors.numpy import load_file, save_file

    from affectkit.backbones.faceapi_convert import _sort_metadata

    p = tmp_path / "x.safetensors"
    save_file({"a": np.arange(3, dtype=np.uint8)}, str(p),
              metadata={"zeta": "1", "source": "s", "alpha": "2", "model": "m"})
    before = p.stat().st_size
    _sort_metadata(p)
    raw = p.read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])
    assert list(header["__metadata__"]) == ["alpha", "model", "source", "zeta"]
    assert p.stat().st_size == before
    np.testing.assert_array_equal(load_file(str(p))["a"], np.arange(3))


def test_conversion_reproduces_every_shipped_file_byte_for_byte(tmp_path):
    from affectkit.backbones.faceapi_convert import OUT_DIR, convert

    convert(_tarball(), tmp_path)
    for f in OUT_DIR.iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


def test_reference_reads_the_ssd_from_the_tarball_like_the_shipped_file():
    from affectkit.backbones import _faceapi_ref as ref
    from affectkit.backbones import faceapi_ssd as ssd

    a = ref.weights_from_tarball(_tarball(), ssd.STEM)
    b = ref.weights_from_shipped(ssd.WEIGHTS_DIR, ssd.STEM)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- parity ----------------------------------------------------------------------------------
def test_ssd_port_matches_numpy_reference_on_a_random_input():
    import torch

    from affectkit.backbones import _faceapi_ref as ref
    from affectkit.backbones import faceapi_ssd as ssd

    x = np.random.default_rng(3).uniform(0, 255, (1, 512, 512, 3))
    r_enc, r_cls, r_boxes, r_scores = ref.ssd_mobilenetv1(
        ref.weights_from_shipped(ssd.WEIGHTS_DIR, ssd.STEM), x)
    net, priors = ssd.load()
    with torch.no_grad():
        enc, cls = net(torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2).contiguous())
    enc, cls = enc.numpy(), cls.numpy()
    assert enc.shape == (1, ssd.N_PRIORS, 4) and cls.shape == (1, ssd.N_PRIORS, 3)
    assert np.abs(enc - r_enc).max() < 1e-4 * max(1.0, np.abs(r_enc).max())
    assert np.abs(cls - r_cls).max() < 1e-4 * max(1.0, np.abs(r_cls).max())
    boxes, scores = ssd.decode(enc, cls, priors)
    assert np.abs(boxes[..., [1, 0, 3, 2]] - r_boxes).max() < 1e-4  # TF.js: y first
    assert np.abs(scores - r_scores).max() < 1e-4
    # the traced, channels-last network gives the same numbers
    fb, fs = ssd.run(x, use_fast=True)
    assert np.abs(fb / ssd.INPUT - boxes).max() < 1e-4 and np.abs(fs - scores).max() < 1e-4


def test_ssd_run_names_a_wrong_input_shape():
    from affectkit.backbones import faceapi_ssd as ssd

    with pytest.raises(ValueError, match=r"\(B, 512, 512, 3\).*\(1, 300, 300, 3\)"):
        ssd.run(np.zeros((1, 300, 300, 3), np.uint8))


# -- detection -------------------------------------------------------------------------------
def test_tile_starts_cover_the_frame_with_overlap():
    from affectkit.features.vision.detect import SSD_INPUT, SSD_MIN_OVERLAP, tile_starts

    assert tile_starts(504) == [0]
    for n in (513, 896, 1024, 1800):
        xs = tile_starts(n)
        assert xs[0] == 0 and xs[-1] + SSD_INPUT == n
        assert all(b - a <= SSD_INPUT - SSD_MIN_OVERLAP for a, b in zip(xs, xs[1:]))


def test_ssd_finds_a_real_face_with_landmarks_and_nothing_in_noise():
    from affectkit.features.vision.detect import FaceApiDetector, aligned_crop

    det = FaceApiDetector(model="ssd")
    assert det.detect_side == 512 and det.coarse_side is None
    img = _scene(120, cx=400, cy=170)
    faces = det.detect(img)
    assert len(faces) == 1
    f = faces[0]
    assert abs(f.center[0] - 400) < 20 and abs(f.center[1] - 170) < 25
    assert 80 < f.width < 170 and f.score > 0.5
    assert f.landmarks is not None and f.landmarks.shape == (68, 2)
    assert aligned_crop(img, f).shape == (112, 112, 3)
    noise = np.random.default_rng(1).integers(0, 256, (360, 640, 3)).astype(np.uint8)
    assert det.detect(noise) == []
    assert FaceApiDetector.ssd().detect(noise) == []


def test_ssd_tiled_pass_finds_a_small_face_the_single_pass_misses():
    from affectkit.features.vision.detect import FaceApiDetector

    img = _scene(44, cx=150, cy=200)
    small = FaceApiDetector(model="ssd", landmarks=None).detect(img)
    tiled = FaceApiDetector(model="ssd", detect_side=896, landmarks=None).detect(img)
    assert not any(abs(f.center[0] - 150) < 22 and abs(f.center[1] - 200) < 22 for f in small)
    hit = [f for f in tiled if abs(f.center[0] - 150) < 22 and abs(f.center[1] - 200) < 22]
    assert len(hit) == 1 and 22 < hit[0].width < 88


def test_ssd_boxes_map_back_to_the_frame_on_a_tile_seam_and_rotated():
    from affectkit.features.vision.detect import FaceApiDetector

    # 896-px pass on a 640×360 frame: tiles at x = 0 and 384 (input px) → seam near x ≈ 320
    img = _scene(90, cx=320, cy=180)
    for rot in ((), (-15.0, 15.0)):
        faces = FaceApiDetector(model="ssd", detect_side=896, rotations=rot,
                                landmarks=None).detect(img)
        near = [f for f in faces if abs(f.center[0] - 320) < 45 and abs(f.center[1] - 180) < 45]
        assert len(near) == 1 and 60 < near[0].width < 140  # one box, not two halves


def test_model_option_is_checked():
    from affectkit.errors import ConfigError
    from affectkit.features.vision.detect import FaceApiDetector

    with pytest.raises(ConfigError, match="model='yolo'.*'tiny'.*'ssd'"):
        FaceApiDetector(model="yolo")
    tiny = FaceApiDetector()
    assert (tiny.model, tiny.detect_side, tiny.coarse_side, tiny.score_threshold) == \
        ("tiny", 640, 224, 0.4)


def test_extractor_accepts_the_ssd_detector():
    from affectkit.errors import ConfigError
    from affectkit.features.vision.faceapi import FaceApiFrames

    ext = FaceApiFrames(detector="ssd")
    assert ext.model_version != FaceApiFrames().model_version  # other weights, other cache key
    crops = list(ext.face_crops([_scene(100, cx=250, cy=190)]))
    assert crops[0] is not None and crops[0].shape == (112, 112, 3)
    with pytest.raises(ConfigError, match="'ssd'"):
        FaceApiFrames(detector="yolo")
