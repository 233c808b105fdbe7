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
    #: the file's own turn number and utterance id, when it has such columns
    turn: float | None = None
    uid: str | None = None
    #: its line in the file (CSV: the header is line 1), named in warnings and errors
    row: int | None = None


#: optional columns of a conversation table (lower-cased names)
TURN_COLUMNS = ("turn", "turn_id", "turn_number", "turn_index")
ID_COLUMNS = ("id", "utterance_id", "utt_id")


def _read_utf8(path: Path) -> str:
    """The file as UTF-8 text (a BOM is dropped), or one clear error naming the fix."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise MediaError(
            f"{path}: not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
            "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`"
        ) from None


def read_text_input(path: Path, warnings: list[str] | None = None) -> list[TextTurn]:
    """``.txt``: one utterance per line (blank lines ignored). ``.csv``/``.jsonl``: a ``text``
    column (also ``utterance``/``Utterance``), optional ``speaker``, ``turn`` (also
    ``turn_id``…) and ``id`` (also ``utterance_id``) columns. Files must be UTF-8 (a clear
    error otherwise). Turn numbers and ids are checked (:func:`order_turns`); what was
    repaired is appended to ``warnings``."""
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
                numbered = [(k + 1, x) for k, x in enumerate(_read_utf8(path).splitlines())
                            if x.strip()]
                records = []
                for line, x in numbered:
                    try:
                        records.append(json.loads(x))
                    except ValueError as e:
                        raise MediaError(f"{path}: line {line} is not JSON ({e}); a .jsonl "
                                         "conversation has one JSON object per line") from None
                df = pd.DataFrame(records)
        except MediaError:
            raise
        except Exception as e:  # pandas/json raise many types
            raise MediaError(f"{path}: cannot parse as {ext[1:]}: {e}") from e
        cols = {c.lower(): c for c in df.columns}
        tcol = cols.get("text") or cols.get("utterance")
        if tcol is None:
            raise MediaError(
                f"{path}: no 'text' column (found: {', '.join(map(str, df.columns)) or 'none'}); "
                "name the column that holds the utterances 'text' (or 'utterance'); "
                "'speaker', 'turn' and 'id' columns are optional"
            )
        scol = cols.get("speaker")
        ncol = next((cols[c] for c in TURN_COLUMNS if c in cols), None)
        icol = next((cols[c] for c in ID_COLUMNS if c in cols), None)
        # where a row is in the file: JSONL its line; CSV its line with the header as line 1
        # (as a spreadsheet numbers it; a quoted field spanning lines shifts it)
        lines = [ln for ln, _ in numbered] if ext == ".jsonl" else None
        turns, blank = [], []
        for k, r in enumerate(df.to_dict("records")):
            row = lines[k] if lines is not None else k + 2
            text = _cell(r[tcol])
            if not text:
                blank.append(str(row))
                continue
            turns.append(TextTurn(
                text, (_cell(r[scol]) or None) if scol else None,
                _turn_number(r[ncol], path, row, ncol) if ncol else None,
                (_cell(r[icol]) or None) if icol else None, row))
        if turns and blank and warnings is not None:
            warnings.append(f"{len(blank)} row(s) with an empty '{tcol}' skipped (line "
                            f"{_first(blank)})")
        if turns:
            turns = order_turns(turns, path, warnings)
    if not turns:
        raise MediaError(f"{path}: empty (no non-blank utterances)")
    return turns


def _cell(v) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()


def _turn_number(v, path: Path, row: int, col: str) -> float:
    s = _cell(v)
    try:
        x = float(s)
        if x != x or x in (float("inf"), float("-inf")):
            raise ValueError
        return x
    except ValueError:
        raise MediaError(
            f"{path}: line {row}: {col} {s!r} is not a number; give every utterance a "
            f"numeric {col} (or drop the {col} column to keep the file's order)") from None


def order_turns(turns: list[TextTurn], path: Path | str,
                warnings: list[str] | None = None) -> list[TextTurn]:
    """Check a conversation's turn numbers and ids; never silent.

    * an utterance id on two rows: exact repeats (same id, speaker, text and turn) are dropped
      with a warning; different utterances sharing an id are an error naming both rows;
    * two rows with the same turn number: an error (the order is ambiguous);
    * turn numbers out of order: the rows are re-sorted by turn (stable) with a warning naming
      the rows that were out of place.
    """
    warnings = warnings if warnings is not None else []
    seen: dict[str, TextTurn] = {}
    kept, repeats = [], []
    for t in turns:
        if t.uid is not None and t.uid in seen:
            first = seen[t.uid]
            if (first.text, first.speaker, first.turn) == (t.text, t.speaker, t.turn):
                repeats.append(f"{t.row} (= line {first.row})")
                continue
            raise MediaError(
                f"{path}: lines {first.row} and {t.row} have the same id {t.uid!r} but "
                "different utterances; give each utterance its own id (or drop the id column)")
        if t.uid is not None:
            seen[t.uid] = t
        kept.append(t)
    if repeats:
        warnings.append(f"{len(repeats)} repeated line(s) dropped (same id, speaker, text "
                        f"and turn as an earlier one): line {_first(repeats)}")
    if all(t.turn is None for t in kept):
        return kept
    by_turn: dict[float, TextTurn] = {}
    for t in kept:
        if t.turn in by_turn:
            raise MediaError(
                f"{path}: lines {by_turn[t.turn].row} and {t.row} both have turn "
                f"{_num(t.turn)}, so their order is ambiguous; number the turns uniquely (or "
                "drop the turn column to keep the file's order)")
        by_turn[t.turn] = t  # type: ignore[index]
    late, top = [], None
    for t in kept:
        if top is not None and t.turn < top.turn:  # type: ignore[operator]
            late.append(f"{t.row} (turn {_num(t.turn)} after turn {_num(top.turn)})")
        if top is None or t.turn > top.turn:  # type: ignore[operator]
            top = t
    if late:
        warnings.append(f"turn numbers out of order, utterances re-sorted by turn: line "
                        f"{_first(late)}")
        kept = sorted(kept, key=lambda t: t.turn)  # type: ignore[arg-type, return-value]
    return kept


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


def _first(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
