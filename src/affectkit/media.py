"""Media decoding with PyAV: audio → 16 kHz mono float32, video → frames at N fps.

Everything here streams (generators), so a two-hour recording never sits in memory as a whole:
:func:`iter_audio` yields chunks, :func:`iter_frames` yields one sampled frame at a time.
:func:`load_audio` concatenates the chunks of one (usually short) segment.

Every failure is a :class:`~affectkit.errors.MediaError` that names the file and the fix:
empty files, files that are not media, corrupt packets, video without an audio track, and
truncated files. Truncation is caught two ways: a WAV whose ``data`` chunk declares more bytes
than the file holds (FFmpeg would silently estimate the length from the file size), and any
stream whose decoded length falls well short of the duration in its container header.

Images (``.jpg``, ``.png``, ...) are accepted wherever frames are: they are one frame at t = 0.

>>> from affectkit.media import load_audio, iter_frames, probe     # doctest: +SKIP
>>> x = load_audio("clip.mp4", start=1.0, end=3.5)                 # doctest: +SKIP
>>> x.shape, x.dtype                                               # doctest: +SKIP
((40000,), dtype('float32'))
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affectkit.errors import MediaError

SAMPLE_RATE = 16_000
IMAGE_EXTS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# Decoded media may be this much shorter than the header says before we call it truncated:
# encoders pad/prime a few hundred ms (AAC priming, last GOP), so allow max(0.5 s, 5 %).
_TRUNC_ABS_S = 0.5
_TRUNC_REL = 0.05
_FIX = "re-export or re-download it (e.g. `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav` for audio)"


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` learns from a file's headers (nothing is decoded).

    Attributes:
        path: the file.
        duration: seconds according to the container, ``None`` for images or when unknown.
        has_audio, has_video: streams present (an image counts as video).
        audio_rate: native sample rate of the first audio stream.
        video_fps: average frame rate of the first video stream.
        width, height: frame size.
        is_image: a still image rather than a container.
    """

    path: Path
    duration: float | None
    has_audio: bool
    has_video: bool
    audio_rate: int | None = None
    video_fps: float | None = None
    width: int | None = None
    height: int | None = None
    is_image: bool = False


@dataclass(frozen=True)
class Frame:
    """One sampled video frame: ``t`` in seconds from the file start, ``image`` (H, W[, 3]) uint8."""

    t: float
    image: np.ndarray


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, expected a media file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes); {_FIX}")


def _check_wav_header(path: Path) -> None:
    """Raise if a RIFF/WAVE file's ``data`` chunk claims more bytes than the file has.

    FFmpeg (and libsndfile) quietly estimate the length of such files from their size, so a
    copy cut off half-way would otherwise decode as a shorter, valid-looking clip.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            hdr = f.read(8)
            if len(hdr) < 8:
                break
            cid, n = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"data":
                # 0 and 0xFFFFFFFF are the "unknown length" placeholders of streaming writers.
                if n not in (0, 0xFFFFFFFF) and pos + 8 + n > size:
                    have = size - pos - 8
                    raise MediaError(
                        f"{path}: truncated WAV (data chunk declares {n} bytes, the file holds "
                        f"{have}, {100 * have / n:.0f} %); {_FIX}"
                    )
                return
            pos += 8 + n + (n & 1)


def _open(path: Path):
    import av

    _check_file(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise MediaError(f"{path}: cannot open as media ({e.__class__.__name__}: {e}); {_FIX}") from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise MediaError(f"{path}: cannot open as media ({e}); {_FIX}") from None


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read headers only: duration, streams, rates and frame size.

    Raises:
        MediaError: missing, empty, or not a media/image file.
    """
    path = Path(path)
    if is_image(path):
        img = load_image(path)
        return MediaInfo(path, None, False, True, width=img.shape[1], height=img.shape[0],
                         is_image=True)
    with _open(path) as c:
        a = c.streams.audio[0] if c.streams.audio else None
        v = c.streams.video[0] if c.streams.video else None
        dur = c.duration / 1_000_000 if c.duration is not None else None
        if dur is None:
            for s in (a, v):
                if s is not None and (d := _declared_duration(c, s)) is not None:
                    dur = d
                    break
        return MediaInfo(
            path, dur, a is not None, v is not None,
            audio_rate=a.rate if a is not None else None,
            video_fps=float(v.average_rate) if v is not None and v.average_rate else None,
            width=v.width if v is not None else None,
            height=v.height if v is not None else None,
        )


def duration(path: str | os.PathLike) -> float | None:
    """Container duration in seconds (``None`` for images / unknown)."""
    return probe(path).duration


def _check_span(path: Path, start: float | None, end: float | None) -> tuple[float, float | None]:
    s = float(start or 0.0)
    if s < 0:
        raise MediaError(f"{path}: segment start {s} s is negative")
    if end is not None and end <= s:
        raise MediaError(f"{path}: segment end {end} s is not after its start {s} s")
    return s, (float(end) if end is not None else None)


def iter_audio(
    path: str | os.PathLike,
    *,
    sr: int = SAMPLE_RATE,
    start: float | None = None,
    end: float | None = None,
    chunk_seconds: float = 30.0,
) -> Iterator[np.ndarray]:
    """Decode the first audio track to mono float32 at ``sr`` Hz, in chunks.

    Args:
        path: any container/codec FFmpeg reads (wav, flac, opus, mp3, m4a, mp4, mkv, ...).
        sr: output sample rate.
        start, end: segment in seconds from the file start (``None`` = from start / to end).
        chunk_seconds: size of the yielded chunks (the last one is shorter).

    Yields:
        np.ndarray: (n,) float32 chunks in [-1, 1]; concatenated they are the segment.

    Raises:
        MediaError: no audio track, undecodable/corrupt data, truncated file, empty segment.
    """
    import av

    path = Path(path)
    s, e = _check_span(path, start, end)
    _check_file(path)
    if path.suffix.lower() == ".wav":
        _check_wav_header(path)
    with _open(path) as c:
        if not c.streams.audio:
            kinds = ", ".join(sorted({st.type for st in c.streams})) or "none"
            raise MediaError(
                f"{path}: has no audio track (streams: {kinds}); use a file with sound, or skip "
                "audio features for it"
            )
        stream = c.streams.audio[0]
        declared = _declared_duration(c, stream)
        if e is not None and declared is not None and e > declared + _TRUNC_ABS_S:
            raise MediaError(
                f"{path}: segment end {e:.2f} s is beyond the media duration {declared:.2f} s; "
                "check the start/end times"
            )
        if s > 1.0:
            # Seek to (just before) the segment instead of decoding from zero: long files.
            try:
                c.seek(int(max(s - 0.5, 0) / stream.time_base), stream=stream, backward=True)
            except av.FFmpegError:
                c.seek(0, stream=stream)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        chunk_n = max(int(chunk_seconds * sr), 1)
        buf: list[np.ndarray] = []
        buffered = 0
        pos: int | None = None  # output-sample index (at ``sr``) of the next resampled sample
        first = int(round(s * sr))
        last = int(round(e * sr)) if e is not None else None
        emitted = 0
        done = False

        def take(arr: np.ndarray) -> np.ndarray:
            """Cut ``arr`` (starting at sample ``pos``) to the requested segment."""
            nonlocal pos
            a0, a1 = pos, pos + len(arr)  # type: ignore[operator]
            pos = a1
            lo = max(first, a0)
            hi = a1 if last is None else min(last, a1)
            return arr[lo - a0: hi - a0] if hi > lo else arr[:0]

        try:
            frames = c.decode(stream)
            for frame in frames:
                if pos is None:
                    t0 = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                    pos = int(round(t0 * sr))
                for out in resampler.resample(frame):
                    arr = take(out.to_ndarray().reshape(-1))
                    if len(arr):
                        buf.append(arr)
                        buffered += len(arr)
                    if buffered >= chunk_n:
                        cat = np.concatenate(buf)
                        while len(cat) >= chunk_n:
                            yield cat[:chunk_n]
                            emitted += chunk_n
                            cat = cat[chunk_n:]
                        buf, buffered = ([cat] if len(cat) else []), len(cat)
                if last is not None and pos is not None and pos >= last:
                    done = True
                    break
            if not done:
                for out in resampler.resample(None):
                    if pos is None:
                        pos = 0
                    arr = take(out.to_ndarray().reshape(-1))
                    if len(arr):
                        buf.append(arr)
                        buffered += len(arr)
        except av.FFmpegError as err:
            raise MediaError(
                f"{path}: corrupt audio data ({err.__class__.__name__}: {err}); {_FIX}"
            ) from None
        if buf:
            cat = np.concatenate(buf)
            emitted += len(cat)
            yield cat
        decoded_end = (pos or 0) / sr
        if emitted == 0:
            raise MediaError(
                f"{path}: no audio samples decoded"
                + (f" in segment {s:.2f}–{e:.2f} s" if start is not None or end is not None else "")
                + f"; {_FIX}"
            )
        if declared is not None and not done:
            want = declared if e is None else min(e, declared)
            if decoded_end < want - max(_TRUNC_ABS_S, _TRUNC_REL * want):
                raise MediaError(
                    f"{path}: truncated audio (decoded {decoded_end:.2f} s of {declared:.2f} s "
                    f"declared in the header); {_FIX}"
                )


def load_audio(
    path: str | os.PathLike,
    *,
    sr: int = SAMPLE_RATE,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Decode a (segment of a) file to one (n,) float32 mono array at ``sr`` Hz.

    See :func:`iter_audio` for arguments and errors.
    """
    chunks = list(iter_audio(path, sr=sr, start=start, end=end))
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def table_image(utt) -> np.ndarray:
    """An image stored inside a table file (e.g. a FER2013 csv row).

    The corpus that loaded ``utt`` names its reader in ``utt.meta["image_reader"]`` as
    ``"module:function"`` (a plug-in reference, like an entry point), so reading media never
    depends on the corpus registry.
    """
    import importlib

    ref = (utt.meta or {}).get("image_reader")
    if not ref or ":" not in str(ref):
        raise MediaError(f"{utt.id}: its media {utt.media} is a table and the corpus named no "
                         "image reader (meta['image_reader'] = 'module:function')")
    mod, fn = str(ref).split(":", 1)
    return np.asarray(getattr(importlib.import_module(mod), fn)(utt))


def load_image(path: str | os.PathLike, *, gray: bool = False) -> np.ndarray:
    """Read an image file as (H, W, 3) RGB uint8, or (H, W) grey with ``gray=True``."""
    import cv2

    path = Path(path)
    _check_file(path)
    data = np.fromfile(path, dtype=np.uint8)  # imdecode: works with non-ASCII paths too
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        # OpenCV reads 8/16-bit, grey, palette, alpha and CMYK files (EXIF orientation applied);
        # Pillow covers what it refuses, e.g. 32-bit float or integer TIFFs
        rgb = _load_image_pil(path)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if gray else rgb
    return img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _load_image_pil(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB via Pillow, float/32-bit images scaled to 0–255; one clear error."""
    try:
        from PIL import Image, ImageOps

        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("F", "I", "I;16", "I;16B", "I;16L"):
                a = np.asarray(im, dtype=np.float64)
                if not np.isfinite(a).all():
                    raise MediaError(f"{path}: image has NaN/inf pixel values; re-export it as "
                                     "8-bit PNG or JPEG")
                top = 1.0 if im.mode == "F" and a.max() <= 1.0 else \
                    255.0 if a.max() <= 255 else 65535.0 if a.max() <= 65535 else a.max()
                a = np.clip(a / top * 255.0, 0, 255).astype(np.uint8)
                return np.repeat(a[:, :, None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except MediaError:
        raise
    except Exception as e:  # Pillow's UnidentifiedImageError, DecompressionBombError, OSError
        raise MediaError(f"{path}: cannot decode image ({type(e).__name__}: {e}); re-export it "
                         "as 8-bit PNG or JPEG") from None


def iter_frames(
    path: str | os.PathLike,
    *,
    fps: float = 5.0,
    start: float | None = None,
    end: float | None = None,
    gray: bool = False,
    max_side: int | None = None,
) -> Iterator[Frame]:
    """Sample frames at ``fps`` from a video (or yield an image once).

    A frame is yielded when its timestamp reaches the next sampling instant
    ``start + k / fps``; decoding is sequential (H.264 cannot skip), conversion and scaling
    happen only for sampled frames.

    Args:
        path: video container or image file.
        fps: sampling rate in frames per second; ``0`` or ``None`` keeps every frame.
        start, end: segment in seconds.
        gray: (H, W) luma instead of (H, W, 3) RGB.
        max_side: downscale so that the longer side is at most this many pixels.

    Yields:
        Frame: ``t`` (seconds) and ``image`` uint8.

    Raises:
        MediaError: no video track, corrupt or truncated data, no frame in the segment.
    """
    import av

    path = Path(path)
    s, e = _check_span(path, start, end)
    if is_image(path):
        img = load_image(path, gray=gray)
        yield Frame(0.0, _fit(img, max_side))
        return
    with _open(path) as c:
        if not c.streams.video:
            raise MediaError(f"{path}: has no video track; vision features need a video or image")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        declared = _declared_duration(c, stream)
        if s > 1.0:
            try:
                c.seek(int(max(s - 0.1, 0) / stream.time_base), stream=stream, backward=True)
            except av.FFmpegError:
                c.seek(0, stream=stream)
        step = 1.0 / fps if fps else 0.0
        nxt = s
        n = 0
        last_t = 0.0
        fmt = "gray" if gray else "rgb24"
        eps = 1e-4
        try:
            for frame in c.decode(stream):
                t = float(frame.pts * frame.time_base) if frame.pts is not None else last_t
                last_t = t
                if e is not None and t >= e:
                    break
                if t + eps < nxt:
                    continue
                w, h = frame.width, frame.height
                if max_side and max(w, h) > max_side:
                    k = max_side / max(w, h)
                    # even sizes keep swscale's chroma handling exact
                    img = frame.to_ndarray(format=fmt, width=max(2, int(w * k) // 2 * 2),
                                           height=max(2, int(h * k) // 2 * 2))
                else:
                    img = frame.to_ndarray(format=fmt)
                yield Frame(t, upright(img, getattr(frame, "rotation", 0) or 0))
                n += 1
                # next instant after t, not nxt + step: a variable-rate file never bursts
                nxt = nxt + step * (int((t - nxt) / step) + 1) if step else t + eps
        except av.FFmpegError as err:
            raise MediaError(
                f"{path}: corrupt video data ({err.__class__.__name__}: {err}); {_FIX}"
            ) from None
        if n == 0:
            raise MediaError(
                f"{path}: no video frame decoded"
                + (f" in segment {s:.2f}–{e:.2f} s" if start is not None or end is not None else "")
            )
        if declared is not None and (e is None or e > last_t):
            want = declared if e is None else min(e, declared)
            # the last frame starts one frame period before the end
            period = 1.0 / float(stream.average_rate) if stream.average_rate else 0.1
            if last_t + period < want - max(_TRUNC_ABS_S, _TRUNC_REL * want):
                raise MediaError(
                    f"{path}: truncated video (decoded up to {last_t:.2f} s of {declared:.2f} s "
                    f"declared in the header); {_FIX}"
                )


def upright(img: np.ndarray, rotation: float) -> np.ndarray:
    """Turn a decoded frame upright from its display-matrix rotation (degrees counter-clockwise,
    as PyAV's ``VideoFrame.rotation`` and ffprobe's ``rotation`` report it; phones store
    portrait video as landscape pixels plus this rotation). Rounded to a multiple of 90°, the
    same turn ffmpeg's autorotate applies."""
    k = int(round(float(rotation) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def _fit(img: np.ndarray, max_side: int | None) -> np.ndarray:
    if not max_side or max(img.shape[:2]) <= max_side:
        return img
    import cv2

    k = max_side / max(img.shape[:2])
    return cv2.resize(img, (max(1, round(img.shape[1] * k)), max(1, round(img.shape[0] * k))),
                      interpolation=cv2.INTER_AREA)
