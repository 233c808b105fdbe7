"""Independent NumPy reference of the Keras mini-Xception, for measuring the PyTorch port.

It shares no code with :mod:`affectkit.features.vision.fer`: it walks the Keras model config
stored in the ``.hdf5`` (layer types, padding, strides and inbound connections) and evaluates
each layer with plain NumPy in NHWC layout, with TensorFlow's "same" padding rule
(``pad_before = total // 2``). Slow (float64, explicit im2col); use it on a few hundred faces.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _patches(x: np.ndarray, k: int, s: int, padding: str, fill: float = 0.0) -> np.ndarray:
    """(N, H, W, C) → (N, Ho, Wo, k, k, C) windows."""
    if padding == "same":
        (t, b), (lft, r) = _same_pads(x.shape[1], k, s), _same_pads(x.shape[2], k, s)
        x = np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0)), constant_values=fill)
    n, h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((n, ho, wo, k, k, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, :, i, j, :] = x[:, i: i + s * ho: s, j: j + s * wo: s, :]
    return out


class KerasReference:
    """Evaluate ``emotion_model.hdf5`` layer by layer.

    >>> ref = KerasReference(fer_h5_path())                  # doctest: +SKIP
    >>> probs, emb = ref(faces_in_minus1_1)                  # (N, 7), (N, 128)  # doctest: +SKIP
    """

    def __init__(self, h5_path: str | Path) -> None:
        import h5py

        with h5py.File(h5_path, "r") as f:
            cfg = json.loads(f.attrs["model_config"])
            self.layers = cfg["config"]["layers"]
            self.weights: dict[str, dict[str, np.ndarray]] = {}
            g = f["model_weights"]
            for name in g:
                ws: dict[str, np.ndarray] = {}

                def visit(path, obj, ws=ws):
                    if hasattr(obj, "shape"):
                        ws[path.split("/")[-1].split(":")[0]] = np.asarray(obj, dtype=np.float64)

                g[name].visititems(visit)
                self.weights[name] = ws

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x: (N, 64, 64, 1) or (N, 64, 64) in [-1, 1] → probabilities (N, 7), embedding (N, 128).

        The embedding is the global average of the input of the last convolution.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 3:
            x = x[..., None]
        acts: dict[str, np.ndarray] = {}
        emb = None
        for layer in self.layers:
            kind, name, c = layer["class_name"], layer["name"], layer["config"]
            ins = [acts[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else [x]
            w = self.weights.get(name, {})
            a = ins[0]
            if kind == "InputLayer":
                y = x
            elif kind == "Conv2D":
                k, s = c["kernel_size"][0], c["strides"][0]
                p = _patches(a, k, s, c["padding"])
                y = np.einsum("nhwijc,ijco->nhwo", p, w["kernel"])
                if c.get("use_bias"):
                    y = y + w["bias"]
                if name == "conv2d_7":
                    emb = a.mean(axis=(1, 2))
            elif kind == "SeparableConv2D":
                p = _patches(a, c["kernel_size"][0], c["strides"][0], c["padding"])
                dw = np.einsum("nhwijc,ijc->nhwc", p, w["depthwise_kernel"][..., 0])
                y = np.einsum("nhwc,co->nhwo", dw, w["pointwise_kernel"][0, 0])
            elif kind == "BatchNormalization":
                y = (a - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"])
                y = y * w["gamma"] + w["beta"]
            elif kind == "Activation":
                if c["activation"] == "relu":
                    y = np.maximum(a, 0)
                elif c["activation"] == "softmax":
                    e = np.exp(a - a.max(axis=-1, keepdims=True))
                    y = e / e.sum(axis=-1, keepdims=True)
                else:
                    raise NotImplementedError(c["activation"])
            elif kind == "MaxPooling2D":
                p = _patches(a, c["pool_size"][0], c["strides"][0], c["padding"], fill=-np.inf)
                y = p.max(axis=(3, 4))
            elif kind == "Add":
                y = sum(ins)
            elif kind == "GlobalAveragePooling2D":
                y = a.mean(axis=(1, 2))
            else:
                raise NotImplementedError(kind)
            acts[name] = y
        return acts[self.layers[-1]["name"]], emb  # type: ignore[return-value]
