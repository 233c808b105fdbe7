"""Face-detection benchmark on synthetic scenes (``affect bench faces``).

Protocol (fixed seed, deterministic):

* **Backgrounds**: frames of ``multimodal/mosi400`` videos (one frame per video, 1 s in, every
  video in turn), resized to 640×360 and 1280×720. These frames contain their own speaker;
  both detectors are first run on the clean background (at their most sensitive settings) and
  whatever either finds is an *ignore region*: no face is pasted over it and detections
  centred in it count neither as hits nor as false positives.
* **Faces**: grey 48×48 crops from ``face/ckplus48`` and ``face/fer2013/test`` (all
  emotions), resized to a side drawn log-uniformly from 30–200 px (frame pixels at 640×360;
  doubled for 1280×720 so the two sizes show the same scenes), rotated uniformly in ±30°,
  pasted with a feathered elliptical mask; 1 face + 0–3 further ("distractor") faces per scene,
  non-overlapping.
* **Scoring**: a detection hits a pasted face when its centre lies inside the face's square
  and its side is within ×0.5–×2 of it (one detection per face). Recall over faces ≥ 40 px
  (the goal: ≥ 95 %), separately for 30–40 px; false positives per frame = detections that
  hit no face and are not centred in an ignore region.
* **Speed**: ms per frame for detection alone and for the full per-frame pipeline (detect +
  landmarks + expression net on every face) of each detector, in the same process, one torch
  thread. On the shared 2-core development box other jobs run too: compare the ratio.
* **mosi400 coverage**: share of frames sampled at 2 fps from the first ``mosi_clips`` clips
  with at least one face found (the speaker is the only person in these videos).
* **Video** (``--parts video``): consecutive mosi400 frames at 5 fps, the detector on every
  frame vs :class:`~affectkit.features.vision.detect.FaceFollower`, interleaved; same face =
  IoU ≥ 0.5, plus the embedding cosine of the two crops.
* **Pass study** (``--parts passes``, development only — run it on a seed other than the
  benchmark's): every detector pass once per scene, unions and thresholds replayed offline,
  and where the default's misses stand. Each synthetic row also carries a per-face
  breakdown (size × |angle| × source corpus).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.errors import DataError


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) RGB uint8
    faces: list[tuple[float, float, float]]  # cx, cy, side
    angles: list[float]
    ignore: list[tuple[float, float, float, float]]  # boxes x0 y0 x1 y1
    sources: list[str] = field(default_factory=list)  # pasted crop per face ("corpus/emotion/file")


def _shared(rel: str) -> Path:
    from affectkit.data.base import shared_data_root

    root = shared_data_root()
    if root is None or not (root / rel).exists():
        raise DataError(f"affect bench faces needs ../shared/data/{rel} (not found); point "
                        "AFFECTKIT_SHARED_DATA at the shared data folder")
    return root / rel


def face_pool(limit: int = 600, seed: int = 0) -> list[np.ndarray]:
    """Grey 48×48 face crops from CK+48 and FER2013 test (drawn evenly over emotions)."""
    return face_pool_named(limit, seed)[0]


def face_pool_named(limit: int = 600, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """:func:`face_pool` and, per crop, ``"corpus/emotion/file"`` (for the per-face records)."""
    import cv2

    rng = np.random.default_rng(seed)
    files: list[Path] = []
    names: list[str] = []
    for rel in ("face/ckplus48", "face/fer2013/test"):
        for d in sorted(_shared(rel).iterdir()):
            fs = sorted(d.glob("*.png")) + sorted(d.glob("*.jpg"))
            take = rng.permutation(len(fs))[: limit // 14]
            files += [fs[i] for i in take]
            names += [f"{rel.split('/')[1]}/{d.name}/{fs[i].name}" for i in take]
    return [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files], names


def backgrounds(n: int, seed: int = 0) -> list[np.ndarray]:
    from affectkit.media import duration
    from affectkit.errors import MediaError
    from affectkit.media import iter_frames

    vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(vids)):
        if len(out) >= n:
            break
        try:  # the frame nearest 1 s in (some clips are shorter)
            out.append(next(iter(iter_frames(vids[i], fps=1.0, start=min(
                1.0, 0.5 * (duration(vids[i]) or 0.0))))).image)
        except (MediaError, StopIteration):
            continue
    return out


def _paste(bg: np.ndarray, face: np.ndarray, cx: float, cy: float, side: int, angle: float
           ) -> None:
    import cv2

    f = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    f = np.repeat(f[:, :, None], 3, axis=2)
    # the whole crop with a feathered border (a hard square edge is an easy cue)
    mask = np.zeros((side, side), np.float32)
    e = max(1, side // 16)
    mask[e:-e, e:-e] = 1.0
    k = max(3, side // 8 * 2 + 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    big = int(np.ceil(side * 1.5))
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    m[0, 2] += big / 2 - side / 2
    m[1, 2] += big / 2 - side / 2
    fr = cv2.warpAffine(f, m, (big, big), flags=cv2.INTER_LINEAR)
    mr = cv2.warpAffine(mask, m, (big, big), flags=cv2.INTER_LINEAR)
    x0, y0 = int(round(cx - big / 2)), int(round(cy - big / 2))
    h, w = bg.shape[:2]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    ex, ey = min(big, w - x0), min(big, h - y0)
    if ex <= sx0 or ey <= sy0:
        return
    region = bg[y0 + sy0: y0 + ey, x0 + sx0: x0 + ex].astype(np.float32)
    a = mr[sy0:ey, sx0:ex, None]
    region = region * (1 - a) + fr[sy0:ey, sx0:ex].astype(np.float32) * a
    bg[y0 + sy0: y0 + ey, x0 + sx0: x0 + ex] = region.astype(np.uint8)


def _overlaps(box, boxes, pad: float = 4.0) -> bool:
    return any(box[0] < b[2] + pad and b[0] < box[2] + pad and box[1] < b[3] + pad
               and b[1] < box[3] + pad for b in boxes)


def make_scenes(n: int, *, seed: int = 0, ignore_fn=None) -> list[Scene]:
    """``n`` 640×360 scenes (faces in 640-px coordinates)."""
    import cv2

    rng = np.random.default_rng(seed)
    faces, names = face_pool_named(seed=seed)
    bgs = backgrounds(max(1, min(n, 400)), seed=seed)
    scenes = []
    for i in range(n):
        bg = cv2.resize(bgs[i % len(bgs)], (640, 360), interpolation=cv2.INTER_AREA)
        ignore = list(ignore_fn(bg)) if ignore_fn else []
        placed: list[tuple[float, float, float]] = []
        angles: list[float] = []
        sources: list[str] = []
        boxes = list(ignore)
        for _ in range(1 + int(rng.integers(0, 4))):
            for _try in range(30):
                side = int(round(np.exp(rng.uniform(np.log(30), np.log(200)))))
                r = side * 0.75  # rotated square's half extent
                if 2 * r > 360:
                    continue
                cx, cy = rng.uniform(r, 640 - r), rng.uniform(r, 360 - r)
                box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
                if not _overlaps(box, boxes, pad=side * 0.25):
                    angle = float(rng.uniform(-30, 30))
                    fi = int(rng.integers(len(faces)))
                    _paste(bg, faces[fi], cx, cy, side, angle)
                    placed.append((cx, cy, side))
                    angles.append(angle)
                    sources.append(names[fi])
                    boxes.append(box)
                    break
        scenes.append(Scene(bg, placed, angles, ignore, sources))
    return scenes


def score(scenes: list[Scene], detections: list[list[tuple[float, float, float, float]]],
          scale: float = 1.0) -> dict:
    """Recall for faces ≥ 40 px and 30–40 px, false positives per frame (640-px units)."""
    hit_big = n_big = hit_small = n_small = fp = 0
    per_face: list[tuple[float, float, bool]] = []
    for sc, dets in zip(scenes, detections):
        dets = [tuple(v / scale for v in d) for d in dets]
        used = set()
        for fi, (cx, cy, side) in enumerate(sc.faces):
            found = False
            for j, d in enumerate(dets):
                dcx, dcy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
                dside = max(d[2] - d[0], d[3] - d[1])
                if (j not in used and abs(dcx - cx) <= side / 2 and abs(dcy - cy) <= side / 2
                        and 0.5 * side <= dside <= 2.0 * side):
                    used.add(j)
                    found = True
                    break
            per_face.append((side, sc.angles[fi], found))
            if side >= 40:
                n_big += 1
                hit_big += found
            else:
                n_small += 1
                hit_small += found
        for j, d in enumerate(dets):
            if j in used:
                continue
            dcx, dcy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
            if any(b[0] <= dcx <= b[2] and b[1] <= dcy <= b[3] for b in sc.ignore):
                continue
            if any(abs(dcx - cx) <= s / 2 and abs(dcy - cy) <= s / 2 for cx, cy, s in sc.faces):
                continue  # a second box on a found face is a duplicate, not a phantom face
            fp += 1
    return {"recall_ge40": hit_big / max(n_big, 1), "faces_ge40": n_big,
            "recall_30_40": hit_small / max(n_small, 1), "faces_30_40": n_small,
            "fp_per_frame": fp / max(len(scenes), 1), "per_face": per_face}


SIZE_BINS = (30, 40, 50, 60, 80, 120, 201)
ANGLE_BINS = (0, 10, 20, 30.01)


def breakdown(scenes: list[Scene], per_face: list[tuple[float, float, bool]]) -> dict:
    """Recall by size bin, by |angle| bin, by source corpus and size × |angle| (where the
    misses are), from :func:`score`'s ``per_face`` records of the same scenes."""
    src = [s.split("/")[0] for sc in scenes for s in (sc.sources or ["?"] * len(sc.faces))]
    side = np.array([p[0] for p in per_face], float)
    ang = np.abs([p[1] for p in per_face])
    hit = np.array([p[2] for p in per_face], float)

    def cell(m):
        return {"faces": int(m.sum()), "recall": float(hit[m].mean()) if m.any() else None}

    big = side >= 40
    out: dict = {"size": {}, "angle_ge40": {}, "source_ge40": {}, "size_x_angle": {}}
    for lo, hi in zip(SIZE_BINS[:-1], SIZE_BINS[1:]):
        out["size"][f"{lo}-{hi}"] = cell((side >= lo) & (side < hi))
    for lo, hi in zip(ANGLE_BINS[:-1], ANGLE_BINS[1:]):
        out["angle_ge40"][f"{lo}-{hi:g}"] = cell(big & (ang >= lo) & (ang < hi))
    for name in sorted(set(src)):
        out["source_ge40"][name] = cell(big & (np.array(src) == name))
    for lo, hi in ((40, 60), (60, 100), (100, 201)):
        for alo, ahi in ((0, 15), (15, 30.01)):
            out["size_x_angle"][f"{lo}-{hi} px, |angle| {alo}-{ahi:g}"] = cell(
                (side >= lo) & (side < hi) & (ang >= alo) & (ang < ahi))
    return out


# -- detectors under test ------------------------------------------------------------------
def _haar(detect_side: int):
    from affectkit.features.vision.faces import FaceDetector, to_gray

    d = FaceDetector(detect_side=detect_side)
    return lambda img: [(b.x, b.y, b.x + b.w, b.y + b.h) for b in d.detect(to_gray(img))]


def _faceapi(detect_side: int, rotations: tuple[float, ...] = (), threshold: float = 0.4,
             fast: bool = False, extra_passes: str = "always", extra_sides: tuple[int, ...] = ()):
    from affectkit.features.vision.detect import FaceApiDetector

    d = FaceApiDetector(detect_side=detect_side, score_threshold=threshold, rotations=rotations,
                        fast=fast, extra_passes=extra_passes, extra_sides=extra_sides)
    return lambda img: [f.box for f in d.detect(img, with_landmarks=False)]


def _ssd(**kw):
    """SSD MobileNet v1 (:class:`FaceApiDetector` ``model="ssd"``), boxes only."""
    from affectkit.features.vision.detect import FaceApiDetector

    d = FaceApiDetector(**{"model": "ssd", **kw})
    return lambda img: [f.box for f in d.detect(img, with_landmarks=False)]


def _ignore_fn():
    """Union of both detectors at their most sensitive settings on the clean background."""
    from affectkit.features.vision.detect import FaceApiDetector
    from affectkit.features.vision.faces import FaceDetector, to_gray

    fa = FaceApiDetector(detect_side=800, score_threshold=0.25, rotations=(-25.0, 25.0))
    haar = FaceDetector(detect_side=1280, min_face=20, min_neighbors=3)

    def fn(bg):
        boxes = [f.box for f in fa.detect(bg, with_landmarks=False)]
        boxes += [(b.x, b.y, b.x + b.w, b.y + b.h) for b in haar.detect(to_gray(bg))]
        return boxes

    return fn


def _pipelines():
    """Full per-frame pipelines (largest face → expression), Haar+FER beside face-api: the
    traced detector with landmarks on every face (before) and on the largest face only (the
    one the expression net scores), the coarse pass only on frames where the plain pass found
    nothing, and the accurate preset."""
    from affectkit.features.vision import faceapi as fx
    from affectkit.features.vision import fer
    from affectkit.features.vision.detect import FaceApiDetector, aligned_crop
    from affectkit.features.vision.faces import FaceDetector, crop, to_gray

    haar = FaceDetector(detect_side=320)
    dets = {"traced, landmarks on every face (before)": FaceApiDetector(
                detect_side=640, score_threshold=0.4, fast=True),
            "traced, landmarks on the largest face": FaceApiDetector(
                detect_side=640, score_threshold=0.4, fast=True),
            "traced, coarse pass if empty, landmarks on the largest face": FaceApiDetector(
                detect_side=640, score_threshold=0.4, fast=True, extra_passes="if_empty"),
            "accurate preset (640 + 800 px, +/-15 deg), landmarks on the largest face":
                FaceApiDetector.accurate(),
            "SSD MobileNet v1 512 px (face-api.js as is), landmarks on the largest face":
                FaceApiDetector(model="ssd"),
            f"SSD MobileNet v1 preset ({_ssd_name()}), landmarks on the largest face":
                FaceApiDetector.ssd()}

    def haar_fer(img):
        g = to_gray(img)
        b = haar.largest(g)
        if b is not None:
            fer.classify(crop(g, b, size=fer.INPUT)[None])
        return b is not None

    def faceapi(det, every_face: bool):
        def fn(img):
            if every_face:  # landmarks for all faces, then the largest (before)
                faces = det.detect(img)
                f = max(faces, key=lambda f: f.width * f.height) if faces else None
            else:
                f = det.largest(img)
            if f is not None:
                fx.classify(aligned_crop(img, f)[None])
            return f is not None
        return fn

    return {"haar320 + FER mini-Xception": haar_fer,
            **{f"face-api {'SSD' if 'SSD' in k else 'tiny'} + tiny landmarks + FaceExpressionNet "
               f"({k})": faceapi(d, "before" in k) for k, d in dets.items()}}


def _ssd_name() -> str:
    from affectkit.features.vision.detect import FaceApiDetector

    p = FaceApiDetector.SSD
    sides = " + ".join(str(v) for v in (p["detect_side"], *p.get("extra_sides", ())))
    rot = p.get("rotations")
    return (f"{sides} px" + (f", +/-{abs(rot[0]):g} deg" if rot else "")
            + f", threshold {p['score_threshold']:g}")


def _video_speed(n_clips: int, seed: int, bar, fps: float = 5.0, per_clip: int = 30
                 ) -> list[dict]:
    """Full pipeline on consecutive video frames: the detector on every frame vs
    :class:`~affectkit.features.vision.detect.FaceFollower` (refresh 5), beside Haar+FER;
    agreement = share of the per-frame pipeline's faces that the follower also gives (IoU ≥
    0.5). Pipelines interleaved frame by frame, each with its own state per clip."""
    import os

    import cv2

    from affectkit.features.vision import faceapi as fx
    from affectkit.features.vision import fer
    from affectkit.features.vision.detect import FaceApiDetector, FaceFollower, aligned_crop, iou
    from affectkit.features.vision.faces import FaceDetector, crop, to_gray
    from affectkit.media import iter_frames

    vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
    rng = np.random.default_rng(seed + 1)
    vids = [vids[i] for i in sorted(rng.permutation(len(vids))[:n_clips])]
    clips = [[f.image for f in iter_frames(v, fps=fps)][:per_clip] for v in vids]
    haar = FaceDetector(detect_side=320)
    rows = []
    for res_name, size in (("640x360", (640, 360)), ("1280x720", (1280, 720))):
        det = FaceApiDetector()
        fols = {"follow": FaceFollower(FaceApiDetector(), refresh=5),
                "follow_grid": FaceFollower(FaceApiDetector(), refresh=5, roi_input=None)}
        spent = {"haar": 0.0, "every": 0.0, "follow": 0.0, "follow_grid": 0.0}
        found = {k: 0 for k in spent}
        agree = {k: 0 for k in fols}
        cos: dict[str, list[float]] = {k: [] for k in fols}
        full = {k: 0 for k in fols}
        n = 0
        t = bar.add_task(f"video {res_name}", total=len(clips))
        load0 = [round(x, 2) for x in os.getloadavg()]
        for frames in clips:
            for fol in fols.values():
                fol.reset()
            for img in frames:
                img = cv2.resize(img, size)
                t0 = time.perf_counter()
                g = to_gray(img)
                b = haar.largest(g)
                if b is not None:
                    fer.classify(crop(g, b, size=fer.INPUT)[None])
                spent["haar"] += time.perf_counter() - t0
                found["haar"] += b is not None
                faces, embs = {}, {}
                for key, fn in (("every", det.largest), *fols.items()):
                    t0 = time.perf_counter()
                    f = fn(img)
                    if f is not None:
                        embs[key] = fx.classify(aligned_crop(img, f)[None])[1][0]
                    spent[key] += time.perf_counter() - t0
                    found[key] += f is not None
                    faces[key] = f
                n += 1
                for key in fols if faces["every"] is not None else ():
                    if faces[key] is not None and iou(faces["every"].box,
                                                      faces[key].box) >= 0.5:
                        agree[key] += 1
                        a, b = embs["every"], embs[key]
                        cos[key].append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)
                                                       + 1e-12)))
            for key, fol in fols.items():
                full[key] += fol.full_detections
            bar.advance(t)
        names = {"haar": "haar320 + FER mini-Xception",
                 "every": "face-api 640 (+224 coarse) every frame + landmarks + expression",
                 "follow": "face-api follower (full detection every 5th frame, 256-px region "
                           "pass between) + landmarks + expression",
                 "follow_grid": "face-api follower, region pass at the full pass's scale and "
                                "32-px grid (roi_input=None) + landmarks + expression"}
        for key, name in names.items():
            dt = spent[key] / max(n, 1)
            rows.append({"table": "video", "resolution": res_name, "pipeline": name,
                         "clips": len(clips), "frames": n, "ms_per_frame": dt * 1000,
                         "frames_per_s": 1.0 / dt, "frames_with_face": found[key] / max(n, 1),
                         "agreement_with_every_frame": (agree[key] / max(found["every"], 1)
                                                        if key in fols else None),
                         "embedding_cosine_mean": (float(np.mean(cos[key])) if cos.get(key)
                                                   else None),
                         "embedding_cosine_p05": (float(np.percentile(cos[key], 5))
                                                  if cos.get(key) else None),
                         "full_detections": full[key] if key in fols else None,
                         "load_before": load0,
                         "load_after": [round(x, 2) for x in os.getloadavg()]})
    return rows


STUDY_SIDES = (640, 800, 960, 1280)
STUDY_ANGLES = (0.0, -15.0, 15.0, -25.0, 25.0)
#: pass combinations compared in the pass study (each + the 224-px coarse pass)
STUDY_COMBOS = {
    "640 (default)": [(640, 0.0)],
    "800": [(800, 0.0)],
    "960": [(960, 0.0)],
    "1280": [(1280, 0.0)],
    "640, +/-25": [(640, 0.0), (640, -25.0), (640, 25.0)],
    "640, +/-15": [(640, 0.0), (640, -15.0), (640, 15.0)],
    "640 + 800": [(640, 0.0), (800, 0.0)],
    "640 + 800, +/-15 at 640 (accurate)": [(640, 0.0), (800, 0.0), (640, -15.0), (640, 15.0)],
    "640 + 800, +/-25 at 640": [(640, 0.0), (800, 0.0), (640, -25.0), (640, 25.0)],
    "800, +/-15": [(800, 0.0), (800, -15.0), (800, 15.0)],
    "800, +/-25": [(800, 0.0), (800, -25.0), (800, 25.0)],
    "640 + 800 + 960": [(640, 0.0), (800, 0.0), (960, 0.0)],
    "640 + 800 + 960, +/-15 and +/-25 at 640": [(640, 0.0), (800, 0.0), (960, 0.0),
                                                (640, -15.0), (640, 15.0), (640, -25.0),
                                                (640, 25.0)],
    "all passes": None,
}


def pass_study(n_scenes: int, seed: int, bar=None, thresholds=(0.3, 0.4, 0.5)) -> list[dict]:
    """Development study (run it on a seed other than the benchmark's): every detector pass
    (``STUDY_SIDES`` × ``STUDY_ANGLES`` + 224/320 coarse) once per scene, raw candidates kept
    at score > 0.1, then each pass alone (recall by size) and each ``STUDY_COMBOS`` union at
    each threshold replayed offline with :class:`FaceApiDetector`'s own decode → threshold →
    NMS → clip; cost = detector time relative to one 640-px pass; plus where the default's
    misses stand (best candidate score of each missed face ≥ 40 px)."""
    from affectkit.backbones import faceapi as fa
    from affectkit.features.vision.detect import FaceApiDetector

    det = FaceApiDetector(score_threshold=0.1, fast=True)
    net = fa.load("detector")
    scenes = make_scenes(n_scenes, seed=seed, ignore_fn=_ignore_fn())
    keys = [(sd, a) for sd in STUDY_SIDES for a in STUDY_ANGLES] + [(224, 0.0), (320, 0.0)]
    cands = {k: [] for k in keys}
    spent = {k: 0.0 for k in keys}
    t = bar.add_task("pass study", total=len(scenes)) if bar else None
    for k in keys:  # trace every input shape before timing
        det._pass(net, scenes[0].image, k[1], k[0])
    for sc in scenes:
        for k in keys:
            t0 = time.perf_counter()
            b, s = det._pass(net, sc.image, k[1], k[0])
            spent[k] += time.perf_counter() - t0
            cands[k].append((b, s))
        if bar:
            bar.advance(t)
    unit = spent[(640, 0.0)]

    def dets(passes, thr):
        out = []
        for i, sc in enumerate(scenes):
            b = np.concatenate([cands[p][i][0] for p in passes]).astype(np.float64)
            s = np.concatenate([cands[p][i][1] for p in passes]).astype(np.float64)
            m = s > thr
            b, s = b[m], s[m]
            h, w = sc.image.shape[:2]
            faces = []
            for j in (fa.nms(b, s, det.iou_threshold) if len(b) else []):
                x0, y0, x1, y1 = max(b[j, 0], 0), max(b[j, 1], 0), min(b[j, 2], w), min(b[j, 3], h)
                if min(x1 - x0, y1 - y0) >= det.min_face:
                    faces.append((x0, y0, x1, y1))
            out.append(faces)
        return out

    rows = []
    for k in keys:
        r = score(scenes, dets([k], 0.4))
        b = breakdown(scenes, r.pop("per_face"))
        rows.append({"table": "pass", "pass": f"{k[0]} px, {k[1]:+g} deg", "threshold": 0.4,
                     "cost": spent[k] / unit, **r, "by_size": b["size"]})
    for name, passes in STUDY_COMBOS.items():
        passes = keys if passes is None else passes + [(224, 0.0)]
        if any(p not in cands for p in passes):
            continue
        for thr in thresholds:
            r = score(scenes, dets(passes, thr))
            per_face = r.pop("per_face")
            rows.append({"table": "combo", "combo": name, "threshold": thr,
                         "cost": sum(spent[p] for p in passes) / unit, **r,
                         **({"breakdown": breakdown(scenes, per_face)} if thr == 0.4 else {})})
    # the default's misses: best candidate score (any default pass) on each missed face ≥ 40
    default = [(640, 0.0), (224, 0.0)]
    per_face = score(scenes, dets(default, 0.4))["per_face"]
    best, k = [], 0
    for i, sc in enumerate(scenes):
        for cx, cy, side in sc.faces:
            if side >= 40 and not per_face[k][2]:
                top = 0.0
                for p in default:
                    b, s = cands[p][i]
                    if len(b):
                        dside = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
                        m = ((np.abs((b[:, 0] + b[:, 2]) / 2 - cx) <= side / 2)
                             & (np.abs((b[:, 1] + b[:, 3]) / 2 - cy) <= side / 2)
                             & (dside >= side / 2) & (dside <= 2 * side))
                        top = max(top, float(s[m].max()) if m.any() else 0.0)
                best.append(top)
            k += 1
    best = np.array(best)
    rows.append({"table": "misses", "missed_ge40": int(len(best)),
                 "no_candidate_over_0.1": int((best <= 0.1).sum()),
                 "candidate_0.1_to_0.4": int(((best > 0.1) & (best <= 0.4)).sum()),
                 "best_scores": sorted(float(round(v, 3)) for v in best)})
    return rows


PARTS = ("synthetic", "speed", "mosi")
ACCURATE = "face-api accurate (640 + 800 px, +/-15 deg at 640, traced)"

#: the rows of ``affect bench faces`` without ``--detectors`` (the table before session 5)
DEFAULT_DETECTORS = ("haar320", "haar640", "tiny-plain", "tiny", "tiny-if-empty", "tiny-rot25",
                     "tiny-rot25-if-empty", "tiny800-rot25", "tiny800", "accurate")
#: the mosi400 rows without ``--detectors``
DEFAULT_MOSI = ("haar320", "tiny", "accurate")


def detector_table() -> dict:
    """``--detectors`` key → (row name, factory). The ``ssd…`` variants are the candidates
    compared on development scenes; ``ssd`` is the preset chosen there."""
    from functools import partial as p

    from affectkit.features.vision.detect import FaceApiDetector

    table = {
        "haar320": ("haar (320 px, current default)", p(_haar, 320)),
        "haar640": ("haar (640 px)", p(_haar, 640)),
        "tiny-plain": ("face-api tiny (640 px)", p(_faceapi, 640)),
        "tiny": ("face-api tiny (640 px, traced)", p(_faceapi, 640, fast=True)),
        "tiny-if-empty": ("face-api tiny (640 px, traced, coarse pass if empty)",
                          p(_faceapi, 640, fast=True, extra_passes="if_empty")),
        "tiny-rot25": ("face-api tiny (640 px, traced, +/-25 deg passes)",
                       p(_faceapi, 640, (-25.0, 25.0), fast=True)),
        "tiny-rot25-if-empty": (
            "face-api tiny (640 px, traced, coarse + +/-25 deg passes if empty)",
            p(_faceapi, 640, (-25.0, 25.0), fast=True, extra_passes="if_empty")),
        "tiny800-rot25": ("face-api tiny (800 px, traced, +/-25 deg passes)",
                          p(_faceapi, 800, (-25.0, 25.0), fast=True)),
        "tiny800": ("face-api tiny (800 px, traced)", p(_faceapi, 800, fast=True)),
        # chosen on development scenes (seed 1), FaceApiDetector.ACCURATE:
        "accurate": (ACCURATE, p(_faceapi, 640, (-15.0, 15.0), fast=True, extra_sides=(800,))),
        "ssd": (f"SSD MobileNet v1 preset ({_ssd_name()})", p(_ssd, **FaceApiDetector.SSD)),
    }
    for t in (0.1, 0.2, 0.3, 0.4, 0.5):
        tag = f"t{int(round(t * 10))}"
        for side in (512, 768, 896):
            table[f"ssd{side}-{tag}"] = (
                f"SSD MobileNet v1 ({side} px{' tiled' if side > 512 else ''}, threshold {t:g})",
                p(_ssd, detect_side=side, score_threshold=t))
        for extra in (768, 896):
            table[f"ssd512+{extra}-{tag}"] = (
                f"SSD MobileNet v1 (512 + {extra} px tiled, threshold {t:g})",
                p(_ssd, detect_side=512, extra_sides=(extra,), score_threshold=t))
            for a in (15, 25):
                table[f"ssd512+{extra}-rot{a}-{tag}"] = (
                    f"SSD MobileNet v1 (512 + {extra} px tiled, +/-{a} deg at 512, "
                    f"threshold {t:g})",
                    p(_ssd, detect_side=512, extra_sides=(extra,),
                      rotations=(-float(a), float(a)), score_threshold=t))
    return table


def run(*, n_scenes: int = 200, mosi_clips: int = 40, seed: int = 0, progress: bool = True,
        parts: tuple[str, ...] = PARTS, speed_frames: int = 60, video_clips: int = 8,
        detectors: tuple[str, ...] | None = None) -> dict:
    """``detectors``: keys of :func:`detector_table` for the synthetic and mosi400 rows
    (default: :data:`DEFAULT_DETECTORS`, mosi400 :data:`DEFAULT_MOSI`)."""
    import cv2
    import torch

    from affectkit.media import iter_frames

    torch.set_num_threads(1)
    from rich.progress import Progress

    table = detector_table()
    keys = tuple(detectors) if detectors else DEFAULT_DETECTORS
    mosi_keys = tuple(detectors) if detectors else DEFAULT_MOSI
    bad = [k for k in dict.fromkeys((*keys, *mosi_keys)) if k not in table]
    if bad:
        raise DataError(f"unknown detector(s) {bad}; choose from {', '.join(table)}")
    dets = {k: table[k][1]() for k in dict.fromkeys((*keys, *mosi_keys))}
    rows: list[dict] = []
    with Progress(disable=not progress, transient=True) as bar:
        t = bar.add_task("scenes", total=n_scenes)
        scenes = (make_scenes(n_scenes, seed=seed, ignore_fn=_ignore_fn())
                  if {"synthetic", "speed"} & set(parts) else [])
        bar.update(t, completed=n_scenes)
        for res_name, k in (("640x360", 1.0), ("1280x720", 2.0)) if "synthetic" in parts else ():
            imgs = [s.image if k == 1.0 else cv2.resize(s.image, (1280, 720),
                                                       interpolation=cv2.INTER_LINEAR)
                    for s in scenes]
            for key in keys:
                name, fn = table[key][0], dets[key]
                t = bar.add_task(f"{res_name} {name}", total=len(imgs))
                fn(imgs[0])  # warm-up: traces the networks for this input shape, untimed
                found, t0 = [], time.perf_counter()
                for img in imgs:
                    found.append(fn(img))
                    bar.advance(t)
                ms = (time.perf_counter() - t0) / len(imgs) * 1000
                sc = score(scenes, found, scale=k)
                sc["breakdown"] = breakdown(scenes, sc.pop("per_face"))
                rows.append({"table": "synthetic", "resolution": res_name, "detector": name,
                             "key": key, **sc, "ms_per_frame": ms})
        # full pipelines, same process, same frames: speed at 360p / 720p
        # (pipelines interleaved frame by frame, so a change in machine load hits them alike)
        for res_name, size in (("640x360", (640, 360)), ("1280x720", (1280, 720))) \
                if "speed" in parts else ():
            imgs = [cv2.resize(s.image, size) for s in scenes[:speed_frames]]
            pipes = _pipelines()
            spent = {name: 0.0 for name in pipes}
            found_s: dict[str, list] = {name: [] for name in pipes}
            for fn in pipes.values():
                fn(imgs[0])
            import os

            load0 = [round(x, 2) for x in os.getloadavg()]
            for img in imgs:
                for name, fn in pipes.items():
                    t0 = time.perf_counter()
                    found_s[name].append(fn(img))
                    spent[name] += time.perf_counter() - t0
            for name in pipes:
                dt = spent[name] / len(imgs)
                rows.append({"table": "speed", "resolution": res_name, "pipeline": name,
                             "ms_per_frame": dt * 1000, "frames_per_s": 1.0 / dt,
                             "frames_with_face": float(np.mean(found_s[name])),
                             "load_before": load0,
                             "load_after": [round(x, 2) for x in os.getloadavg()]})
        if "passes" in parts:
            rows += pass_study(n_scenes, seed, bar)
        # video: consecutive mosi400 frames (5 fps, the extractor's default), per-frame
        # detection vs the follower (full detection every 5th frame, a region pass between)
        if "video" in parts:
            rows += _video_speed(video_clips, seed, bar)
        # mosi400: share of sampled frames with a face (the speaker is the only person)
        if "mosi" in parts:
            vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
            rng = np.random.default_rng(seed)
            vids = [vids[i] for i in sorted(rng.permutation(len(vids))[:mosi_clips])]
            frames = []
            t = bar.add_task("mosi400 frames", total=len(vids))
            for v in vids:
                frames += [f.image for f in iter_frames(v, fps=2.0)]
                bar.advance(t)
            for key in mosi_keys:
                fn = dets[key]
                found_m = [bool(fn(f)) for f in frames]
                rows.append({"table": "mosi400", "detector": table[key][0], "key": key,
                             "clips": len(vids), "frames": len(frames),
                             "frames_with_face": float(np.mean(found_m))})
    return {"protocol": __doc__.split("\n\n", 1)[1].strip(), "rows": rows,
            "n_scenes": n_scenes, "seed": seed, "markdown": markdown(rows)}


def markdown(rows: list[dict]) -> str:
    """The tables of the parts that ran (a table without rows is left out)."""
    out = _tables(rows).split("\n\n")
    return "\n\n".join(t for t in out if t.count("\n") > 1)


def _tables(rows: list[dict]) -> str:
    out = ["| resolution | detector | recall ≥40 px | recall 30–40 px | FP / frame | ms / frame |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        if r["table"] == "synthetic":
            out.append(f"| {r['resolution']} | {r['detector']} | {r['recall_ge40']:.3f} "
                       f"({r['faces_ge40']}) | {r['recall_30_40']:.3f} ({r['faces_30_40']}) | "
                       f"{r['fp_per_frame']:.3f} | {r['ms_per_frame']:.0f} |")
    syn = [r for r in rows if r["table"] == "synthetic" and r["resolution"] == "640x360"
           and "breakdown" in r]
    if syn:  # recall ≥ 40 px by group (640×360), one column per detector
        out += ["", "| group (640×360) | " + " | ".join(r.get("key") or r["detector"]
                                                      for r in syn) + " |",
                "|---|" + "---|" * len(syn)]
        b0 = syn[0]["breakdown"]
        for part, title in (("size", "px"), ("angle_ge40", "|angle|, ≥40 px"),
                            ("source_ge40", "source, ≥40 px")):
            for g, cell in b0[part].items():
                vals = [r["breakdown"][part][g]["recall"] for r in syn]
                out.append(f"| {g} {title} ({cell['faces']}) | " + " | ".join(
                    "" if v is None else f"{v:.2f}" for v in vals) + " |")
    out += ["", "| resolution | pipeline (detect → largest face → expression) | ms / frame | "
            "frames / s | frames with a face |", "|---|---|---|---|---|"]
    for r in rows:
        if r["table"] == "speed":
            out.append(f"| {r['resolution']} | {r['pipeline']} | {r['ms_per_frame']:.1f} | "
                       f"{r['frames_per_s']:.1f} | {r['frames_with_face']:.2f} |")
    passes = [r for r in rows if r["table"] == "pass"]
    if passes:
        bins = list(passes[0]["by_size"])
        out += ["", "| single pass (threshold 0.4) | cost | " + " | ".join(
            f"recall {b} px" for b in bins) + " | FP / frame |",
            "|---|---|" + "---|" * len(bins) + "---|"]
        for r in passes:
            out.append(f"| {r['pass']} | {r['cost']:.2f} | " + " | ".join(
                "" if r["by_size"][b]["recall"] is None else f"{r['by_size'][b]['recall']:.2f}"
                for b in bins) + f" | {r['fp_per_frame']:.3f} |")
    combos = [r for r in rows if r["table"] == "combo"]
    if combos:
        out += ["", "| passes (+ 224 coarse) | threshold | cost | recall ≥40 px | "
                "recall 30–40 px | FP / frame |", "|---|---|---|---|---|---|"]
        for r in combos:
            out.append(f"| {r['combo']} | {r['threshold']:g} | {r['cost']:.1f} | "
                       f"{r['recall_ge40']:.3f} ({r['faces_ge40']}) | {r['recall_30_40']:.3f} "
                       f"({r['faces_30_40']}) | {r['fp_per_frame']:.3f} |")
    for r in rows:
        if r["table"] == "misses":
            out += ["", "| default's misses ≥ 40 px | no candidate > 0.1 | best candidate "
                    "0.1–0.4 |", "|---|---|---|",
                    f"| {r['missed_ge40']} | {r['no_candidate_over_0.1']} | "
                    f"{r['candidate_0.1_to_0.4']} |"]
    video = [r for r in rows if r["table"] == "video"]
    if video:
        out += ["", "| resolution | video pipeline (mosi400, 5 fps, consecutive frames) | "
                "ms / frame | frames / s | frames with a face | same face as every-frame | "
                "embedding cosine to every-frame (mean, 5th pct) |",
                "|---|---|---|---|---|---|---|"]
        for r in video:
            a, c = r["agreement_with_every_frame"], r.get("embedding_cosine_mean")
            cs = "" if c is None else f"{c:.3f}, {r['embedding_cosine_p05']:.3f}"
            out.append(f"| {r['resolution']} | {r['pipeline']} | {r['ms_per_frame']:.1f} | "
                       f"{r['frames_per_s']:.1f} | {r['frames_with_face']:.3f} | "
                       f"{'' if a is None else f'{a:.3f}'} | {cs} |")
    out += ["", "| mosi400 (2 fps) | clips | frames | frames with a face |", "|---|---|---|---|"]
    for r in rows:
        if r["table"] == "mosi400":
            out.append(f"| {r['detector']} | {r['clips']} | {r['frames']} | "
                       f"{r['frames_with_face']:.3f} |")
    return "\n".join(out)
