"""Multi-face detection with landmarks: the face-api.js Tiny Face Detector + 68-point net.

:class:`FaceApiDetector` finds every face in a frame (several per frame), adds 68 landmarks
(FaceLandmark68TinyNet by default) and gives eye-aligned 112×112 RGB crops for the expression
net. The frame is scaled so that its longer side is ``detect_side`` pixels (default 640: a
40-px face in a 640-px frame stays 40 px; upscaling is allowed) and letter-boxed to multiples of
32 — the detector is fully convolutional, so a 640×360 frame costs a 640×384 pass, not
640×640. The Haar cascade of :mod:`~affectkit.features.vision.faces` stays available as the
fallback (``detector="haar"`` in the extractors). Numbers: ``affect bench faces``, docs/faces.md.

Input images may be grey (H, W) / (H, W, 1), RGB, RGBA, 8- or 16-bit, or float in [0, 1];
:func:`to_rgb8` normalises them and names the shape it cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from affectkit.errors import ConfigError, FeatureError

# 68-point layout (iBUG / dlib): jaw 0-16, brows 17-26, nose 27-35, eyes 36-41 / 42-47,
# outer lips 48-59, inner lips 60-67.
LEFT_EYE = slice(36, 42)
SSD_INPUT = 512  # SSD MobileNet v1's fixed input side
SSD_MIN_OVERLAP = 128  # SSD tiles overlap by at least this (input pixels)
RIGHT_EYE = slice(42, 48)


@dataclass
class Face:
    """One detected face, in pixel coordinates of the frame it was found in."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    score: float
    landmarks: np.ndarray | None = field(default=None, repr=False)  # (68, 2) x, y

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2

    @property
    def eye_angle(self) -> float:
        """Roll in degrees (positive: the face's right-hand eye, image-left, is higher)."""
        if self.landmarks is None:
            return 0.0
        le, re_ = self.landmarks[LEFT_EYE].mean(0), self.landmarks[RIGHT_EYE].mean(0)
        return float(np.degrees(np.arctan2(re_[1] - le[1], re_[0] - le[0])))

    @property
    def mouth_open(self) -> float:
        """Inner-lip gap over mouth width (0 closed, ~0.5 wide open); NaN without landmarks."""
        if self.landmarks is None:
            return float("nan")
        p = self.landmarks
        gap = np.mean([np.linalg.norm(p[61] - p[67]), np.linalg.norm(p[62] - p[66]),
                       np.linalg.norm(p[63] - p[65])])
        width = np.linalg.norm(p[48] - p[54])
        return float(gap / max(width, 1e-6))


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB from grey / RGB / RGBA images of uint8, uint16 or float [0, 1]."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise FeatureError(f"expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif a.dtype.kind == "f":
        a = np.clip(np.nan_to_num(a) * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255)
        a = a.astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


class FaceApiDetector:
    """All faces per frame, with landmarks.

    Args:
        detect_side: the longer side of the frame at detection scale (multiple of 32 not
            required; the letter-box pads to one). Larger finds smaller faces, slower.
        score_threshold: objectness threshold (face-api.js default 0.5).
        iou_threshold: non-maximum suppression (face-api.js uses 0.4).
        min_face: faces smaller than this (pixels, frame scale) are dropped.
        landmarks: ``"tiny"`` (FaceLandmark68TinyNet), ``"full"`` (FaceLandmark68Net) or
            ``None`` (no landmarks: no alignment, no mouth opening).
        coarse_side: a second, cheap pass with the longer side at this size finds faces too
            large for the fine pass (close-ups, faces cut by the frame edge: the detector's
            largest anchor is ~290 px); ``None`` = fine pass only.
        rotations: extra detector passes on the frame rotated by these angles (degrees), for
            tilted heads; each costs one more pass. ``()`` = upright only.
        extra_passes: ``"always"`` runs the coarse and rotated passes on every frame;
            ``"if_empty"`` only on frames where the plain pass found no face (cheaper on
            video where the face is usually found; a close-up or tilted face *beside* a found
            one is then missed).
        fast: run the detector traced, frozen and channels-last
            (:func:`affectkit.backbones.faceapi.fast_detector`: same outputs, ~1/3 of the
            time); ``False`` = the plain PyTorch module.
        extra_sides: further upright passes with the longer side at these sizes (an
            extra scale: the detector's recall depends on the face's size *in its input* —
            on the development scenes a 640-px pass finds 50 % of 40–50-px faces, an 800-px
            pass 78 %, and their union more than either). Extra passes (``extra_passes``).
        rotation_side: the longer side for the rotated passes (default ``detect_side``).
        model: ``"tiny"`` (Tiny Face Detector, fully convolutional: the letter-boxed frame in
            one pass) or ``"ssd"`` (SSD MobileNet v1, :mod:`affectkit.backbones.faceapi_ssd`:
            fixed 512×512 input — a pass at side ``S`` ≤ 512 is face-api.js's own: the frame
            padded to a square and resized to 512; at ``S`` > 512 the frame scaled to ``S`` is
            cut into 512² tiles overlapping by ≥ 128 px, one batch, each tile keeping the
            boxes centred in its share of the overlap). For ``"ssd"`` the defaults are
            ``detect_side=512``, no coarse pass, threshold ``SSD["score_threshold"]``;
            :meth:`ssd` adds the passes chosen on development scenes.

    :meth:`accurate` gives the multi-scale, rotated configuration chosen on development
    scenes (docs/faces.md); the defaults are the fast video configuration.
    """

    #: chosen on development scenes (seed 1), see docs/faces.md "Detection presets"
    ACCURATE = {"detect_side": 640, "extra_sides": (800,), "rotations": (-15.0, 15.0),
                "score_threshold": 0.4}

    #: SSD MobileNet v1 settings chosen on development scenes (seed 1), docs/faces.md
    #: "SSD MobileNet v1 (session 5)"
    SSD = {"model": "ssd", "detect_side": 512, "extra_sides": (896,), "score_threshold": 0.3}

    @classmethod
    def ssd(cls, **kw) -> "FaceApiDetector":
        """The SSD MobileNet v1 detector with the passes chosen on development scenes."""
        return cls(**{**cls.SSD, **kw})

    @classmethod
    def accurate(cls, **kw) -> "FaceApiDetector":
        """Multi-scale (640 + 800 px) with ±15° passes at 640 px: higher recall on small and
        tilted faces, about 5× the detector time of the default (for photos, not video)."""
        return cls(**{**cls.ACCURATE, **kw})

    def __init__(self, *, detect_side: int | None = None, score_threshold: float | None = None,
                 iou_threshold: float = 0.4, min_face: float = 16.0,
                 landmarks: str | None = "tiny", coarse_side: int | None | str = "auto",
                 rotations: tuple[float, ...] = (), fast: bool = True,
                 extra_passes: str = "always", extra_sides: tuple[int, ...] = (),
                 rotation_side: int | None = None, model: str = "tiny") -> None:
        if model not in ("tiny", "ssd"):
            raise ConfigError(f"model={model!r}; expected 'tiny' (Tiny Face Detector) or 'ssd' "
                              "(SSD MobileNet v1)")
        self.model = model
        ssd = model == "ssd"
        if detect_side is None:
            detect_side = SSD_INPUT if ssd else 640
        if score_threshold is None:
            score_threshold = self.SSD["score_threshold"] if ssd else 0.4
        if coarse_side == "auto":
            coarse_side = None if ssd else 224
        if detect_side < 64:
            raise ConfigError(f"detect_side={detect_side}; use >= 64")
        if not 0.0 < score_threshold < 1.0:
            raise ConfigError(f"score_threshold={score_threshold}; expected 0 < t < 1")
        if landmarks not in ("tiny", "full", None):
            raise ConfigError(f"landmarks={landmarks!r}; expected 'tiny', 'full' or None")
        self.detect_side = detect_side
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.min_face = min_face
        self.landmarks = landmarks
        self.rotations = tuple(float(a) for a in rotations)
        self.fast = fast
        if extra_passes not in ("always", "if_empty"):
            raise ConfigError(f"extra_passes={extra_passes!r}; expected 'always' or 'if_empty'")
        self.extra_passes = extra_passes
        if coarse_side is not None and not 64 <= coarse_side < detect_side:
            raise ConfigError(f"coarse_side={coarse_side}; expected 64 <= coarse_side < "
                              f"detect_side ({detect_side}) or None")
        self.coarse_side = coarse_side
        self.extra_sides = tuple(int(v) for v in extra_sides)
        for v in (*self.extra_sides, *(() if rotation_side is None else (rotation_side,))):
            if v < 64:
                raise ConfigError(f"extra_sides/rotation_side value {v}; use >= 64")
        self.rotation_side = rotation_side

    # -- detection ---------------------------------------------------------------------------
    def _letterbox(self, rgb: np.ndarray, side: int | None = None) -> tuple[np.ndarray, float]:
        import cv2

        h, w = rgb.shape[:2]
        k = (side or self.detect_side) / max(h, w)
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else
                           cv2.INTER_LINEAR) if k != 1 else rgb
        pw, ph = -(-nw // 32) * 32, -(-nh // 32) * 32
        canvas = np.zeros((ph, pw, 3), np.uint8)
        canvas[:nh, :nw] = small
        return canvas, k

    def detect(self, img: np.ndarray, *, with_landmarks: bool = True) -> list[Face]:
        """All faces in an image, best score first."""
        return self.detect_batch([img], with_landmarks=with_landmarks)[0]

    def detect_batch(self, images: list[np.ndarray], *, with_landmarks: bool = True
                     ) -> list[list[Face]]:
        import torch

        from affectkit.backbones import faceapi as fa

        net = fa.load("detector") if self.model == "tiny" else None
        rgbs = [to_rgb8(i) for i in images]
        out: list[list[Face]] = []
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for rgb in rgbs:
                boxes, scores = self._pass(net, rgb, 0.0)
                extra = self.extra_passes == "always" or not self._any_face(boxes, rgb)
                if extra and self.coarse_side and max(rgb.shape[:2]) > self.coarse_side:
                    b, sc = self._pass(net, rgb, 0.0, self.coarse_side)
                    boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, sc])
                for side in self.extra_sides if extra else ():
                    b, sc = self._pass(net, rgb, 0.0, side)
                    boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, sc])
                for angle in self.rotations if extra else ():
                    b, sc = self._pass(net, rgb, angle, self.rotation_side)
                    boxes, scores = np.concatenate([boxes, b]), np.concatenate([scores, sc])
                keep = fa.nms(boxes, scores, self.iou_threshold)
                h, w = rgb.shape[:2]
                faces = []
                for i in keep:
                    x0, y0, x1, y1 = boxes[i].tolist()
                    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, w), min(y1, h)
                    if min(x1 - x0, y1 - y0) < self.min_face:
                        continue
                    faces.append(Face((x0, y0, x1, y1), float(scores[i])))
                out.append(faces)
            if with_landmarks and self.landmarks:
                self.add_landmarks(rgbs, out)
        finally:
            torch.set_num_threads(prev)
        return out

    def largest(self, img: np.ndarray, *, with_landmarks: bool = True) -> Face | None:
        """The largest face of a frame (``None`` without one), landmarks computed for it
        alone — what the per-frame expression pipeline uses; one landmark-net pass instead of
        one per face in the frame."""
        import torch

        rgb = to_rgb8(img)
        faces = self.detect(rgb, with_landmarks=False)
        if not faces:
            return None
        face = max(faces, key=lambda f: f.width * f.height)
        if with_landmarks and self.landmarks:
            prev = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                self.add_landmarks([rgb], [[face]])
            finally:
                torch.set_num_threads(prev)
        return face

    def _any_face(self, boxes: np.ndarray, rgb: np.ndarray) -> bool:
        """Whether a pass's boxes hold a face that survives the ``min_face`` clip."""
        h, w = rgb.shape[:2]
        for x0, y0, x1, y1 in boxes.tolist():
            if min(min(x1, w) - max(x0, 0.0), min(y1, h) - max(y0, 0.0)) >= self.min_face:
                return True
        return False

    def _pass(self, net, rgb: np.ndarray, angle: float, side: int | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (frame pixels) and scores of one detector pass on the frame rotated by angle."""
        import cv2
        import torch

        from affectkit.backbones import faceapi as fa

        src, back = rgb, None
        if angle:
            h, w = rgb.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            src = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            back = cv2.invertAffineTransform(m)
        if self.model == "ssd":
            boxes, scores = self._ssd_pass(src, side or self.detect_side)
            return self._unrotate(boxes, back), scores
        canvas, k = self._letterbox(src, side)
        with torch.inference_mode():
            if self.fast:
                # NHWC memory viewed as NCHW = channels-last, what the traced net wants
                x = torch.from_numpy(canvas[None].astype(np.float32)).permute(0, 3, 1, 2)
                raw = fa.fast_detector(tuple(x.shape))(x).numpy()
            else:
                raw = net(fa.to_tensor(canvas[None])).numpy()
        boxes, scores = fa.decode_detections(raw, self.score_threshold)[0]
        return self._unrotate(boxes / k, back), scores

    @staticmethod
    def _unrotate(boxes: np.ndarray, back: np.ndarray | None) -> np.ndarray:
        if back is None or not len(boxes):
            return boxes
        # the centre maps back exactly; the side is kept (a tilted face's upright size)
        c = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                      np.ones(len(boxes))], axis=1) @ back.T
        half = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1) / 2
        return np.concatenate([c - half, c + half], axis=1)

    def _ssd_pass(self, rgb: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """SSD MobileNet v1 on the frame scaled so its longer side is ``max(side, 512)``:
        one padded 512² input, or overlapping 512² tiles (one batch) when larger."""
        import cv2
        import torch

        from affectkit.backbones import faceapi_ssd as ssd

        h, w = rgb.shape[:2]
        k = max(side, SSD_INPUT) / max(h, w)
        nw, nh = max(1, round(w * k)), max(1, round(h * k))
        img = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else
                         cv2.INTER_LINEAR) if k != 1 else rgb
        xs, ys = tile_starts(nw), tile_starts(nh)
        tiles = np.zeros((len(xs) * len(ys), SSD_INPUT, SSD_INPUT, 3), np.uint8)
        where = []
        for yi, y0 in enumerate(ys):
            for xi, x0 in enumerate(xs):
                part = img[y0: y0 + SSD_INPUT, x0: x0 + SSD_INPUT]
                tiles[len(where), : part.shape[0], : part.shape[1]] = part
                # the share of the overlap this tile owns: up to the middle of each overlap
                lo_x = 0.0 if xi == 0 else (x0 + xs[xi - 1] + SSD_INPUT) / 2
                hi_x = np.inf if xi == len(xs) - 1 else (xs[xi + 1] + x0 + SSD_INPUT) / 2
                lo_y = 0.0 if yi == 0 else (y0 + ys[yi - 1] + SSD_INPUT) / 2
                hi_y = np.inf if yi == len(ys) - 1 else (ys[yi + 1] + y0 + SSD_INPUT) / 2
                where.append((x0, y0, lo_x, hi_x, lo_y, hi_y))
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            boxes, scores = ssd.run(tiles, use_fast=self.fast)
        finally:
            torch.set_num_threads(prev)
        out_b, out_s = [], []
        for (x0, y0, lo_x, hi_x, lo_y, hi_y), b, sc in zip(where, boxes, scores):
            m = sc > self.score_threshold
            b = b[m] + [x0, y0, x0, y0]
            cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
            own = (cx >= lo_x) & (cx < hi_x) & (cy >= lo_y) & (cy < hi_y)
            out_b.append(b[own] / k)
            out_s.append(sc[m][own])
        return np.concatenate(out_b).reshape(-1, 4), np.concatenate(out_s)

    # -- landmarks and crops -------------------------------------------------------------------
    @staticmethod
    def _square(face: Face, scale: float = 1.0) -> tuple[float, float, float]:
        cx, cy = face.center
        return cx, cy, max(face.width, face.height) * scale

    def add_landmarks(self, rgbs: list[np.ndarray], faces: list[list[Face]]) -> None:
        """Fill ``Face.landmarks`` in place (one batched landmark-net pass)."""
        import torch

        from affectkit.backbones import faceapi as fa

        crops, where = [], []
        for j, (rgb, fs) in enumerate(zip(rgbs, faces)):
            for f in fs:
                cx, cy, side = self._square(f)
                crops.append(_warp(rgb, cx, cy, side, 0.0, 112))
                where.append((j, f, cx, cy, side))
        if not crops:
            return
        net = fa.load("landmarks_tiny" if self.landmarks == "tiny" else "landmarks")
        with torch.inference_mode():
            rel, _ = net(fa.to_tensor(np.stack(crops)))
        for (_, f, cx, cy, side), r in zip(where, rel.numpy().reshape(-1, 68, 2)):
            f.landmarks = np.stack([cx - side / 2 + r[:, 0] * side,
                                    cy - side / 2 + r[:, 1] * side], axis=1).astype(np.float32)


class FaceFollower:
    """The largest face through a video at a fraction of the detector's cost.

    A full detection (every pass of ``detector``) on the first frame, every ``refresh``-th
    frame and whenever the face is lost; in between **one** detector pass on the square of
    ``roi`` × the previous face's side around it, scaled to ``roi_input`` px (the face is then
    ~``roi_input / roi`` px, the size the detector finds best) — a 256² input instead of a
    640×384 one plus the coarse pass. The face kept in the region is the one overlapping the
    previous face most. A face that *appears* (larger than the followed one) is picked up at the
    next refresh. Call :meth:`reset` between videos.

    ``roi_input=None``: the region is cut at the full pass's own scale and on its 32-px grid,
    so the detector sees the pixels a full detection would and gives (nearly) the same box —
    the expression crops stay consistent with per-frame detection; the pass is then
    ``roi`` × the face at frame scale (cheaper than the frame for faces under ~1/3 of it).
    """

    def __init__(self, detector: "FaceApiDetector | None" = None, *, refresh: int = 5,
                 roi: float = 2.5, roi_input: int | None = 256,
                 with_landmarks: bool = True) -> None:
        if refresh < 1:
            raise ConfigError(f"refresh={refresh}; use >= 1 (1 = full detection every frame)")
        if roi_input is not None and (roi_input % 32 or roi_input < 64):
            raise ConfigError(f"roi_input={roi_input}; use a multiple of 32, >= 64")
        if roi < 1.2:
            raise ConfigError(f"roi={roi}; use >= 1.2 (the region must hold the moved face)")
        self.detector = detector or FaceApiDetector()
        self.refresh, self.roi, self.roi_input = refresh, roi, roi_input
        self.with_landmarks = with_landmarks
        self.reset()

    def reset(self) -> None:
        self._prev: Face | None = None
        self._since = 0
        self.full_detections = 0

    def __call__(self, img: np.ndarray) -> Face | None:
        import torch

        rgb = to_rgb8(img)
        face = None
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if self._prev is not None and self._since < self.refresh:
                face = self._follow(rgb, self._prev)
            if face is None:
                face = self.detector.largest(rgb, with_landmarks=False)
                self._since, self.full_detections = 0, self.full_detections + 1
            self._since += 1
            self._prev = face
            if face is not None and self.with_landmarks and self.detector.landmarks:
                self.detector.add_landmarks([rgb], [[face]])
        finally:
            torch.set_num_threads(prev_threads)
        return face

    def _follow(self, rgb: np.ndarray, prev: Face) -> Face | None:
        import cv2

        from affectkit.backbones import faceapi as fa

        cx, cy = prev.center
        side = max(prev.width, prev.height) * self.roi
        if self.roi_input:
            n = self.roi_input
            k = n / side
        else:  # the full pass's scale and 32-px grid: the pixels the full pass would see
            k = self.detector.detect_side / max(rgb.shape[:2])
            n = max(64, int(np.ceil(side * k / 32)) * 32 + 32)
            x0 = np.floor((k * cx - n / 2) / 32) * 32
            y0 = np.floor((k * cy - n / 2) / 32) * 32
            cx, cy = (x0 + n / 2) / k, (y0 + n / 2) / k
        m = np.array([[k, 0.0, n / 2 - k * cx], [0.0, k, n / 2 - k * cy]])
        crop = cv2.warpAffine(rgb, m, (n, n), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        boxes, scores = self.detector._pass(fa.load("detector"), crop, 0.0, n)
        if not len(boxes):
            return None
        keep = fa.nms(boxes, scores, self.detector.iou_threshold)
        h, w = rgb.shape[:2]
        best, best_iou = None, 0.0
        for i in keep:
            x0, y0, x1, y1 = (boxes[i] - [m[0, 2], m[1, 2], m[0, 2], m[1, 2]]) / k
            box = (max(x0, 0.0), max(y0, 0.0), min(x1, w), min(y1, h))
            if min(box[2] - box[0], box[3] - box[1]) < self.detector.min_face:
                continue
            o = iou(box, prev.box)
            if o > best_iou:
                best, best_iou = Face(box, float(scores[i])), o
        return best


def _warp(rgb: np.ndarray, cx: float, cy: float, side: float, angle: float, size: int
          ) -> np.ndarray:
    """``size``² crop of the square (cx, cy, side) rotated by ``angle`` degrees (edge replicated)."""
    import cv2

    s = size / max(side, 1e-6)
    m = cv2.getRotationMatrix2D((cx, cy), angle, s)
    m[0, 2] += size / 2 - cx
    m[1, 2] += size / 2 - cy
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def aligned_crop(img: np.ndarray, face: Face, *, size: int = 112, margin: float = 0.0,
                 align: bool = True) -> np.ndarray:
    """(size, size, 3) RGB crop of a face, rotated so the eyes are level when landmarks exist."""
    rgb = to_rgb8(img)
    cx, cy = face.center
    side = max(face.width, face.height) * (1 + 2 * margin)
    angle = face.eye_angle if (align and face.landmarks is not None) else 0.0
    return _warp(rgb, cx, cy, side, angle, size)


def tile_starts(length: int, tile: int = SSD_INPUT, min_overlap: int = SSD_MIN_OVERLAP
                ) -> list[int]:
    """Start offsets of ``tile``-long windows covering ``length`` with ≥ ``min_overlap``
    between neighbours (one window, padded, when ``length <= tile``)."""
    if length <= tile:
        return [0]
    n = int(np.ceil((length - min_overlap) / (tile - min_overlap)))
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
