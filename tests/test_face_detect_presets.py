"""Detector recall options and the per-face bench breakdown (issue 12): extra scales, the
accurate preset, landmarks on the scored face only."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.errors import ConfigError
from affectkit.features.vision.detect import FaceApiDetector


def _hopper() -> np.ndarray:
    import matplotlib
    from PIL import Image

    return np.asarray(Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg")
                      .convert("RGB"))


def _paste(bg: np.ndarray, img: np.ndarray, x: int, y: int, h: int) -> None:
    import cv2

    w = int(h * img.shape[1] / img.shape[0])
    bg[y:y + h, x:x + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def scene():
    bg = np.full((360, 640, 3), 90, np.uint8)
    face = _hopper()
    _paste(bg, face, 380, 60, 180)
    _paste(bg, face, 80, 200, 110)
    return bg


def test_extra_scale_finds_a_small_face_the_640_pass_misses():
    bg = np.full((360, 640, 3), 90, np.uint8)
    _paste(bg, _hopper(), 300, 150, 80)  # a ~30-px face
    assert FaceApiDetector(coarse_side=None).detect(bg, with_landmarks=False) == []
    faces = FaceApiDetector(coarse_side=None, extra_sides=(800,)).detect(bg, with_landmarks=False)
    assert len(faces) == 1
    cx, cy = faces[0].center
    assert 300 < cx < 300 + 80 and 150 < cy < 150 + 80


def test_accurate_preset_runs_the_chosen_passes(scene, monkeypatch):
    det = FaceApiDetector.accurate()
    calls = []
    orig = det._pass

    def spy(net, rgb, angle, side=None):
        calls.append((angle, side))
        return orig(net, rgb, angle, side)

    monkeypatch.setattr(det, "_pass", spy)
    faces = det.detect(scene, with_landmarks=False)
    assert calls == [(0.0, None), (0.0, 224), (0.0, 800), (-15.0, None), (15.0, None)]
    assert len(faces) == 2  # the passes' duplicates are merged by NMS
    assert FaceApiDetector.accurate(score_threshold=0.6).score_threshold == 0.6
    rot = FaceApiDetector(rotations=(20.0,), rotation_side=800)
    monkeypatch.setattr(rot, "_pass", spy)
    calls.clear()
    rot.detect(scene, with_landmarks=False)
    assert calls == [(0.0, None), (0.0, 224), (20.0, 800)]
    with pytest.raises(ConfigError, match="extra_sides"):
        FaceApiDetector(extra_sides=(32,))


def test_largest_face_gets_the_same_landmarks_from_one_landmark_pass(scene, monkeypatch):
    det = FaceApiDetector()
    every = det.detect(scene)
    ref = max(every, key=lambda f: f.width * f.height)
    n = []
    orig = det.add_landmarks

    def spy(rgbs, faces):
        n.append(sum(len(f) for f in faces))
        return orig(rgbs, faces)

    monkeypatch.setattr(det, "add_landmarks", spy)
    f = det.largest(scene)
    assert n == [1]  # landmarks for the scored face only
    assert np.allclose(f.box, ref.box) and np.allclose(f.landmarks, ref.landmarks, atol=1e-3)
    assert det.largest(np.zeros((360, 640, 3), np.uint8)) is None
    assert det.largest(scene, with_landmarks=False).landmarks is None


def test_bench_breakdown_bins_recall_by_size_angle_and_source():
    from affectkit.evaluation.faces_bench import Scene, breakdown

    sc = Scene(np.zeros((8, 8, 3), np.uint8), faces=[(0, 0, 45), (0, 0, 45), (0, 0, 150),
                                                   (0, 0, 35)],
               angles=[5.0, -25.0, 12.0, 0.0], ignore=[],
               sources=["ckplus48/happy/a.png", "fer2013/sad/b.jpg", "fer2013/sad/c.jpg",
                        "ckplus48/fear/d.png"])
    per_face = [(45, 5.0, True), (45, -25.0, False), (150, 12.0, True), (35, 0.0, False)]
    b = breakdown([sc], per_face)
    assert b["size"]["40-50"] == {"faces": 2, "recall": 0.5}
    assert b["size"]["30-40"] == {"faces": 1, "recall": 0.0}
    assert b["size"]["50-60"] == {"faces": 0, "recall": None}
    assert b["angle_ge40"]["20-30.01"] == {"faces": 1, "recall": 0.0}  # |−25°|, ≥ 40 px only
    assert b["angle_ge40"]["0-10"] == {"faces": 1, "recall": 1.0}
    assert b["source_ge40"] == {"ckplus48": {"faces": 1, "recall": 1.0},
                                "fer2013": {"faces": 2, "recall": 0.5}}
    assert b["size_x_angle"]["100-201 px, |angle| 0-15"] == {"faces": 1, "recall": 1.0}


def test_follower_tracks_a_moving_face_with_one_full_detection_per_refresh(monkeypatch):
    from affectkit.features.vision.detect import FaceFollower, iou

    face = _hopper()
    frames = []
    for i in range(10):
        bg = np.full((360, 640, 3), 90, np.uint8)
        _paste(bg, face, 150 + 12 * i, 100 + 3 * i, 150)
        frames.append(bg)
    det = FaceApiDetector()
    fol = FaceFollower(FaceApiDetector(), refresh=5)
    sides = []
    orig = fol.detector._pass

    def spy(net, rgb, angle, side=None):
        sides.append(side)
        return orig(net, rgb, angle, side)

    monkeypatch.setattr(fol.detector, "_pass", spy)
    for img in frames:
        ref, got = det.largest(img), fol(img)
        assert got is not None and iou(ref.box, got.box) >= 0.5
        assert got.landmarks is not None and got.landmarks.shape == (68, 2)
    assert fol.full_detections == 2  # frames 0 and 5; the rest are 256-px region passes
    assert sides.count(256) == 8
    assert fol(np.full((360, 640, 3), 90, np.uint8)) is None  # lost → full detection, none
    assert fol.full_detections == 3
    assert fol(frames[0]) is not None and fol.full_detections == 4
    fol.reset()
    assert fol.full_detections == 0
    grid = FaceFollower(FaceApiDetector(), refresh=5, roi_input=None)
    for img in frames:
        ref, got = det.largest(img), grid(img)
        assert iou(ref.box, got.box) >= 0.8  # the full pass's scale and grid: ~ the same box
    for bad in ({"refresh": 0}, {"roi_input": 100}, {"roi": 1.0}):
        with pytest.raises(ConfigError):
            FaceFollower(det, **bad)


def test_bench_markdown_shows_only_the_parts_that_ran():
    from affectkit.evaluation.faces_bench import markdown

    video = {"table": "video", "resolution": "640x360", "pipeline": "follower",
             "ms_per_frame": 50.0, "frames_per_s": 20.0, "frames_with_face": 0.99,
             "agreement_with_every_frame": 0.98}
    md = markdown([video])
    assert "follower | 50.0 | 20.0 | 0.990 | 0.980" in md
    assert "recall ≥40 px" not in md and "mosi400 (2 fps)" not in md  # parts that did not run
    combo = {"table": "combo", "combo": "640 + 800", "threshold": 0.4, "cost": 3.0,
             "recall_ge40": 0.8, "faces_ge40": 10, "recall_30_40": 0.5, "faces_30_40": 4,
             "fp_per_frame": 0.05}
    misses = {"table": "misses", "missed_ge40": 3, "no_candidate_over_0.1": 1,
              "candidate_0.1_to_0.4": 2}
    md = markdown([combo, misses])
    assert "| 640 + 800 | 0.4 | 3.0 | 0.800 (10) | 0.500 (4) | 0.050 |" in md
    assert "| 3 | 1 | 2 |" in md and "video pipeline" not in md


def test_extractor_follow_option_keeps_old_signatures_and_follows_a_video(monkeypatch):
    from affectkit.features.vision.faceapi import FaceApiFrames

    plain, fol = FaceApiFrames(), FaceApiFrames(follow=5)
    assert "follow" not in plain.signature_params()  # cached features keep their key
    assert fol.signature_params()["follow"] == 5 and fol.signature() != plain.signature()
    with pytest.raises(ConfigError, match="follow"):
        FaceApiFrames(follow=-1)
    face = _hopper()
    frames = []
    for i in range(7):
        bg = np.full((360, 640, 3), 90, np.uint8)
        _paste(bg, face, 150 + 10 * i, 100, 150)
        frames.append(bg)
    full = []
    orig = fol._det.largest

    def spy(img, **kw):
        full.append(1)
        return orig(img, **kw)

    monkeypatch.setattr(fol._det, "largest", spy)
    a = plain.process_signal(frames)
    b = fol.process_signal(frames)
    assert len(full) == 2  # frames 0 and 5; region passes between
    assert a.shape == b.shape == (7, 264) and a[:, 0].all() and b[:, 0].all()
    # the same face, a differently sized box (the region pass re-scales the face): the
    # expression agrees, the embedding is close, not equal
    ea, eb = a[:, 8:], b[:, 8:]
    cos = (ea * eb).sum(1) / np.linalg.norm(ea, axis=1) / np.linalg.norm(eb, axis=1)
    assert cos.min() > 0.6 and (a[:, 1:8].argmax(1) == b[:, 1:8].argmax(1)).all()
    assert np.allclose(cos[[0, 5]], 1.0, atol=1e-5)  # full detections: the same crop
    b2 = fol.process_signal(frames)  # a new call is a new video: the follower restarts
    assert len(full) == 4 and np.allclose(b, b2)
