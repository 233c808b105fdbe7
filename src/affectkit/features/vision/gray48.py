"""48×48 grey pixels in [0, 1]: the input of face CNNs trained end to end (FER2013, CK+).

An image (or a FER2013 csv row) is read in grey, resized to 48×48 with area interpolation when
it is not already that size, and stored flat (2304,); batches reshape it to (1, 48, 48).
Video is not an input here (use ``vision.fer``, which detects faces in sampled frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from affectkit.errors import FeatureError
from affectkit.features.base import EXTRACTORS, VisionExtractor

SIDE = 48


@EXTRACTORS.register()
class Gray48(VisionExtractor):
    """48×48 grey pixels in [0, 1], flat (2304,)."""

    name = "vision.gray48"
    level = "utterance"
    color = False
    description = "48×48 grey pixels in [0, 1] (flat 2304) for CNNs trained end to end"

    def __init__(self, *, fps: float = 1.0) -> None:
        self.fps = fps

    def signature_params(self) -> dict:
        return {}  # fps never changes an image's pixels

    @property
    def dim(self) -> int:
        return SIDE * SIDE

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        import cv2

        for img in frames:
            img = np.asarray(img)
            if img.ndim == 3:
                img = img.mean(-1) if img.shape[-1] == 3 else img[..., 0]
            img = img.astype(np.uint8)
            if img.shape != (SIDE, SIDE):
                img = cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
            return (img.astype(np.float32) / 255.0).reshape(-1)
        raise FeatureError(f"{self.name}: no image in {where}")

    def process_file(self, path, start=None, end=None) -> np.ndarray:
        from affectkit.media import is_image, load_image

        if not is_image(path):
            raise FeatureError(f"{path}: {self.name} reads images (one face crop per item), "
                               "not video; use vision.fer for video")
        return self.validate(self._compute_frames([load_image(Path(path), gray=True)], str(path)),
                             str(path))
