"""face-api.js port: conversion, parity with an independent NumPy graph, detection, extractor."""

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


def _ckplus_faces(n_per: int = 2) -> tuple[np.ndarray, list[str]]:
    import cv2

    root = shared_path("face/ckplus48")
    imgs, labels = [], []
    for emo in ("happy", "surprise", "anger", "sadness"):
        for f in sorted((root / emo).glob("*.png"))[:n_per]:
            g = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            imgs.append(cv2.resize(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB), (112, 112)))
            labels.append(emo)
    return np.stack(imgs).astype(np.float32), labels


# -- conversion ------------------------------------------------------------------------------
def test_decode_manifest_dequantises_uint8_float16_and_float32_over_two_shards():
    from affectkit.backbones.faceapi_convert import decode_manifest, dequantize

    q = np.array([0, 1, 255, 7], np.uint8)
    f16 = np.array([1.5, -2.25], np.float16)
    f32 = np.array([[3.0, 4.0, 5.0]], np.float32)
    blob = q.tobytes() + f16.tobytes() + f32.tobytes()
    manifest = [{"paths": ["a.bin", "b.bin"], "weights": [
        {"name": "q", "shape": [2, 2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
        {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "f", "shape": [1, 3], "dtype": "float32"},
    ]}]
    codes, meta = decode_manifest(manifest, {"a.bin": blob[:5], "b.bin": blob[5:]})
    assert codes["q"].dtype == np.uint8 and codes["q"].shape == (2, 2)
    np.testing.assert_allclose(dequantize(codes["q"], meta["q"]), [[-1.0, -0.5], [126.5, 2.5]])
    np.testing.assert_allclose(dequantize(codes["h"], meta["h"]), [1.5, -2.25])
    np.testing.assert_array_equal(dequantize(codes["f"], meta["f"]), f32)


def test_decode_manifest_rejects_short_shards_and_missing_files():
    from affectkit.backbones.faceapi_convert import decode_manifest
    from affectkit.errors import ConfigError

    man = [{"paths": ["a.bin"], "weights": [{"name": "w", "shape": [4], "dtype": "float32"}]}]
    with pytest.raises(ConfigError, match="shards end inside tensor 'w'"):
        decode_manifest(man, {"a.bin": b"\0" * 8})
    with pytest.raises(ConfigError, match="'a.bin'.*missing"):
        decode_manifest(man, {})


def test_convert_names_a_missing_tarball(tmp_path):
    from affectkit.backbones.faceapi_convert import main

    assert main(["--tarball", str(tmp_path / "nope.tgz"), "--out", str(tmp_path)]) == 2


def test_shipped_weights_are_small_licensed_and_equal_the_conversion(tmp_path):
    from safetensors.numpy import load_file

    from affectkit.backbones.faceapi_convert import OUT_DIR, convert

    total = sum(p.stat().st_size for p in OUT_DIR.glob("*.safetensors")
                if not p.name.startswith("ssd_"))  # SSD MobileNet v1: tests/test_faceapi_ssd.py
    assert 0 < total < 3_000_000
    assert "MIT" in (OUT_DIR / "LICENSE-face-api.txt").read_text()
    assert "face-api.js" in (OUT_DIR / "README.md").read_text()
    convert(_tarball(), tmp_path)
    for st in OUT_DIR.glob("*.safetensors"):
        a, b = load_file(str(st)), load_file(str(tmp_path / st.name))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        assert json.loads((tmp_path / (st.stem + ".json")).read_text())["tensors"] == \
            json.loads((OUT_DIR / (st.stem + ".json")).read_text())["tensors"]


def test_reference_reads_the_tarball_like_the_shipped_files():
    from affectkit.backbones import _faceapi_ref as ref
    from affectkit.backbones.faceapi import WEIGHTS_DIR

    tgz = _tarball()
    for stem in ("face_expression_model", "tiny_face_detector_model"):
        a = ref.weights_from_tarball(tgz, stem)
        b = ref.weights_from_shipped(WEIGHTS_DIR, stem)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- parity ----------------------------------------------------------------------------------
def test_expression_classes_are_the_canonical_order():
    from affectkit.backbones.faceapi import EXPRESSIONS
    from affectkit.taxonomy import CANONICAL_EMOTIONS

    assert EXPRESSIONS == CANONICAL_EMOTIONS


@pytest.mark.parametrize("model,stem,tiny", [
    ("expression", "face_expression_model", False),
    ("landmarks", "face_landmark_68_model", False),
    ("landmarks_tiny", "face_landmark_68_tiny_model", True),
])
def test_processor_port_matches_numpy_reference_on_real_faces(model, stem, tiny):
    import torch

    from affectkit.backbones import _faceapi_ref as ref
    from affectkit.backbones import faceapi as fa

    imgs, labels = _ckplus_faces(1)
    with torch.no_grad():
        out, emb = fa.load(model)(fa.to_tensor(imgs))
    r_out, r_emb = ref.face_processor(ref.weights_from_shipped(fa.WEIGHTS_DIR, stem), imgs, tiny)
    scale = np.abs(r_out).max()
    assert np.abs(out.numpy() - r_out).max() < 1e-5 * max(1.0, scale)
    assert np.abs(emb.numpy() - r_emb).max() < 1e-5
    assert emb.shape[1] == (128 if tiny else 256)
    if model == "expression":  # a sanity check of the classes, not a benchmark
        pred = [fa.EXPRESSIONS[i] for i in out.numpy().argmax(1)]
        assert pred[labels.index("happy")] == "happy"
        assert pred[labels.index("surprise")] == "surprised"


def test_detector_port_matches_numpy_reference_on_a_non_square_input():
    import cv2
    import torch

    from affectkit.backbones import _faceapi_ref as ref
    from affectkit.backbones import faceapi as fa

    f = sorted((shared_path("face/ckplus48") / "happy").glob("*.png"))[0]
    face = cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2RGB)
    img = np.full((96, 160, 3), 90, np.float32)
    img[20:84, 40:104] = cv2.resize(face, (64, 64))
    with torch.no_grad():
        out = fa.load("detector")(fa.to_tensor(img[None])).numpy()
    r = ref.tiny_face_detector(ref.weights_from_shipped(fa.WEIGHTS_DIR, "tiny_face_detector_model"),
                               img[None])
    r = r.reshape(1, 3, 5, 5, 5).transpose(0, 3, 4, 1, 2)  # NHWC (anchor, field) → port layout
    assert out.shape == (1, 5, 5, 3, 5)
    assert np.abs(out - r).max() < 1e-4


# -- detection ---------------------------------------------------------------------------------
def _mosi_frame(i: int) -> np.ndarray:
    from affectkit.media import iter_frames

    vids = sorted(shared_path("multimodal/mosi400/video").glob("*.mp4"))
    # different speakers: the file stem before the last "_" is the video
    by_video: dict[str, Path] = {}
    for v in vids:
        by_video.setdefault(v.stem.rsplit("_", 1)[0], v)
    v = sorted(by_video.values())[i]
    return next(iter(iter_frames(v, fps=1.0, start=1.0))).image


def _two_faces() -> np.ndarray:
    import cv2

    a, b = (cv2.resize(_mosi_frame(i), (320, 180)) for i in (0, 3))
    frame = np.full((360, 640, 3), 60, np.uint8)
    frame[90:270] = np.hstack([a, b])
    return frame


def test_detector_finds_both_speakers_with_plausible_landmarks():
    from affectkit.features.vision.detect import FaceApiDetector

    frame = _two_faces()
    faces = FaceApiDetector().detect(frame)
    assert len(faces) >= 2
    xs = sorted(f.center[0] for f in faces[:2])
    assert xs[0] < 320 < xs[1]
    for f in faces[:2]:
        p = f.landmarks
        assert p.shape == (68, 2)
        eyes_y, mouth_y = p[36:48, 1].mean(), p[48:68, 1].mean()
        assert eyes_y < mouth_y  # upright faces: eyes above the mouth
        assert f.box[0] - 5 <= p[:, 0].mean() <= f.box[2] + 5
        assert 0.0 <= f.mouth_open < 1.0
        assert abs(f.eye_angle) < 25


def test_detector_handles_grey_rgba_16bit_float_and_rejects_bad_shapes():
    from affectkit.errors import FeatureError
    from affectkit.features.vision.detect import FaceApiDetector, to_rgb8

    frame = _two_faces()
    grey = frame.mean(2).astype(np.uint8)
    rgba = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
    det = FaceApiDetector()
    n = len(det.detect(frame, with_landmarks=False))
    for img in (grey, grey[:, :, None], rgba, frame.astype(np.uint16) * 257,
                frame.astype(np.float32) / 255):
        assert to_rgb8(img).shape == (360, 640, 3) and to_rgb8(img).dtype == np.uint8
        assert abs(len(det.detect(img, with_landmarks=False)) - n) <= 1
    assert det.detect(np.zeros((360, 640, 3), np.uint8)) == []  # dark frame: no face, no error
    with pytest.raises(FeatureError, match="shape"):
        to_rgb8(np.zeros((4, 4, 2), np.uint8))


def test_rotation_passes_find_a_tilted_face_the_upright_pass_scores_lower():
    import cv2

    from affectkit.features.vision.detect import FaceApiDetector

    img = cv2.resize(_mosi_frame(0), (320, 180))
    canvas = np.full((360, 640, 3), 60, np.uint8)
    canvas[90:270, 160:480] = img
    m = cv2.getRotationMatrix2D((320, 180), 35, 1.0)
    tilted = cv2.warpAffine(canvas, m, (640, 360), borderValue=(60, 60, 60))
    up = FaceApiDetector(score_threshold=0.05, coarse_side=None).detect(tilted, with_landmarks=False)
    rot = FaceApiDetector(score_threshold=0.05, coarse_side=None, rotations=(-30.0, 30.0)).detect(
        tilted, with_landmarks=False)
    assert rot and max(f.score for f in rot) > max([f.score for f in up], default=0.0)


def test_bench_scoring_counts_hits_small_faces_duplicates_and_false_positives():
    from affectkit.evaluation.faces_bench import Scene, score

    sc = Scene(np.zeros((360, 640, 3), np.uint8), faces=[(100, 100, 80), (300, 100, 35)],
               angles=[0.0, 10.0], ignore=[(500, 0, 640, 200)])
    dets = [[(62, 60, 138, 140), (70, 70, 130, 130),  # hit + duplicate on the same face
             (400, 250, 450, 300),                   # phantom
             (520, 20, 600, 100)]]                   # inside the ignore region
    r = score([sc], dets)
    assert r["recall_ge40"] == 1.0 and r["recall_30_40"] == 0.0
    assert r["fp_per_frame"] == 1.0
    r2 = score([sc], [[(v * 2 for v in d) for d in dets[0]]], scale=2.0)
    assert r2["recall_ge40"] == 1.0


# -- extractor ---------------------------------------------------------------------------------
def test_faceapi_extractor_on_crops_and_video(tmp_path):
    from _media_fixtures import write_video

    from affectkit.errors import FeatureError
    from affectkit.features import get_extractor

    imgs, labels = _ckplus_faces(1)
    ext = get_extractor("vision.faceapi")
    import cv2

    crop48 = cv2.resize(imgs[labels.index("happy")].astype(np.uint8), (48, 48))[:, :, 0]
    one = ext.process_signal(crop48)  # a 48×48 grey crop is taken as the face
    assert one.shape == (790,) and one[-1] == 1.0
    assert int(np.argmax(one[:7])) == 1  # happy
    assert get_extractor("vision.faceapi", detector="haar").signature() != ext.signature()

    frame = _two_faces()
    blank = np.full_like(frame, 60)
    video = write_video(tmp_path / "f.mp4", [frame] * 10 + [blank] * 10, fps=10, size=(640, 360))
    frames = get_extractor("vision.faceapi_frames", fps=5).process_file(video)
    assert frames.shape == (10, 264)
    assert frames[:5, 0].all() and not frames[5:, 0].any()
    np.testing.assert_allclose(frames[:5, 1:8].sum(1), 1, atol=1e-5)
    with pytest.raises(FeatureError, match="no face"):
        ext.process_file(write_video(tmp_path / "b.mp4", [blank] * 5, fps=5, size=(640, 360)))


def test_faceapi_predictor_averages_canonical_probabilities():
    from affectkit.analysis.predictors import FaceApiPredictor
    from affectkit.taxonomy import CANONICAL_EMOTIONS

    rows = np.zeros((3, 263), np.float32)
    rows[[0, 1], 1] = 1.0  # happy
    rows[2, 3] = 1.0  # angry
    (out,) = FaceApiPredictor().predict([rows])
    assert CANONICAL_EMOTIONS[int(out.emotion_probs.argmax())] == "happy"
    np.testing.assert_allclose(out.emotion_probs[[1, 3]], [2 / 3, 1 / 3])
    assert out.sentiment > 0
