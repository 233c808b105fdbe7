"""Input discovery for ``affect analyze``: what each path is, and how to read text inputs."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from affectkit.data.base import AUDIO_EXTS as AUDIO
from affectkit.data.base import VIDEO_EXTS as VIDEO
from affectkit.errors import MediaError
from affectkit.media import IMAGE_EXTS as IMAGE
TEXT = (".txt",)
TABLE = (".csv", ".jsonl")
SUPPORTED = VIDEO + AUDIO + IMAGE + TEXT + TABLE


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # "video" | "audio" | "image" | "text" | "conversation"


def kind_of(path: Path) -> str:
    ext = path.suffix.lower()
    for kind, exts in (("video", VIDEO), ("audio", AUDIO), ("image", IMAGE), ("text", TEXT),
                       ("conversation", TABLE)):
        if ext in exts:
            return kind
    raise MediaError(
        f"{path}: unsupported format {ext or '(no extension)'}; supported: "
        f"video {', '.join(VIDEO)}; audio {', '.join(AUDIO)}; images {', '.join(IMAGE)}; "
        f"text .txt (one utterance per line), .csv/.jsonl (speaker,text columns)"
    )


def discover(paths: list[str | Path]) -> tuple[list[InputFile], list[tuple[Path, str]]]:
    """Expand directories recursively. Returns (inputs, problems) — a missing path or an
    unsupported file named explicitly is a problem; unsupported files found while walking a
    directory are reported too (never silently skipped)."""
    found: list[InputFile] = []
    problems: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if not p.exists():
            problems.append((p, "no such file or directory"))
            continue
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
        for f in files:
            if p.is_dir() and (f.name.startswith(".") or f.suffix.lower() in (".md", ".sh")):
                continue  # hidden files, docs and scripts beside the media are not inputs
            try:
                found.append(InputFile(f, kind_of(f)))
            except MediaError as e:
                problems.append((f, str(e)))
    return found, problems


@dataclass
class TextTurn:
    text: str
    speaker: str | None = None


def _read_utf8(path: Path) -> str:
    """The file as UTF-8 text (a BOM is dropped), or one clear error naming the fix."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MediaError(
            f"{path}: not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
            "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`"
        ) from None


def read_text_input(path: Path) -> list[TextTurn]:
    """``.txt``: one utterance per line (blank lines ignored). ``.csv``/``.jsonl``: a ``text``
    column (also ``utterance``/``Utterance``) and an optional ``speaker`` column. Files must be
    UTF-8 (a clear error otherwise)."""
    ext = path.suffix.lower()
    if ext == ".txt":
        lines = _read_utf8(path).splitlines()
        turns = [TextTurn(x.strip()) for x in lines if x.strip()]
    else:
        import pandas as pd

        try:
            if ext == ".csv":
                df = pd.read_csv(io.StringIO(_read_utf8(path)), dtype=str,
                                 keep_default_na=False)
            else:
                df = pd.DataFrame([json.loads(x) for x in _read_utf8(path).splitlines()
                                   if x.strip()])
        except MediaError:
            raise
        except Exception as e:  # pandas/json raise many types
            raise MediaError(f"{path}: cannot parse as {ext[1:]}: {e}") from e
        cols = {c.lower(): c for c in df.columns}
        tcol = cols.get("text") or cols.get("utterance")
        if tcol is None:
            raise MediaError(
                f"{path}: no 'text' column (found: {', '.join(df.columns) or 'none'}); "
                "a conversation file needs columns speaker,text"
            )
        scol = cols.get("speaker")
        turns = [
            TextTurn(str(r[tcol]).strip(), (str(r[scol]).strip() or None) if scol else None)
            for r in df.to_dict("records") if str(r[tcol]).strip()
        ]
    if not turns:
        raise MediaError(f"{path}: empty (no non-blank utterances)")
    return turns
