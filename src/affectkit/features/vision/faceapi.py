"""Facial-expression features from face-api.js FaceExpressionNet (``vision.faceapi``).

Per sampled frame: every face is found by :class:`~affectkit.features.vision.detect.FaceApiDetector`
(Tiny Face Detector + 68 landmarks; ``detector="haar"`` falls back to the OpenCV cascade), the
chosen face (``face="largest"``, or ``"all"`` in :meth:`FaceApiBase.frame_faces`) is cropped
square, rotated so the eyes are level, resized to 112×112 RGB and passed through
FaceExpressionNet (:mod:`affectkit.backbones.faceapi`): 7 probabilities in canonical order
(neutral, happy, sad, angry, fearful, disgusted, surprised) + the 256-d bottleneck embedding.
Images no larger than ``crop_max_side`` (FER2013 / CK+ 48×48 crops) are taken as the face.

* ``vision.faceapi``: per utterance mean / std / max over face frames of [7 probs, 256 emb] +
  the share of sampled frames with a face → 790-d. No face in any frame raises FeatureError.
* ``vision.faceapi_frames``: (T, 264) = [face_found, 7 probs, 256 emb] per sampled frame.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from affectkit.errors import ConfigError, FeatureError
from affectkit.features.base import EXTRACTORS, VisionExtractor
from affectkit.features.vision.detect import Face, FaceApiDetector, aligned_crop, to_rgb8
from affectkit.features.vision.faces import frame_rows, pool_face_rows

EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
EMB_DIM = 256
INPUT = 112


def classify(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, 112, 112, 3) uint8 RGB faces → probabilities (B, 7), embeddings (B, 256)."""
    import torch

    from affectkit.backbones import faceapi as fa

    if crops.ndim != 4 or crops.shape[1:] != (INPUT, INPUT, 3):
        raise FeatureError(f"classify expects (B, 112, 112, 3) RGB crops, got {crops.shape}")
    net = fa.load("expression")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            logits, emb = net(fa.to_tensor(crops))
            probs = torch.softmax(logits, dim=1)
    finally:
        torch.set_num_threads(prev)
    return probs.numpy(), emb.numpy()


def face_crop_direct(img: np.ndarray) -> np.ndarray:
    """A whole (small) image taken as the face: RGB, resized to 112×112."""
    import cv2

    return cv2.resize(to_rgb8(img), (INPUT, INPUT), interpolation=cv2.INTER_LINEAR)


class FaceApiBase(VisionExtractor):
    runtime_params = ("batch_size",)
    color = True

    def __init__(self, *, fps: float = 5.0, detect: str = "auto", detector: str = "faceapi",
                 detect_side: int = 640, score_threshold: float = 0.4, crop_max_side: int = 96,
                 margin: float = 0.0, align: bool = True, batch_size: int = 32,
                 follow: int = 0) -> None:
        if follow < 0:
            raise ConfigError(f"follow={follow}; expected 0 (detect on every frame) or k >= 1 "
                              "(full detection every k-th frame, a region pass between)")
        self.follow = int(follow)
        if detect not in ("auto", "always", "never"):
            raise ConfigError(f"detect={detect!r}; expected 'auto', 'always' or 'never'")
        if detector not in ("faceapi", "ssd", "haar"):
            raise ConfigError(f"detector={detector!r}; expected 'faceapi' (Tiny Face Detector), "
                              "'ssd' (SSD MobileNet v1 preset) or 'haar' (fallback)")
        if fps is not None and fps < 0:
            raise ConfigError(f"fps={fps}; expected >= 0 (0 = every frame)")
        self.fps = fps
        self.detect = detect
        self.detector = detector
        self.detect_side = detect_side
        self.score_threshold = score_threshold
        self.crop_max_side = crop_max_side
        self.margin = margin
        self.align = align
        self.batch_size = batch_size
        # detector="ssd": FaceApiDetector.ssd() (its own sides/threshold, chosen on dev scenes)
        self._det = (FaceApiDetector.ssd(landmarks="tiny" if align else None) if detector == "ssd"
                     else FaceApiDetector(detect_side=detect_side, score_threshold=score_threshold,
                                          landmarks="tiny" if align else None))

    def signature_params(self) -> dict:
        """``follow=0`` (the default) is left out, so features cached before the option
        existed keep their signature."""
        p = super().signature_params()
        if not p.get("follow"):
            p.pop("follow", None)
        return p

    @property
    def model_version(self) -> str:
        from affectkit.backbones.faceapi import weights_version

        return weights_version("face_expression_model", "ssd_mobilenetv1_model"
                               if self.detector == "ssd" else "tiny_face_detector_model",
                               "face_landmark_68_tiny_model")

    def frame_faces(self, img: np.ndarray) -> list[Face]:
        """All faces of one frame (with landmarks when ``align``)."""
        if self.detector == "haar":
            from affectkit.features.vision.faces import FaceDetector, to_gray

            boxes = FaceDetector(detect_side=max(320, self.detect_side // 2)).detect(
                to_gray(to_rgb8(img)))
            return [Face((b.x, b.y, b.x + b.w, b.y + b.h), 1.0) for b in boxes]
        return self._det.detect(img, with_landmarks=self.align)

    def face_crops(self, frames: Iterable[np.ndarray]):
        """One aligned crop (or ``None``) per frame. With ``follow=k`` the frames of one call
        are taken as one video: :class:`FaceFollower` (full detection every k-th frame)."""
        from affectkit.features.vision.detect import FaceFollower

        # the region pass re-scales the face (256-px input): about half the time per frame
        # on mosi400, but its box differs from a full detection's, and so does the crop
        # (embedding cosine to the per-frame crop 0.87 on average; docs/faces.md)
        fol = (FaceFollower(self._det, refresh=self.follow, with_landmarks=self.align)
               if self.follow and self.detector != "haar" else None)
        for img in frames:
            a = np.asarray(img)
            small = max(a.shape[:2]) <= self.crop_max_side
            if self.detect == "never" or (self.detect == "auto" and small):
                yield face_crop_direct(a)
                continue
            if self.detector == "haar":
                faces = self.frame_faces(a)
                f = max(faces, key=lambda f: f.width * f.height) if faces else None
            elif fol is not None:
                f = fol(a)
            else:  # landmarks for the face that is scored only
                f = self._det.largest(a, with_landmarks=self.align)
            if f is None:
                yield None
                continue
            yield aligned_crop(a, f, size=INPUT, margin=self.margin, align=self.align)

    def frame_features(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """(T, 264) rows [face_found, 7 probabilities, 256 embedding] (zeros without a face)."""
        return frame_rows(self.face_crops(frames), classify, len(EXPRESSIONS), EMB_DIM,
                          self.batch_size, self.name)



def _frame_names() -> list[str]:
    return ["face_found"] + [f"p_{c}" for c in EXPRESSIONS] + [f"emb_{i}" for i in range(EMB_DIM)]


@EXTRACTORS.register()
class FaceApiFrames(FaceApiBase):
    """(T, 264) per sampled frame: face mask, 7 expression probabilities, 256-d embedding."""

    name = "vision.faceapi_frames"
    level = "frame"
    description = "face-api Tiny Face Detector + FaceExpressionNet per frame: mask, 7 probs, 256-d"

    @property
    def dim(self) -> int:
        return 1 + len(EXPRESSIONS) + EMB_DIM

    @property
    def frame_rate(self) -> float | None:
        return float(self.fps) if self.fps else None

    @property
    def feature_names(self) -> list[str]:
        return _frame_names()

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        return self.frame_features(frames)


@EXTRACTORS.register()
class FaceApi(FaceApiBase):
    """(790,) per utterance: mean/std/max over face frames of [7 probs, 256 emb] + face ratio."""

    name = "vision.faceapi"
    level = "utterance"
    description = "face-api detector + FaceExpressionNet, pooled mean/std/max over frames (790-d)"

    @property
    def dim(self) -> int:
        return 3 * (len(EXPRESSIONS) + EMB_DIM) + 1

    @property
    def feature_names(self) -> list[str]:
        base = _frame_names()[1:]
        return ([f"mean_{n}" for n in base] + [f"std_{n}" for n in base]
                + [f"max_{n}" for n in base] + ["face_ratio"])

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        f = self.frame_features(frames)
        return pool_face_rows(f, f"{where}: no face found in {len(f)} sampled frame(s) "
                              f"(fps={self.fps}, detector={self.detector}); vision.faceapi "
                              "needs a visible face at least ~40 px tall")
