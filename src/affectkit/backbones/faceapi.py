"""PyTorch port of the face-api.js networks (expression, landmarks, Tiny Face Detector).

Weights: ``affectkit/weights/faceapi/*.safetensors`` written by
:mod:`affectkit.backbones.faceapi_convert` from the ``@vladmandic/face-api`` npm tarball (MIT).
The graphs follow ``src/faceFeatureExtractor``, ``src/faceProcessor``, ``src/faceLandmarkNet`` and
``src/tinyYolov2`` of that package:

* **FaceFeatureExtractor** (``denseBlock4`` × 4): input 112×112 RGB, ``(x - mean_rgb) / 255``
  with mean (122.782, 117.001, 104.298); each dense block = a stride-2 conv (3×3 conv in the
  first block, depthwise-separable afterwards) then 3 separable convs whose inputs are the ReLU
  of the running sum of the previous outputs (DenseNet-style); TF ``"same"`` padding (stride 2
  on an even size pads only right/bottom); 7×7 average pool → **256-d embedding**.
  The tiny variant has ``denseBlock3`` × 3 (128-d) and a 14×14 pool.
* **FaceExpressionNet**: embedding → dense 256→7 → softmax over
  ``neutral, happy, sad, angry, fearful, disgusted, surprised`` (= ``taxonomy.CANONICAL_EMOTIONS``).
* **FaceLandmark68Net**: embedding → dense → 136 values = 68 (x, y) in [0, 1] of the input.
* **TinyFaceDetector**: 3×3 "valid" conv + leaky ReLU(0.1), 2×2 max-pools, 5 separable convs
  (pad 1, leaky), 1×1 conv → per 32-px cell 5 anchors × (tx, ty, tw, th, objectness);
  mean (117.001, 114.697, 97.404), /255. Being fully convolutional it runs on any input whose
  sides are multiples of 32 — we feed letter-boxed rectangles, not only squares.

The independent NumPy reference of the same graphs is :mod:`affectkit.backbones._faceapi_ref`.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from affectkit.backbones.faceapi_convert import OUT_DIR as WEIGHTS_DIR
from affectkit.backbones.faceapi_convert import load_tensors

EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
FEATURE_MEAN_RGB = (122.782, 117.001, 104.298)
DETECTOR_MEAN_RGB = (117.001, 114.697, 97.404)
DETECTOR_ANCHORS = ((1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061),
                    (4.266906, 5.178857), (9.041765, 10.66308))
DETECTOR_STRIDE = 32
INPUT = 112


def _modules():
    import torch
    from torch import nn
    from torch.nn import functional as F

    def pad_same(x, k: int, s: int, value: float = 0.0):
        """TF "same" padding: total = max((ceil(n/s)-1)*s + k - n, 0), odd pixel after."""
        h, w = x.shape[-2:]
        th = max((-(-h // s) - 1) * s + k - h, 0)
        tw = max((-(-w // s) - 1) * s + k - w, 0)
        return F.pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2), value=value)

    class SepConv(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
            super().__init__()
            self.stride = stride
            self.depthwise = nn.Conv2d(cin, cin, 3, stride=stride, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

        def forward(self, x):  # "same" padding
            return self.pointwise(self.depthwise(pad_same(x, 3, self.stride)))

    class DenseBlock(nn.Module):
        def __init__(self, cin: int, cout: int, n: int, first: bool) -> None:
            super().__init__()
            self.first = first
            self.conv0 = (nn.Conv2d(cin, cout, 3, stride=2, bias=True) if first
                          else SepConv(cin, cout, stride=2))
            self.convs = nn.ModuleList([SepConv(cout, cout) for _ in range(n - 1)])

        def forward(self, x):
            x = pad_same(x, 3, 2) if self.first else x
            outs = [F.relu(self.conv0(x))]
            for conv in self.convs:
                inp = outs[0] if len(outs) == 1 else F.relu(sum(outs))
                outs.append(conv(inp))
            return F.relu(sum(outs))

    class FeatureExtractor(nn.Module):
        """(B, 3, 112, 112) RGB in 0..255 → (B, C) embedding."""

        def __init__(self, tiny: bool = False) -> None:
            super().__init__()
            chans = (32, 64, 128) if tiny else (32, 64, 128, 256)
            n = 3 if tiny else 4
            cin = 3
            blocks = []
            for i, c in enumerate(chans):
                blocks.append(DenseBlock(cin, c, n, first=i == 0))
                cin = c
            self.blocks = nn.ModuleList(blocks)
            self.register_buffer("mean", torch.tensor(FEATURE_MEAN_RGB).view(1, 3, 1, 1))
            self.dim = chans[-1]

        def forward(self, x):
            x = (x - self.mean) / 255.0
            for b in self.blocks:
                x = b(x)
            return x.mean(dim=(2, 3))  # the k×k "valid" average pool covers the whole map

    class FaceProcessor(nn.Module):
        """Feature extractor + dense head: returns (head output, embedding)."""

        def __init__(self, n_out: int, tiny: bool = False) -> None:
            super().__init__()
            self.features = FeatureExtractor(tiny)
            self.fc = nn.Linear(self.features.dim, n_out)

        def forward(self, x):
            emb = self.features(x)
            return self.fc(emb), emb

    class TinyFaceDetector(nn.Module):
        """(B, 3, H, W) RGB 0..255, H and W multiples of 32 → (B, 5 anchors, 5, H/32, W/32)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv0 = nn.Conv2d(3, 16, 3, bias=True)
            chans = (16, 32, 64, 128, 256, 512)
            self.convs = nn.ModuleList([SepConvPad1(a, b) for a, b in zip(chans[:-1], chans[1:])])
            self.conv8 = nn.Conv2d(512, 25, 1, bias=True)
            self.register_buffer("mean", torch.tensor(DETECTOR_MEAN_RGB).view(1, 3, 1, 1))

        def forward(self, x):
            x = (x - self.mean) / 255.0
            x = F.leaky_relu(self.conv0(x), 0.1)
            for i, conv in enumerate(self.convs):
                s = 2 if i < 5 else 1
                x = F.max_pool2d(pad_same(x, 2, s, float("-inf")), 2, stride=s)
                x = conv(x)
            x = F.max_pool2d(pad_same(x, 2, 1, float("-inf")), 2, stride=1)
            out = self.conv8(x)
            b, _, h, w = out.shape
            return out.view(b, 5, 5, h, w)

    class SepConvPad1(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=True)

        def forward(self, x):
            return F.leaky_relu(self.pointwise(self.depthwise(x)), 0.1)

    return FaceProcessor, TinyFaceDetector


def _tf_to_torch_sep(state: dict, dst: str, tf: dict, src: str) -> None:
    state[dst + ".depthwise.weight"] = tf[src + "/depthwise_filter"].transpose(2, 3, 0, 1)
    state[dst + ".pointwise.weight"] = tf[src + "/pointwise_filter"].transpose(3, 2, 0, 1)
    state[dst + ".pointwise.bias"] = tf[src + "/bias"]


def processor_state(tf: dict[str, np.ndarray], tiny: bool = False) -> dict[str, np.ndarray]:
    """TF.js FaceProcessor tensors → :class:`FaceProcessor` state dict."""
    st: dict[str, np.ndarray] = {}
    n_blocks, n_convs = (3, 3) if tiny else (4, 4)
    for b in range(n_blocks):
        pre = f"features.blocks.{b}"
        if b == 0:
            st[pre + ".conv0.weight"] = tf["dense0/conv0/filters"].transpose(3, 2, 0, 1)
            st[pre + ".conv0.bias"] = tf["dense0/conv0/bias"]
        else:
            _tf_to_torch_sep(st, pre + ".conv0", tf, f"dense{b}/conv0")
        for c in range(1, n_convs):
            _tf_to_torch_sep(st, f"{pre}.convs.{c - 1}", tf, f"dense{b}/conv{c}")
    st["fc.weight"] = tf["fc/weights"].T
    st["fc.bias"] = tf["fc/bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in st.items()}


def detector_state(tf: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    st: dict[str, np.ndarray] = {
        "conv0.weight": tf["conv0/filters"].transpose(3, 2, 0, 1), "conv0.bias": tf["conv0/bias"],
        "conv8.weight": tf["conv8/filters"].transpose(3, 2, 0, 1), "conv8.bias": tf["conv8/bias"],
    }
    for i in range(1, 6):
        _tf_to_torch_sep(st, f"convs.{i - 1}", tf, f"conv{i}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in st.items()}


def _load(module, state: dict[str, np.ndarray], name: str):
    import torch

    own = module.state_dict()
    missing = [k for k in own if k not in state and k != "mean" and not k.endswith(".mean")]
    if missing:
        raise RuntimeError(f"{name}: no converted weights for {missing}")
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


@functools.lru_cache(maxsize=4)
def load(model: str, weights_dir: str | None = None):
    """A ported network in eval mode.

    ``model``: ``expression`` (FaceExpressionNet), ``landmarks`` (FaceLandmark68Net),
    ``landmarks_tiny`` or ``detector`` (Tiny Face Detector).
    """
    FaceProcessor, TinyFaceDetector = _modules()
    wd = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    if model == "expression":
        return _load(FaceProcessor(7), processor_state(load_tensors("face_expression_model", wd)),
                     model)
    if model == "landmarks":
        return _load(FaceProcessor(136),
                     processor_state(load_tensors("face_landmark_68_model", wd)), model)
    if model == "landmarks_tiny":
        return _load(FaceProcessor(136, tiny=True),
                     processor_state(load_tensors("face_landmark_68_tiny_model", wd), tiny=True),
                     model)
    if model == "detector":
        return _load(TinyFaceDetector(), detector_state(load_tensors("tiny_face_detector_model",
                                                                     wd)), model)
    raise ValueError(f"unknown face-api model {model!r}; expected expression, landmarks, "
                     "landmarks_tiny or detector")


_FAST: dict = {}
_FAST_LOCK = __import__("threading").Lock()


def fast_detector(shape: tuple[int, int, int, int]):
    """The Tiny Face Detector traced for one input shape ``(B, 3, H, W)``, frozen and in
    channels-last layout: the same numbers as :func:`load` ``("detector")`` (max difference
    0.0 on a 640×384 frame) at about a third of its CPU time, mostly because PyTorch's
    max-pool on contiguous NCHW tensors is slow. One trace per shape (kept for the last 8
    shapes; a video has one or two: the fine and the coarse pass). ``$AFFECTKIT_FACE_JIT=0``
    returns the plain module."""
    import os
    import warnings

    import torch

    if os.environ.get("AFFECTKIT_FACE_JIT", "1") == "0":
        return load("detector")
    key = tuple(int(v) for v in shape)
    with _FAST_LOCK:
        fn = _FAST.get(key)
        if fn is None:
            import copy

            net = copy.deepcopy(load("detector")).to(memory_format=torch.channels_last)
            x = torch.zeros(key).contiguous(memory_format=torch.channels_last)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # TracerWarning: pad sizes fixed per shape
                fn = torch.jit.freeze(torch.jit.trace(net, x, check_trace=False))
            if len(_FAST) >= 8:
                _FAST.pop(next(iter(_FAST)))
            _FAST[key] = fn
    return fn


@functools.lru_cache(maxsize=8)
def weights_version(*stems: str) -> str:
    h = hashlib.sha256()
    for s in stems:
        p = WEIGHTS_DIR / f"{s}.safetensors"
        h.update(p.read_bytes() if p.exists() else b"missing")
    return "faceapi:" + h.hexdigest()[:12]


def to_tensor(images: np.ndarray):
    """(B, H, W, 3) uint8/float RGB → (B, 3, H, W) float32 torch tensor in 0..255."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return x.permute(0, 3, 1, 2).contiguous()


def decode_detections(out: np.ndarray, score_threshold: float = 0.5
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Detector output (B, 5, 5, Hc, Wc) → per image (boxes (N, 4) x0 y0 x1 y1 in input
    pixels, scores (N,)), before non-maximum suppression (TF.js ``extractBoxes``)."""
    res = []
    anchors = np.asarray(DETECTOR_ANCHORS, dtype=np.float64)
    for o in np.asarray(out, dtype=np.float64):
        score = 1.0 / (1.0 + np.exp(-o[:, 4]))  # (5, Hc, Wc)
        a, r, c = np.nonzero(score > score_threshold)
        sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
        cx = (c + sig(o[a, 0, r, c])) * DETECTOR_STRIDE
        cy = (r + sig(o[a, 1, r, c])) * DETECTOR_STRIDE
        w = np.exp(o[a, 2, r, c]) * anchors[a, 0] * DETECTOR_STRIDE
        h = np.exp(o[a, 3, r, c]) * anchors[a, 1] * DETECTOR_STRIDE
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        res.append((boxes, score[a, r, c]))
    return res


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.4) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]),
                     0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]),
                     0, None)
        inter = iw * ih
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
