"""Receiving uploads: streamed multipart parsing with limits, content sniffing, validation.

* The body is parsed as it arrives (``python-multipart``'s streaming parser); file parts go
  straight to disk under names we choose (``0.part``, ``1.part`` ...), so memory stays flat and
  the upload limit is enforced while streaming, before the whole body is read.
* The client's file name is only a label: names with a path in them are refused, and no name
  ever becomes a path.
* The *content* decides the decoder (magic bytes; text is parsed), and every file is checked
  before a job is created: media must open and probe, images must declare a sane pixel count
  (decompression bombs are refused from the header, before any pixel is decoded), text must
  parse. Each failure is an :class:`ApiError` with a 4xx status and a message naming the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from affectkit.analysis.results import MODALITIES


class ApiError(Exception):
    """An error for the client: HTTP status, a short code and a message that says the fix."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass
class Limits:
    max_upload: int = 2 * 1024**3  # bytes per request body
    job_quota: int = 4 * 1024**3  # bytes on disk per job (inputs + results)
    max_files: int = 256
    max_pixels: int = 50_000_000  # images and video frames
    max_field: int = 64 * 1024  # a non-file form field


# -- content sniffing -------------------------------------------------------------------------
def sniff(head: bytes) -> tuple[str, str] | None:
    """``(kind, ext)`` from the first bytes of a binary file, or ``None`` (not known media)."""
    h = head
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", ".png"
    if h.startswith(b"\xff\xd8\xff"):
        return "image", ".jpg"
    if h.startswith(b"BM") and len(h) > 14:
        return "image", ".bmp"
    if h[:4] in (b"II*\x00", b"MM\x00*"):
        return "image", ".tif"
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return "image", ".webp"
    if h[:4] == b"RIFF" and h[8:12] == b"WAVE":
        return "audio", ".wav"
    if h[:4] == b"RIFF" and h[8:12] == b"AVI ":
        return "video", ".avi"
    if h.startswith(b"fLaC"):
        return "audio", ".flac"
    if h.startswith(b"OggS"):
        return ("audio", ".opus") if b"OpusHead" in h[:64] else ("audio", ".ogg")
    if h.startswith(b"ID3") or (len(h) > 1 and h[0] == 0xFF and (h[1] & 0xE0) == 0xE0 and (h[1] & 0x06)):
        return "audio", ".mp3"
    if h[4:8] == b"ftyp":
        brand = h[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio", ".m4a"
        return ("video", ".mov") if brand == b"qt  " else ("video", ".mp4")
    if h.startswith(b"\x1aE\xdf\xa3"):
        return ("video", ".webm") if b"webm" in h[:64] else ("video", ".mkv")
    if h.startswith(b"FLV"):
        return "video", ".flv"
    return None


def sniff_text(data: bytes) -> tuple[str, str] | None:
    """Text inputs: ``("conversation", ".jsonl"|".csv")`` or ``("text", ".txt")``; ``None`` if
    the bytes are not UTF-8 text."""
    if b"\x00" in data:
        return None
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(data) - 4:  # not just a multi-byte character cut by the sniff window
            return None
        s = data[:e.start].decode("utf-8")
    lines = [x for x in s.splitlines() if x.strip()]
    if not lines:
        return "text", ".txt"
    if lines[0].lstrip().startswith("{"):
        return "conversation", ".jsonl"
    try:
        header = next(csv.reader(io.StringIO(lines[0])))
    except (csv.Error, StopIteration):
        header = []
    if {h.strip().lower() for h in header} & {"text", "utterance"} and len(header) > 1:
        return "conversation", ".csv"
    return "text", ".txt"


SUPPORTED_HELP = ("video (mp4, mov, mkv, webm, avi, flv), audio (wav, flac, ogg, opus, mp3, m4a), "
                  "images (png, jpeg, bmp, tiff, webp), UTF-8 text (one utterance per line) or a "
                  "conversation (.csv with speaker,text columns or .jsonl)")


# -- file names ----------------------------------------------------------------------------------
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")


def display_name(raw: str, index: int) -> str:
    """The client's file name as a label. Refuses names that carry a path."""
    name = raw.strip()
    if not name:
        return f"file{index}"
    if "/" in name or "\\" in name or name in (".", "..") or _BAD_NAME.search(name):
        raise ApiError(400, "bad_file_name",
                       f"file name {name[:120]!r} contains a path or control characters; send the "
                       "base name only (e.g. 'interview.mp4')")
    return name[:200]


# -- streamed multipart --------------------------------------------------------------------------
@dataclass
class ReceivedFile:
    index: int
    name: str
    path: Path  # <upload dir>/<index>.part
    size: int = 0
    sha256: str = ""
    kind: str = ""
    ext: str = ""


@dataclass
class Received:
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    total: int = 0


class _Parts:
    """Callbacks for :class:`python_multipart.MultipartParser` writing file parts to disk."""

    def __init__(self, folder: Path, limits: Limits):
        self.folder, self.limits = folder, limits
        self.out = Received()
        self.error: ApiError | None = None
        self._hname = b""
        self._hval = b""
        self._headers: dict[bytes, bytes] = {}
        self._file: ReceivedFile | None = None
        self._fh = None
        self._hash = None
        self._field: str | None = None
        self._buf = bytearray()
        self._files_bytes = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._hf, "on_header_value": self._hv,
                "on_header_end": self._he, "on_headers_finished": self._hdone,
                "on_part_data": self._data, "on_part_end": self._end}

    def _fail(self, err: ApiError) -> None:
        if self.error is None:
            self.error = err

    def _begin(self) -> None:
        self._headers, self._hname, self._hval = {}, b"", b""

    def _hf(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _hv(self, data: bytes, start: int, end: int) -> None:
        self._hval += data[start:end]

    def _he(self) -> None:
        self._headers[self._hname.lower()] = self._hval
        self._hname, self._hval = b"", b""

    def _hdone(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        fname = params.get(b"filename")
        if self.error is not None:
            return
        if fname is not None:
            idx = len(self.out.files)
            if idx >= self.limits.max_files:
                return self._fail(ApiError(413, "too_many_files",
                                           f"more than {self.limits.max_files} files in one job; split the upload"))
            if name != "files":
                return self._fail(ApiError(400, "bad_field", f"file part named {name!r}; name file parts 'files'"))
            try:
                label = display_name(fname.decode("utf-8", "replace"), idx)
            except ApiError as e:
                return self._fail(e)
            self._file = ReceivedFile(idx, label, self.folder / f"{idx}.part")
            self._fh = open(self._file.path, "wb")
            self._hash = hashlib.sha256()
            self.out.files.append(self._file)
        else:
            self._field, self._buf = name, bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if self._fh is not None:
            self._files_bytes += len(chunk)
            if self._files_bytes > self.limits.job_quota:
                return self._fail(ApiError(413, "quota_exceeded",
                                           f"the files exceed the per-job quota of {_human(self.limits.job_quota)}; "
                                           "split them over several jobs"))
            self._fh.write(chunk)
            self._hash.update(chunk)
            self._file.size += len(chunk)
        elif self._field is not None:
            self._buf += chunk
            if len(self._buf) > self.limits.max_field:
                self._fail(ApiError(413, "field_too_large", f"form field {self._field!r} is over "
                                    f"{self.limits.max_field} bytes"))

    def _end(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._file.sha256 = self._hash.hexdigest()
            self._fh = self._file = None
        elif self._field is not None:
            self.out.fields[self._field] = self._buf.decode("utf-8", "replace")
            self._field = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def receive_multipart(request, folder: Path, limits: Limits) -> Received:
    """Stream a ``multipart/form-data`` body into ``folder``. Raises :class:`ApiError`."""
    from python_multipart import MultipartParser
    from python_multipart.multipart import parse_options_header
    from starlette.requests import ClientDisconnect

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(415, "expected_multipart",
                       "POST /v1/jobs takes multipart/form-data: one or more parts named 'files' "
                       "(e.g. curl -F files=@clip.mp4) and optional fields modalities, fps, max_duration")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_upload:
        raise ApiError(413, "upload_too_large", f"the upload is {_human(int(declared))}; the limit is "
                       f"{_human(limits.max_upload)} (affect serve --max-upload)")
    parts = _Parts(folder, limits)
    parser = MultipartParser(params[b"boundary"], parts.callbacks())
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_upload:
                raise ApiError(413, "upload_too_large", f"the upload exceeds the limit of "
                               f"{_human(limits.max_upload)} (affect serve --max-upload); nothing was kept")
            try:
                parser.write(chunk)
            except Exception as e:  # python-multipart raises MultipartParseError and friends
                raise ApiError(400, "bad_multipart", f"malformed multipart body: {e}") from None
            if parts.error is not None:
                raise parts.error
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client disconnected before the upload ended") from None
    finally:
        parts.close()
    from python_multipart.multipart import MultipartState

    if parser.state != MultipartState.END:
        raise ApiError(400, "truncated_upload", "the multipart body ended before its closing boundary "
                       "(truncated upload); send it again")
    parts.out.total = total
    return parts.out


# -- validation ----------------------------------------------------------------------------------
def parse_options(fields: dict[str, str]) -> dict:
    """The ``affect analyze`` options from form fields, validated."""
    allowed = ("modalities", "fps", "max_duration", "asr", "diarise", "speakers")
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown form field(s) {', '.join(sorted(unknown))}; "
                       f"allowed: files, {', '.join(allowed)}")
    mods = [m.strip().lower() for m in fields.get("modalities", ",".join(MODALITIES)).split(",") if m.strip()]
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        raise ApiError(400, "bad_modalities", f"modalities: unknown {bad or 'none'}; choose from "
                       f"{', '.join(MODALITIES)} (comma-separated)")
    opts: dict = {"modalities": [m for m in MODALITIES if m in mods], "fps": 2.0, "max_duration": None,
                  "asr": fields.get("asr", "").strip() or default_asr()}
    if fields.get("diarise", "").strip():
        v = fields["diarise"].strip().lower()
        if v not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ApiError(400, "bad_diarise", f"diarise: {fields['diarise']!r}; true or false "
                           "(leave it out for the default: on with more than 20 s of speech)")
        opts["diarise"] = v in ("true", "1", "yes", "on")
    if fields.get("speakers", "").strip():
        try:
            n = int(fields["speakers"])
        except ValueError:
            n = 0
        if not 1 <= n <= 50:
            raise ApiError(400, "bad_speakers", f"speakers: {fields['speakers']!r}; a whole number 1-50")
        opts["speakers"] = n
    asr_models = _asr_models()
    if asr_models and opts["asr"] not in asr_models:
        raise ApiError(400, "bad_asr", f"asr: {opts['asr']!r}; choose from {', '.join(asr_models)}")
    for key, lo, hi in (("fps", 0.0, 60.0), ("max_duration", 0.0, 1e7)):
        if fields.get(key, "").strip():
            try:
                v = float(fields[key])
            except ValueError:
                raise ApiError(400, f"bad_{key}", f"{key}: {fields[key]!r} is not a number") from None
            if not (lo < v <= hi):
                raise ApiError(400, f"bad_{key}", f"{key} must be in ({lo:g}, {hi:g}], got {v:g}")
            opts[key] = v
    return opts


def _asr_models() -> tuple[str, ...]:
    try:
        from affectkit.features.asr.whisper import ASR_MODELS
    except ImportError:  # an affectkit without the choice
        return ()
    return tuple(ASR_MODELS)


def default_asr() -> str:
    """The ``--asr`` default of ``affect analyze`` (the Analyzer's)."""
    import dataclasses

    from affectkit.analysis import Analyzer

    f = {x.name: x for x in dataclasses.fields(Analyzer)}.get("asr")
    return f.default if f is not None else "tiny.en"


def classify(f: ReceivedFile, limits: Limits) -> None:
    """Sniff, rename to ``<index><ext>`` and validate one received file (sets kind/ext)."""
    if f.size == 0:
        raise ApiError(422, "empty_file", f"{f.name}: empty file (0 bytes)")
    with open(f.path, "rb") as fh:
        head = fh.read(64 * 1024)
    hit = sniff(head) or sniff_text(head)
    if hit is None:
        raise ApiError(415, "unsupported_media", f"{f.name}: not a supported format (judged by content, "
                       f"not the name); supported: {SUPPORTED_HELP}")
    f.kind, f.ext = hit
    final = f.path.with_name(f"{f.index}{f.ext}")
    os.replace(f.path, final)
    f.path = final
    try:
        _validate(f, limits)
    except ApiError:
        raise
    except Exception as e:  # a decoder library error: the file is bad, not the server
        raise ApiError(422, "corrupt_file", f"{f.name}: cannot be read as {f.kind} ({type(e).__name__})") from None


def _validate(f: ReceivedFile, limits: Limits) -> None:
    from affectkit.errors import MediaError

    if f.kind == "image":
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None  # we check the declared size ourselves, before decoding
        try:
            with Image.open(f.path) as im:
                w, h = im.size
        except Exception as e:
            raise ApiError(422, "corrupt_image", f"{f.name}: cannot read the image header ({e}); re-export it") from None
        if w * h > limits.max_pixels:
            raise ApiError(422, "image_too_large",
                           f"{f.name}: the image declares {w}x{h} pixels (over {limits.max_pixels:,}); "
                           "a decompression bomb or a scan too large to analyse; resize it")
        from affectkit.media import load_image

        try:
            load_image(f.path)
        except MediaError as e:
            raise ApiError(422, "corrupt_image", _relabel(str(e), f)) from None
    elif f.kind in ("audio", "video"):
        from affectkit import media

        try:
            info = media.probe(f.path)
        except MediaError as e:
            raise ApiError(422, "corrupt_media", _relabel(str(e), f)) from None
        if not (info.has_audio or info.has_video):
            raise ApiError(422, "corrupt_media", f"{f.name}: no audio or video stream found")
        if info.width and info.height and info.width * info.height > limits.max_pixels:
            raise ApiError(422, "video_too_large", f"{f.name}: video frames of {info.width}x{info.height} "
                           f"pixels are over the limit of {limits.max_pixels:,}; scale it down")
    else:
        from affectkit.analysis.inputs import read_text_input

        try:
            read_text_input(f.path)
        except MediaError as e:
            raise ApiError(422, "bad_text", _relabel(str(e), f)) from None


def _relabel(msg: str, f: ReceivedFile) -> str:
    return msg.replace(str(f.path), f.name)


def request_hash(options: dict, files: list[ReceivedFile]) -> str:
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for f in files:
        h.update(f"\n{f.name}\t{f.sha256}".encode())
    return h.hexdigest()


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def parse_size(spec: str | int) -> int:
    """``"2G"``, ``"500M"``, ``"64k"`` or a byte count → bytes."""
    if isinstance(spec, int):
        return spec
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(spec).lower())
    if not m:
        from affectkit.errors import ConfigError

        raise ConfigError(f"size {spec!r}: use a byte count or a number with K, M, G or T (e.g. 2G)")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))
