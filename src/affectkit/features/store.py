"""FeatureStore: an on-disk, content-addressed cache of extracted features.

Layout (one ``.npy`` per item and extractor configuration; no pickle anywhere)::

    <root>/<extractor name>/<signature>/signature.json        what produced this folder
    <root>/<extractor name>/<signature>/<ab>/<id slug>-<id hash>-<content hash>.npy
    <root>/failures.jsonl                                      one JSON record per failure

* **Keys.** The folder is the extractor's :meth:`~FeatureExtractor.signature` (name, parameters,
  version, model version); the file name combines the utterance id with a hash of the *content*
  the extractor reads: the text, or the media file's bytes plus the [start, end) span. Edit a
  transcript or re-encode a clip and its features are recomputed; rename nothing else.
* **Content hash of files.** Files up to 8 MiB (every clip in the shared corpora) are hashed in
  full (BLAKE2b). Larger files hash their size and the first, middle and last MiB, so a
  multi-GB recording costs three reads. The modification time is deliberately *not* part of
  the hash: copying or touching a corpus keeps its cache valid. (A large file changed only
  outside the sampled MiBs without changing size would be missed; media re-encodes change the
  headers and size.) Digests are memoised per process by (path, size, mtime).
* **Atomic, concurrent-safe writes.** Each array is written to a temporary file in the target
  folder and moved into place with :func:`os.replace`, so readers see either nothing or a
  complete file. Two processes computing the same item both write identical bytes; the last
  rename wins. A run killed with ``kill -9`` leaves at most temporary files (cleaned by
  :meth:`FeatureStore.clean_tmp`), never a partial ``.npy``, so re-running computes exactly the
  items that are missing.

The root is ``--cache DIR`` / ``root=``, else ``$AFFECTKIT_CACHE``, else the user cache folder
(``platformdirs.user_cache_dir("affectkit")/features``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.errors import FeatureError
from affectkit.features.base import FeatureExtractor, get_extractor
from affectkit.types import Modality, Utterance

FULL_HASH_MAX = 8 << 20
SAMPLE = 1 << 20
_digests: dict[tuple[str, int, int], str] = {}


def default_root() -> Path:
    env = os.environ.get("AFFECTKIT_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("affectkit")) / "features"


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b-128 hex of a file's content (sampled above 8 MiB; see the module docstring)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise FeatureError(f"{p}: cannot read ({e.strerror or e})") from None
    memo = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo in _digests:
        return _digests[memo]
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        if st.st_size <= FULL_HASH_MAX:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        else:
            h.update(b"sampled:%d:" % st.st_size)
            for off in (0, st.st_size // 2 - SAMPLE // 2, st.st_size - SAMPLE):
                f.seek(off)
                h.update(f.read(SAMPLE))
    d = h.hexdigest()
    _digests[memo] = d
    return d


def content_digest(extractor: FeatureExtractor, utt: Utterance) -> str:
    """Hash of what ``extractor`` reads from ``utt`` (text, or file bytes + span)."""
    src = extractor.source(utt)
    if extractor.modality is Modality.TEXT:
        return hashlib.blake2b(str(src).encode("utf-8"), digest_size=16).hexdigest()
    span = f"|{utt.start!r}|{utt.end!r}".encode()
    if Path(src).suffix.lower() == ".csv":  # one row of a table (FER2013 csv): name the row
        span += f"|{utt.meta.get('row')!r}|{utt.meta.get('offset')!r}".encode()
    return hashlib.blake2b(file_digest(src).encode() + span, digest_size=16).hexdigest()


_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ItemKey:
    """Where one (extractor configuration, utterance content) lives in the store."""

    signature: str
    item_id: str
    content: str

    @property
    def filename(self) -> str:
        idh = hashlib.blake2b(self.item_id.encode("utf-8"), digest_size=4).hexdigest()
        slug = _SLUG.sub("_", self.item_id)[-60:].strip("_") or "item"
        return f"{slug}-{idh}-{self.content[:16]}.npy"

    @property
    def shard(self) -> str:
        return hashlib.blake2b(self.item_id.encode("utf-8"), digest_size=1).hexdigest()


class FeatureStore:
    """Content-addressed feature cache.

    >>> store = FeatureStore("/tmp/cache")                          # doctest: +SKIP
    >>> store.get("audio.logmel", utterance).shape                   # doctest: +SKIP
    (331, 64)
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._sig_written: set[str] = set()

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"

    # -- keys and paths ---------------------------------------------------------------------
    def key(self, extractor: str | FeatureExtractor, utt: Utterance) -> ItemKey:
        ext = get_extractor(extractor)
        return ItemKey(ext.signature(), utt.id, content_digest(ext, utt))

    def folder(self, extractor: str | FeatureExtractor) -> Path:
        ext = get_extractor(extractor)
        return self.root / ext.name / ext.signature()

    def path(self, extractor: str | FeatureExtractor, utt: Utterance,
             key: ItemKey | None = None) -> Path:
        ext = get_extractor(extractor)
        key = key or self.key(ext, utt)
        return self.root / ext.name / key.signature / key.shard / key.filename

    # -- read ------------------------------------------------------------------------------
    def has(self, extractor: str | FeatureExtractor, utt: Utterance) -> bool:
        return self.path(extractor, utt).exists()

    def get(self, extractor: str | FeatureExtractor, utt: Utterance, *,
            mmap: bool = False) -> np.ndarray:
        """The cached array for ``utt``.

        Raises:
            FeatureError: not in the store (with the command that computes it).
        """
        ext = get_extractor(extractor)
        p = self.path(ext, utt)
        try:
            return np.load(p, allow_pickle=False, mmap_mode="r" if mmap else None)
        except FileNotFoundError:
            raise FeatureError(
                f"no cached {ext.name} features for {utt.id} in {self.root}; compute them with "
                f"`affect extract {utt.corpus} --features {ext.name} --cache {self.root}` "
                "(or affectkit.features.extract)"
            ) from None
        except ValueError as e:  # a foreign/corrupt file: never unpickle
            raise FeatureError(f"{p}: unreadable feature file ({e}); delete it and re-extract") from None

    # -- write -----------------------------------------------------------------------------
    def put(self, extractor: str | FeatureExtractor, utt: Utterance, array: np.ndarray,
            key: ItemKey | None = None) -> Path:
        """Validate ``array`` against the extractor's declaration and store it atomically."""
        ext = get_extractor(extractor)
        arr = ext.validate(array, utt.id)
        p = self.path(ext, utt, key)
        self._write_signature(ext)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.{os.getpid()}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return p

    def _write_signature(self, ext: FeatureExtractor) -> None:
        sig = ext.signature()
        if sig in self._sig_written:
            return
        folder = self.root / ext.name / sig
        target = folder / "signature.json"
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            info = ext.describe()
            info.update(signature=sig, model_version=ext.model_version,
                        feature_names=_names_or_none(ext))
            fd, tmp = tempfile.mkstemp(prefix=".signature.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(info, f, indent=2, default=str)
            os.replace(tmp, target)
        self._sig_written.add(sig)

    # -- failures --------------------------------------------------------------------------
    @property
    def failures_path(self) -> Path:
        return self.root / "failures.jsonl"

    def record_failures(self, records: list[dict[str, Any]]) -> None:
        """Append failure records (one JSON line each; O_APPEND keeps concurrent lines whole)."""
        if not records:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        fd = os.open(self.failures_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data.encode("utf-8"))
        finally:
            os.close(fd)

    def failures(self) -> list[dict[str, Any]]:
        if not self.failures_path.exists():
            return []
        out = []
        for line in self.failures_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
        return out

    # -- housekeeping ----------------------------------------------------------------------
    def clean_tmp(self, older_than_s: float = 600.0) -> int:
        """Remove temporary files left by killed writers (dead pid, or older than the limit)."""
        if not self.root.exists():
            return 0
        n = 0
        now = time.time()
        for p in self.root.rglob(".*.tmp"):
            m = re.search(r"\.(\d+)\.[A-Za-z0-9_]+\.tmp$", p.name)
            dead = False
            if m:
                try:
                    os.kill(int(m.group(1)), 0)
                except ProcessLookupError:
                    dead = True
                except (PermissionError, OverflowError):
                    pass
            try:
                if dead or now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n

    def count(self, extractor: str | FeatureExtractor) -> int:
        folder = self.folder(extractor)
        return sum(1 for _ in folder.glob("*/*.npy")) if folder.exists() else 0


def _names_or_none(ext: FeatureExtractor) -> list[str] | None:
    try:
        return ext.feature_names
    except Exception:  # optional dependency missing: names unknown, not an error here
        return None
