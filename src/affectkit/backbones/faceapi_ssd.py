"""PyTorch port of face-api.js's **SSD MobileNet v1** face detector.

Weights: ``affectkit/weights/faceapi/ssd_mobilenetv1_model.safetensors`` (5.6 MB, uint8 codes as
shipped in the ``@vladmandic/face-api`` npm package, MIT), written by
:mod:`affectkit.backbones.faceapi_convert`. The graph follows ``src/ssdMobilenetv1`` of that
package (``SsdMobilenetv1.ts``, ``mobileNetV1.ts``, ``pointwiseConvLayer.ts``,
``predictionLayer.ts``, ``boxPredictionLayer.ts``, ``outputLayer.ts``):

* input: the image padded to a square at the bottom/right (``toBatchTensor(512, false)``),
  resized to **512×512**, ``x / 127.5 - 1``;
* **MobileNetV1**: a 3×3 stride-2 conv, then 13 pairs of depthwise 3×3 conv (batch norm,
  ε = 1e-3) and pointwise 1×1 conv (+ offset), every conv followed by ReLU6; strides 2 at pairs
  2, 4, 6 and 12; TF ``"same"`` padding (stride 2 on an even size pads only right/bottom).
  Outputs: pair 11 (32×32×512) and pair 13 (16×16×1024);
* **prediction layer**: 8 more convs (1×1 / 3×3 stride 2, ReLU6) → maps of 8, 4, 2 and 1
  cells; six box predictors (1×1 convs, no activation) on the 32, 16, 8, 4, 2, 1 maps with
  3, 6, 6, 6, 6, 6 anchors → **5,118** box encodings (ty, tx, th, tw) and class logits
  (background, face);
* **output layer**: box = the prior box (``Output/extra_dim``, normalised ``ymin, xmin, ymax,
  xmax``) shifted by ``t / (10, 10, 5, 5)`` (centre ×size, size × exp); score = sigmoid of the
  face logit. face-api.js then keeps scores > 0.5 and runs NMS at IoU 0.5.

The independent NumPy reference of the same graph is
:func:`affectkit.backbones._faceapi_ref.ssd_mobilenetv1`.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from affectkit.backbones.faceapi_convert import OUT_DIR as WEIGHTS_DIR
from affectkit.backbones.faceapi_convert import load_tensors

STEM = "ssd_mobilenetv1_model"
INPUT = 512
N_PRIORS = 5118
BN_EPS = 0.0010000000474974513
#: stride-2 depthwise convs of MobileNetV1 (pair index, 1-based)
_STRIDE2 = (2, 4, 6, 12)
#: MobileNetV1 pointwise output channels (conv_0, pairs 1..13)
_CHANNELS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
#: prediction-layer convs: (kernel, cin, cout, stride)
_PRED = ((1, 1024, 256, 1), (3, 256, 512, 2), (1, 512, 128, 1), (3, 128, 256, 2),
         (1, 256, 128, 1), (3, 128, 256, 2), (1, 256, 64, 1), (3, 64, 128, 2))
#: box predictors: (input channels, anchors per cell); inputs conv11, out, pred 1, 3, 5, 7
_BOXES = ((512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6))


def _modules():
    import torch
    from torch import nn
    from torch.nn import functional as F

    def pad_same(x, k: int, s: int):
        h, w = x.shape[-2:]
        th = max((-(-h // s) - 1) * s + k - h, 0)
        tw = max((-(-w // s) - 1) * s + k - w, 0)
        return F.pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2))

    class ConvSame(nn.Module):
        """TF ``conv2d(..., 'same')`` (+ bias), optionally grouped (depthwise), ReLU6 or not."""

        def __init__(self, cin: int, cout: int, k: int, s: int, groups: int = 1,
                     relu6: bool = True) -> None:
            super().__init__()
            self.k, self.s, self.relu6 = k, s, relu6
            self.conv = nn.Conv2d(cin, cout, k, stride=s, groups=groups, bias=True)

        def forward(self, x):
            y = self.conv(pad_same(x, self.k, self.s) if self.k > 1 else x)
            return y.clamp(0.0, 6.0) if self.relu6 else y

    class SsdMobilenetV1(nn.Module):
        """(B, 3, 512, 512) RGB 0..255 → (box encodings (B, 5118, 4), class logits (B, 5118, 3))."""

        def __init__(self) -> None:
            super().__init__()
            self.conv0 = ConvSame(3, 32, 3, 2)
            dw, pw = [], []
            for i in range(1, 14):
                c_in, c_out = _CHANNELS[i - 1], _CHANNELS[i]
                dw.append(ConvSame(c_in, c_in, 3, 2 if i in _STRIDE2 else 1, groups=c_in))
                pw.append(ConvSame(c_in, c_out, 1, 1))
            self.depthwise, self.pointwise = nn.ModuleList(dw), nn.ModuleList(pw)
            self.pred = nn.ModuleList([ConvSame(ci, co, k, s) for k, ci, co, s in _PRED])
            self.box = nn.ModuleList([ConvSame(c, 4 * a, 1, 1, relu6=False) for c, a in _BOXES])
            self.cls = nn.ModuleList([ConvSame(c, 3 * a, 1, 1, relu6=False) for c, a in _BOXES])

        def forward(self, x):
            x = x / 127.5 - 1.0
            x = self.conv0(x)
            conv11 = x
            for i, (d, p) in enumerate(zip(self.depthwise, self.pointwise), start=1):
                x = p(d(x))
                if i == 11:
                    conv11 = x
            maps = [conv11, x]
            y = x
            for j, conv in enumerate(self.pred):
                y = conv(y)
                if j % 2 == 1:
                    maps.append(y)
            b = x.shape[0]
            # NHWC order (cell row, cell column, anchor) as TF.js reshapes it
            boxes = torch.cat([bp(m).permute(0, 2, 3, 1).reshape(b, -1, 4)
                               for bp, m in zip(self.box, maps)], dim=1)
            logits = torch.cat([cp(m).permute(0, 2, 3, 1).reshape(b, -1, 3)
                                for cp, m in zip(self.cls, maps)], dim=1)
            return boxes, logits

    return SsdMobilenetV1


def state_from_tf(tf: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """TF.js tensors → (:class:`SsdMobilenetV1` state dict, priors (5118, 4)).

    The depthwise convs' batch norm is folded into the conv: ``w' = w·γ/√(σ²+ε)``,
    ``b' = β − μ·γ/√(σ²+ε)``.
    """
    st: dict[str, np.ndarray] = {}

    def conv(dst: str, w: np.ndarray, b: np.ndarray) -> None:
        st[dst + ".conv.weight"] = w.transpose(3, 2, 0, 1)  # HWIO → OIHW
        st[dst + ".conv.bias"] = b

    conv("conv0", tf["MobilenetV1/Conv2d_0_pointwise/weights"],
         tf["MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset"])
    for i in range(1, 14):
        p = f"MobilenetV1/Conv2d_{i}_depthwise/"
        k = tf[p + "BatchNorm/gamma"] / np.sqrt(tf[p + "BatchNorm/moving_variance"] + BN_EPS)
        w = tf[p + "depthwise_weights"][:, :, :, 0]  # (3, 3, C)
        st[f"depthwise.{i - 1}.conv.weight"] = (w * k).transpose(2, 0, 1)[:, None]
        st[f"depthwise.{i - 1}.conv.bias"] = (tf[p + "BatchNorm/beta"]
                                              - tf[p + "BatchNorm/moving_mean"] * k)
        conv(f"pointwise.{i - 1}", tf[f"MobilenetV1/Conv2d_{i}_pointwise/weights"],
             tf[f"MobilenetV1/Conv2d_{i}_pointwise/convolution_bn_offset"])
    for j in range(8):
        conv(f"pred.{j}", tf[f"Prediction/Conv2d_{j}_pointwise/weights"],
             tf[f"Prediction/Conv2d_{j}_pointwise/convolution_bn_offset"])
    for j in range(6):
        p = f"Prediction/BoxPredictor_{j}/"
        conv(f"box.{j}", tf[p + "BoxEncodingPredictor/weights"],
             tf[p + "BoxEncodingPredictor/biases"])
        conv(f"cls.{j}", tf[p + "ClassPredictor/weights"], tf[p + "ClassPredictor/biases"])
    priors = np.asarray(tf["Output/extra_dim"], np.float64).reshape(-1, 4)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in st.items()}, priors


@functools.lru_cache(maxsize=2)
def load(weights_dir: str | None = None):
    """(network in eval mode, priors (5118, 4) float64)."""
    import torch

    net = _modules()()
    state, priors = state_from_tf(load_tensors(STEM, Path(weights_dir) if weights_dir
                                               else WEIGHTS_DIR))
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    if missing or len(priors) != N_PRIORS:
        raise RuntimeError(f"{STEM}: converted weights lack {missing[:4]} or priors "
                           f"({len(priors)} != {N_PRIORS})")
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, priors


_FAST: dict = {}
_FAST_LOCK = threading.Lock()


def fast(batch: int):
    """The network traced for ``(batch, 3, 512, 512)``, frozen, channels-last (as
    :func:`affectkit.backbones.faceapi.fast_detector`); ``$AFFECTKIT_FACE_JIT=0`` gives the
    plain module."""
    import os
    import warnings

    import torch

    net, _ = load()
    if os.environ.get("AFFECTKIT_FACE_JIT", "1") == "0":
        return net
    with _FAST_LOCK:
        fn = _FAST.get(batch)
        if fn is None:
            import copy

            m = copy.deepcopy(net).to(memory_format=torch.channels_last)
            x = torch.zeros((batch, 3, INPUT, INPUT)).contiguous(memory_format=torch.channels_last)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                fn = torch.jit.freeze(torch.jit.trace(m, x, check_trace=False))
            if len(_FAST) >= 4:
                _FAST.pop(next(iter(_FAST)))
            _FAST[batch] = fn
    return fn


def decode(box_enc: np.ndarray, logits: np.ndarray, priors: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """(B, 5118, 4) encodings + (B, 5118, 3) logits → boxes (B, 5118, 4) as ``x0, y0, x1, y1``
    in [0, 1] of the 512² input (face-api.js order is y first; swapped here) and face scores
    (B, 5118) — ``outputLayer.ts``."""
    t = np.asarray(box_enc, np.float64)
    ph, pw = priors[:, 2] - priors[:, 0], priors[:, 3] - priors[:, 1]
    pcy, pcx = priors[:, 0] + ph / 2, priors[:, 1] + pw / 2
    cy, cx = t[..., 0] / 10 * ph + pcy, t[..., 1] / 10 * pw + pcx
    hh, hw = np.exp(t[..., 2] / 5) * ph / 2, np.exp(t[..., 3] / 5) * pw / 2
    boxes = np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=-1)
    scores = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)[..., 1]))
    return boxes, scores


def run(images: np.ndarray, *, use_fast: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(B, 512, 512, 3) RGB uint8/float 0..255 → boxes (B, 5118, 4) ``x0 y0 x1 y1`` in input
    pixels and scores (B, 5118)."""
    import torch

    imgs = np.asarray(images)
    if imgs.ndim != 4 or imgs.shape[1:] != (INPUT, INPUT, 3):
        raise ValueError(f"SSD MobileNet v1 expects (B, {INPUT}, {INPUT}, 3) images, got "
                         f"{imgs.shape}")
    _, priors = load()
    # NHWC memory viewed as NCHW = channels-last, what the traced net wants
    x = torch.from_numpy(np.ascontiguousarray(imgs, dtype=np.float32)).permute(0, 3, 1, 2)
    with torch.inference_mode():
        net = fast(len(imgs)) if use_fast else load()[0]
        enc, logits = net(x if use_fast else x.contiguous())
    boxes, scores = decode(enc.numpy(), logits.numpy(), priors)
    return boxes * INPUT, scores
