"""Helpers shared by the speech-corpus loaders (not a corpus: the leading underscore keeps the
registry's auto-discovery from importing it as one).

Loaders never decode audio: they list files and parse names, so loading a corpus of thousands
of clips takes milliseconds and works on any audio format in :data:`AUDIO_EXTS`.
"""

from __future__ import annotations

from pathlib import Path

from affectkit.data.base import AUDIO_EXTS

# Archive debris that is never an item: macOS resource forks (``__MACOSX/``, ``._x.wav``),
# editor/OS files. Skipped explicitly rather than reported, because they are not data.
_JUNK_DIRS = {"__MACOSX", ".git", ".ipynb_checkpoints"}


def is_junk(p: Path, root: Path) -> bool:
    """True for hidden files/folders and archive debris under ``root``."""
    rel = p.relative_to(root).parts
    return any(part in _JUNK_DIRS or part.startswith(".") for part in rel)


def audio_files(root: Path, exts: tuple[str, ...] = AUDIO_EXTS) -> list[Path]:
    """Audio files under ``root`` at any depth, sorted.

    Non-audio files (READMEs, rating tables, spectrogram images) are ignored on purpose: a
    corpus folder routinely ships documentation next to the clips, and those are not items.
    """
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in exts and p.is_file() and not is_junk(p, root)
    )


def find_audio(folder: Path, stem: str, exts: tuple[str, ...] = AUDIO_EXTS) -> Path | None:
    """The file ``folder/stem.<ext>`` for the first existing audio extension, else ``None``.

    Used where a metadata table names ``x.wav`` but the copy on disk may be ``x.opus``.
    """
    for ext in exts:
        cand = folder / f"{stem}{ext}"
        if cand.is_file():
            return cand
    # Case-insensitive fallback (".WAV" on archives made on Windows).
    for ext in exts:
        cand = folder / f"{stem}{ext.upper()}"
        if cand.is_file():
            return cand
    return None
