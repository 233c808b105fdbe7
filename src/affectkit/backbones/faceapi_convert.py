"""Convert the face-api.js models in the ``@vladmandic/face-api`` npm tarball to safetensors.

Run once, offline, by a maintainer (the product never needs Node or npm)::

    cd /tmp && npm pack @vladmandic/face-api          # → vladmandic-face-api-1.7.15.tgz
    python -m affectkit.backbones.faceapi_convert --tarball /tmp/vladmandic-face-api-1.7.15.tgz

The tarball's ``package/model/<name>-weights_manifest.json`` lists every tensor (name, shape,
dtype, optional ``quantization``) in the order they are packed into the ``.bin`` shards named in
``paths``. TF.js stores quantised weights as ``uint8``/``uint16`` codes with an affine map
``value = code * scale + min`` (or as ``float16``); this command keeps the codes as they are —
the shipped file is as small as the npm one — and writes the map next to them:

* ``<name>.safetensors``: one tensor per manifest entry, **TF.js names and TF layout** (HWIO
  convolution filters, ``[in, out]`` dense weights), stored with the manifest's storage dtype;
* ``<name>.json``: per tensor the shape, the logical dtype and the quantisation (scale, min),
  plus the package version and the tarball's SHA-256.

:func:`load_tensors` turns such a pair back into float32 arrays; the PyTorch port
(:mod:`affectkit.backbones.faceapi`) does its own layout changes on top.

Licence: face-api.js by Vincent Mühler and the ``@vladmandic/face-api`` fork by Vladimir Mandic
are MIT; the licence text and attribution are written beside the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

from affectkit.errors import ConfigError

OUT_DIR = Path(__file__).resolve().parents[1] / "weights" / "faceapi"

#: models converted by default (manifest stem → what it is)
MODELS: dict[str, str] = {
    "face_expression_model": "FaceExpressionNet: 112×112 RGB → 7 expressions (+ 256-d embedding)",
    "tiny_face_detector_model": "Tiny Face Detector: separable-conv Tiny-YOLOv2, 1 class, 5 anchors",
    "face_landmark_68_model": "FaceLandmark68Net: 112×112 RGB → 68 (x, y) points",
    "face_landmark_68_tiny_model": "FaceLandmark68TinyNet: 112×112 RGB → 68 (x, y) points",
    "ssd_mobilenetv1_model": "SSD MobileNet v1: 512×512 RGB → 5,118 prior boxes × (face score, "
                             "box); MobileNetV1 (depthwise-separable, ReLU6) + 6 SSD box predictors",
}

_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
           "float16": np.float16, "bool": np.bool_}

ATTRIBUTION = """\
# face-api.js weights (converted)

These files are the pretrained models of **face-api.js** (Vincent Mühler,
https://github.com/justadudewhohacks/face-api.js, MIT) as redistributed in the npm package
**@vladmandic/face-api** (Vladimir Mandic, https://github.com/vladmandic/face-api, MIT),
converted without retraining by `python -m affectkit.backbones.faceapi_convert --tarball X.tgz`.

| file | size | model |
|---|---|---|
{table}

Each `.safetensors` holds the TF.js tensors under their TF.js names and layout, with the
quantised codes as shipped (uint8); the `.json` beside it gives the affine de-quantisation
(`value = code * scale + min`), the npm version ({version}) and the tarball's SHA-256.
The training data of these models is not documented by their authors (FaceExpressionNet may
have seen CK+ images); see `LICENSE-face-api.txt` for the licence.
"""


def _member(tar: tarfile.TarFile, name: str, folder: str = "package/model/") -> bytes:
    try:
        f = tar.extractfile(folder + name)
    except KeyError:
        f = None
    if f is None:
        raise ConfigError(f"{tar.name}: no '{folder}{name}'; is this the @vladmandic/face-api "
                          "tarball made by `npm pack @vladmandic/face-api`?")
    return f.read()


def decode_manifest(manifest: list[dict], shards: dict[str, bytes], where: str = "manifest"
                    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Split the concatenated shards into stored tensors (codes) and their metadata."""
    tensors: dict[str, np.ndarray] = {}
    meta: dict[str, dict] = {}
    for group in manifest:
        try:
            buf = b"".join(shards[p] for p in group["paths"])
        except KeyError as e:
            raise ConfigError(f"{where}: weight shard {e} listed in 'paths' is missing") from None
        off = 0
        for w in group["weights"]:
            name, shape, dtype = w["name"], [int(s) for s in w["shape"]], w["dtype"]
            q = w.get("quantization")
            store = q["dtype"] if q else dtype
            if store not in _DTYPES:
                raise ConfigError(f"{where}: tensor {name!r} has unsupported dtype {store!r}")
            np_t = np.dtype(_DTYPES[store]).newbyteorder("<")
            n = int(np.prod(shape)) if shape else 1
            nbytes = n * np_t.itemsize
            if off + nbytes > len(buf):
                raise ConfigError(f"{where}: shards end inside tensor {name!r} "
                                  f"(need {off + nbytes} bytes, have {len(buf)})")
            arr = np.frombuffer(buf, dtype=np_t, count=n, offset=off).reshape(shape)
            off += nbytes
            tensors[name] = np.ascontiguousarray(arr.astype(np_t.newbyteorder("=")))
            entry: dict = {"shape": shape, "dtype": dtype, "stored": store}
            if q and store in ("uint8", "uint16"):
                entry["scale"], entry["min"] = float(q["scale"]), float(q["min"])
            if name in meta:
                raise ConfigError(f"{where}: tensor {name!r} appears twice")
            meta[name] = entry
        if off != len(buf):
            raise ConfigError(f"{where}: {len(buf) - off} trailing bytes after the last tensor")
    return tensors, meta


def dequantize(codes: np.ndarray, entry: dict) -> np.ndarray:
    """Stored codes → float32 (int32 tensors stay integers)."""
    if "scale" in entry:
        out = codes.astype(np.float64) * entry["scale"] + entry["min"]
        return out.astype(np.int32 if entry["dtype"] == "int32" else np.float32)
    return codes.astype(np.float32) if entry["dtype"] == "float32" else codes


def convert(tarball: str | Path, out_dir: str | Path = OUT_DIR,
            models: tuple[str, ...] = tuple(MODELS)) -> list[Path]:
    """Write ``<model>.safetensors`` + ``<model>.json`` (+ licence, README) into ``out_dir``."""
    from safetensors.numpy import save_file

    tarball = Path(tarball)
    if not tarball.is_file():
        raise ConfigError(f"--tarball {tarball}: no such file; create it with "
                          "`npm pack @vladmandic/face-api`")
    raw = tarball.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        tar.name = str(tarball)
        version = json.loads(_member(tar, "package.json", "package/")).get("version", "unknown")
        licence = _member(tar, "LICENSE", "package/").decode()
        for m in models:
            if m not in MODELS:
                raise ConfigError(f"unknown model {m!r}; choose from {sorted(MODELS)}")
            manifest = json.loads(_member(tar, f"{m}-weights_manifest.json"))
            paths = [p for g in manifest for p in g["paths"]]
            shards = {p: _member(tar, p) for p in paths}
            tensors, meta = decode_manifest(manifest, shards, where=f"{tarball}:{m}")
            info = {"model": m, "description": MODELS[m], "package": "@vladmandic/face-api",
                    "version": version, "tarball_sha256": sha, "licence": "MIT",
                    "tensors": meta}
            st = out_dir / f"{m}.safetensors"
            save_file(tensors, str(st), metadata={"source": f"@vladmandic/face-api@{version}",
                                                  "model": m})
            _sort_metadata(st)
            js = out_dir / f"{m}.json"
            js.write_text(json.dumps(info, indent=1) + "\n")
            written += [st, js]
    lic = out_dir / "LICENSE-face-api.txt"
    lic.write_text(
        "face-api.js — Copyright (c) 2018 Vincent Mühler — MIT License\n"
        "@vladmandic/face-api — licence as shipped in the npm package:\n\n" + licence)
    readme = out_dir / "README.md"
    readme.write_text(ATTRIBUTION.format(
        table="\n".join(f"| `{m}.safetensors` | {(out_dir / f'{m}.safetensors').stat().st_size / 1e3:,.0f} KB "
                         f"| {MODELS[m]} |" for m in models),
        version=version))
    return written + [lic, readme]


def _sort_metadata(path: Path) -> None:
    """Rewrite the ``__metadata__`` object of a safetensors header with sorted keys, in place.

    ``safetensors`` keeps the metadata in a Rust ``HashMap`` whose order changes from process to
    process, so two conversions of the same tarball differed in the header's key order (tensor
    data and names identical). Sorting makes the file a function of the tarball alone; the
    header keeps its length, so the data offsets are unchanged.
    """
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = bytes(raw[8: 8 + n])
    meta = json.loads(header).get("__metadata__")
    if not meta:
        return
    start = header.index(b'"__metadata__":')
    end = header.index(b"}", start) + 1  # metadata values are plain strings without braces
    new = b'"__metadata__":' + json.dumps(dict(sorted(meta.items())), separators=(",", ":"),
                                          ensure_ascii=False).encode()
    if len(new) != end - start:
        raise ConfigError(f"{path}: unexpected safetensors header layout")
    raw[8 + start: 8 + end] = new
    path.write_bytes(bytes(raw))


def load_tensors(model: str, weights_dir: str | Path = OUT_DIR) -> dict[str, np.ndarray]:
    """De-quantised float32 tensors (TF.js names and layout) of a converted model."""
    from safetensors.numpy import load_file

    weights_dir = Path(weights_dir)
    st, js = weights_dir / f"{model}.safetensors", weights_dir / f"{model}.json"
    if not st.exists() or not js.exists():
        raise ConfigError(
            f"face-api weights {st.name} missing in {weights_dir}; they ship with affectkit — "
            "reinstall it, or regenerate them with `python -m affectkit.backbones.faceapi_convert "
            "--tarball $(npm pack @vladmandic/face-api)`")
    meta = json.loads(js.read_text())["tensors"]
    codes = load_file(str(st))
    return {k: dequantize(codes[k], meta[k]) for k in meta}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m affectkit.backbones.faceapi_convert",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarball", required=True, help="vladmandic-face-api-X.Y.Z.tgz from npm pack")
    ap.add_argument("--out", default=str(OUT_DIR), help="output folder (default: shipped weights)")
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="manifest stems to convert")
    a = ap.parse_args(argv)
    try:
        for p in convert(a.tarball, a.out, tuple(a.models)):
            print(f"{p}  {p.stat().st_size:,} bytes")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
