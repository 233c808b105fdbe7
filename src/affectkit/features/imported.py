"""Researchers' feature files: MMSA's ``aligned_50.pkl`` / ``unaligned_50.pkl`` and MulT's
``*_data.pkl`` / ``*_data_noalign.pkl``, read once into the
:class:`~affectkit.features.FeatureStore`.

Layouts (as read by the releasing repositories' own loaders, thuiar/MMSA ``data_loader.py`` and
yaohungt/Multimodal-Transformer ``src/dataset.py``):

* **MMSA** — ``{split: {...}}`` with splits ``train``/``valid``/``test``; per split ``text``
  (N, T, D) (BERT or GloVe states), ``audio`` (N, Ta, Da), ``vision`` (N, Tv, Dv),
  ``regression_labels`` (N,), ``id`` (N,) strings ``"<video>$_$<clip>"``, ``raw_text`` (N,),
  optionally ``text_bert`` (N, 3, T) (token ids, attention mask, segment ids),
  ``audio_lengths`` / ``vision_lengths`` (unaligned files), ``classification_labels``,
  ``annotations``. Audio may hold ``-inf`` (MMSA's loader sets it to 0; so do we, and count it).
* **MulT** — ``{split: {'text', 'audio', 'vision', 'labels', 'id'}}``; sequences are zero-padded
  with no lengths; ``labels`` is (N, 1, 1) sentiment for MOSI/MOSEI and (N, 4, 2) for IEMOCAP
  (neutral, happy, sad, angry; one-hot "no/yes" per emotion); ``id`` rows are byte strings whose
  first field is the video.

Valid frames: MMSA lengths when given (``text_bert`` mask for text), otherwise the span from the
first to the last frame that is not all zeros (covers pre- and post-padding).

**Pickle can execute code.** Both formats are Python pickles, and unpickling a file runs
whatever constructors it names. Nothing here loads one without an explicit
``allow_pickle=True`` / ``--allow-pickle``, and even then a restricted unpickler admits only
NumPy arrays, dtypes and builtin containers, refusing every other global.

Importing writes, under ``<store root>/imported/<name>/``, a ``manifest.json`` (ids, splits,
labels, text, speakers, dims, the source file's digest) and puts every sequence in the store
under extractors ``text.<name>``, ``audio.<name>``, ``vision.<name>``; a corpus ``<name>`` reads
the manifest, so ``affect train`` works with ``data: {corpus: <name>, root: <that folder>,
split: official}`` and ``features: {text: text.<name>, ...}``. These names are registered when
this module is imported (the ``affect`` CLI imports it; from Python, ``import
affectkit.features.imported`` first; `affect` and experiments do).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.errors import ConfigError, DataError, FeatureError
from affectkit.types import LabelSpace, Modality, Utterance

FORMATS = ("mmsa", "mult")
SPLITS = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "test": "test"}
MULT_IEMOCAP_EMOTIONS = ("neutral", "happy", "sad", "angry")
PICKLE_WARNING = (
    "is a Python pickle, and unpickling can execute arbitrary code named inside the file, so it is "
    "refused unless you "
    "pass --allow-pickle (allow_pickle=True) for a file you trust (e.g. the official MMSA/MulT "
    "release). Even then only NumPy arrays and builtin containers are admitted."
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --- safe(r) unpickling ---------------------------------------------------------------------

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "complex"), ("builtins", "slice"), ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused global {module}.{name}: only NumPy arrays and builtin containers are "
            "allowed in a feature file"
        )


def load_pickle(path: str | Path, *, allow_pickle: bool) -> Any:
    """Unpickle ``path`` with the restricted unpickler (only if ``allow_pickle``).

    Raises:
        ConfigError: ``allow_pickle`` is False (the message says why).
        DataError: unreadable, not a pickle, or it names a refused global.
    """
    path = Path(path)
    if not allow_pickle:
        raise ConfigError(f"{path} {PICKLE_WARNING}")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    last: Exception | None = None
    for enc in ("ASCII", "latin1"):  # latin1: pickles written by Python 2 (NumPy buffers)
        try:
            return _RestrictedUnpickler(io.BytesIO(raw), encoding=enc).load()
        except UnicodeDecodeError as e:
            last = e
        except pickle.UnpicklingError as e:
            if "refused global" in str(e):
                raise DataError(f"{path}: {e}") from None
            last = e
        except (EOFError, ValueError, TypeError, AttributeError, ImportError) as e:
            last = e
    raise DataError(f"{path}: not a readable feature pickle ({type(last).__name__}: {last})")


# --- reading --------------------------------------------------------------------------------


@dataclass
class ImportedItem:
    """One segment of a feature file.

    Attributes:
        local_id: ``<video>_<clip>`` (MMSA) or the id fields joined (MulT).
        split: train/valid/test.
        video: the recording (speaker proxy in CMU corpora).
        features: per modality, (T, D) float32 valid frames only.
        sentiment: score (MOSI/MOSEI), ``None`` otherwise.
        emotion: IEMOCAP 4-class label (MulT), ``None`` otherwise.
        text: raw transcript when the file has one.
    """

    local_id: str
    split: str
    video: str
    features: dict[Modality, np.ndarray]
    sentiment: float | None = None
    emotion: str | None = None
    text: str | None = None


@dataclass
class FeatureFile:
    path: Path
    format: str
    items: list[ImportedItem]
    dims: dict[Modality, int]
    issues: list[Issue] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    @property
    def label_kind(self) -> str:
        return "emotion" if any(i.emotion for i in self.items) else "sentiment"

    def summary(self) -> dict:
        return {
            "file": str(self.path), "format": self.format, "items": len(self.items),
            "by_split": dict(Counter(i.split for i in self.items)),
            "dims": {str(m): d for m, d in self.dims.items()},
            "label": self.label_kind, "notes": dict(self.notes),
            "issues": [str(i) for i in self.issues[:20]], "n_issues": len(self.issues),
        }


def _text(v: Any) -> str:
    if isinstance(v, bytes | np.bytes_):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _text(v.item())
    return str(v)


def _span_nonzero(a: np.ndarray) -> tuple[int, int]:
    """[first, last+1) of the rows that are not all zero; (0, 0) if none."""
    nz = np.flatnonzero(np.abs(a).sum(axis=1) > 0)
    return (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)


def _array(part: dict, key: str, where: str) -> np.ndarray:
    if key not in part:
        raise DataError(f"{where}: key {key!r} missing (has {sorted(part)})")
    return np.asarray(part[key])


def read_feature_file(path: str | Path, format: str, *, allow_pickle: bool = False) -> FeatureFile:
    """Read an MMSA or MulT feature pickle (see the module docstring for the layouts).

    Items with a problem (non-finite label, no valid frame in some modality, unknown emotion
    coding) are reported in ``issues`` and left out; ``notes`` counts repairs (``-inf`` → 0).

    Raises:
        ConfigError: unknown ``format`` or ``allow_pickle`` is False.
        DataError: not the expected layout (names the key and split).
    """
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    data = load_pickle(path, allow_pickle=allow_pickle)
    if not isinstance(data, dict):
        raise DataError(f"{path}: top level is a {type(data).__name__}, expected a dict of splits "
                        f"(train/valid/test) as in the {format.upper()} release")
    splits = [s for s in data if str(s) in SPLITS]
    if not splits:
        raise DataError(f"{path}: no train/valid/test splits at the top level (keys: "
                        f"{sorted(map(str, data))[:10]})")
    items: list[ImportedItem] = []
    issues: list[Issue] = []
    notes: Counter = Counter()
    dims: dict[Modality, int] = {}
    seen: set[str] = set()
    for s in splits:
        part = data[s]
        where = f"{path.name}[{s!r}]"
        if not isinstance(part, dict):
            raise DataError(f"{where}: expected a dict of arrays, got {type(part).__name__}")
        arrays = {}
        for m in Modality:
            a = _array(part, m.value, where)
            if a.ndim != 3:
                raise DataError(f"{where}[{m.value!r}]: shape {a.shape}, expected (N, T, D)")
            arrays[m] = a
        n = len(arrays[Modality.TEXT])
        for m, a in arrays.items():
            if len(a) != n:
                raise DataError(f"{where}[{m.value!r}] has {len(a)} rows, text has {n}")
            if m in dims and dims[m] != a.shape[2]:
                raise DataError(f"{where}[{m.value!r}]: dim {a.shape[2]} ≠ {dims[m]} in another split")
            dims[m] = int(a.shape[2])
        lengths = _lengths(part, arrays, format, where, n)
        labels = _labels(part, format, where, n)
        ids = _ids(part, format, s, n)
        raw_text = part.get("raw_text") if format == "mmsa" else None
        for i in range(n):
            local, video = ids[i]
            loc = f"{where}[{i}] ({local})"
            if local in seen:
                issues.append(Issue(loc, "duplicate id", "id"))
                continue
            sent, emo, bad = labels[i]
            if bad:
                issues.append(Issue(loc, bad, "labels"))
                continue
            feats, problem = {}, None
            for m, a in arrays.items():
                lo, hi = lengths[m][i]
                x = np.asarray(a[i, lo:hi], dtype=np.float32)
                nonfinite = ~np.isfinite(x)
                if nonfinite.any():
                    notes[f"{m.value}: non-finite values set to 0 (as MMSA's loader does)"] += int(nonfinite.sum())
                    x = np.where(nonfinite, 0.0, x).astype(np.float32)
                if hi <= lo:
                    problem = f"no valid {m.value} frame"
                    break
                feats[m] = np.ascontiguousarray(x)
            if problem:
                issues.append(Issue(loc, problem, m.value))
                continue
            seen.add(local)
            text = _text(raw_text[i]).strip() if raw_text is not None else None
            items.append(ImportedItem(local, SPLITS[str(s)], video, feats, sent, emo, text or None))
    if not items:
        raise DataError(f"{path}: no usable item ({len(issues)} issues, first: "
                        f"{issues[0] if issues else '-'})")
    return FeatureFile(path, format, items, dims, issues, notes)


def _lengths(part, arrays, format, where, n) -> dict[Modality, list[tuple[int, int]]]:
    out: dict[Modality, list[tuple[int, int]]] = {}
    text_len = None
    if format == "mmsa" and "text_bert" in part:
        tb = np.asarray(part["text_bert"])
        if tb.ndim == 3 and tb.shape[1] == 3:
            text_len = tb[:, 1, :].sum(axis=1).astype(int)  # attention mask
    for m, a in arrays.items():
        given = None
        if format == "mmsa":
            if m is Modality.TEXT:
                given = text_len
            elif f"{m.value}_lengths" in part:
                given = np.asarray(part[f"{m.value}_lengths"]).reshape(-1).astype(int)
            elif text_len is not None and a.shape[1] == arrays[Modality.TEXT].shape[1]:
                given = text_len  # aligned files: audio/vision follow the word steps
        if given is not None:
            if len(given) != n:
                raise DataError(f"{where}: {m.value} lengths have {len(given)} rows, expected {n}")
            out[m] = [(0, int(min(max(L, 0), a.shape[1]))) for L in given]
        else:
            out[m] = [_span_nonzero(np.nan_to_num(a[i], neginf=0.0, posinf=0.0)) for i in range(n)]
    return out


def _labels(part, format, where, n) -> list[tuple[float | None, str | None, str | None]]:
    """(sentiment, emotion, problem) per item."""
    out = []
    if format == "mmsa":
        y = _array(part, "regression_labels", where).reshape(-1).astype(float)
        if len(y) != n:
            raise DataError(f"{where}['regression_labels'] has {len(y)} rows, expected {n}")
        for v in y:
            out.append((float(v), None, None) if np.isfinite(v) and abs(v) <= 3 + 1e-6
                       else (None, None, f"regression label {v!r} not a score in [-3, 3]"))
        return out
    y = _array(part, "labels", where)
    if len(y) != n:
        raise DataError(f"{where}['labels'] has {len(y)} rows, expected {n}")
    if y.ndim == 3 and y.shape[1:] == (4, 2):  # IEMOCAP: 4 emotions × one-hot (no, yes)
        for row in y:
            yes = [MULT_IEMOCAP_EMOTIONS[j] for j in range(4) if row[j].argmax() == 1]
            out.append((None, yes[0], None) if len(yes) == 1 else
                       (None, None, f"IEMOCAP label marks {len(yes)} emotions ({yes}); expected one"))
        return out
    flat = y.reshape(n, -1)
    if flat.shape[1] != 1:
        raise DataError(f"{where}['labels'] has shape {y.shape}; expected (N, 1, 1) sentiment or "
                        "(N, 4, 2) IEMOCAP emotions")
    for v in flat[:, 0].astype(float):
        out.append((float(v), None, None) if np.isfinite(v) and abs(v) <= 3 + 1e-6
                   else (None, None, f"label {v!r} not a score in [-3, 3]"))
    return out


def _ids(part, format, split, n) -> list[tuple[str, str]]:
    """(local id, video) per item."""
    if "id" not in part:
        return [(f"{split}_{i}", f"{split}_{i}") for i in range(n)]
    raw = np.asarray(part["id"], dtype=object)
    out = []
    for i in range(n):
        row = raw[i]
        if isinstance(row, np.ndarray) and row.ndim >= 1:
            fields = [_text(f).strip() for f in row.reshape(-1)]
        else:
            fields = [_text(row).strip()]
        if format == "mmsa" and len(fields) == 1 and "$_$" in fields[0]:
            video, _, clip = fields[0].partition("$_$")
            out.append((f"{video}_{clip}", video))
        else:
            local = "_".join(f for f in fields if f) or f"{split}_{i}"
            out.append((re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", local), fields[0] or local))
    return out


# --- the store side: extractors and a corpus per imported file -------------------------------


def imported_root(store_root: str | Path | None = None) -> Path:
    from affectkit.features.store import default_root

    return Path(store_root).expanduser() if store_root is not None else default_root()


def _make_extractor(name: str, modality: Modality, dim: int, manifest: Path, digest: str):
    from affectkit.features.base import FeatureExtractor

    class ImportedFeatures(FeatureExtractor):
        """Sequences imported from a feature file (no computation: read from the store)."""

        level = "frame"
        version = "1"
        description = f"imported {modality.value} sequences ({manifest.parent.name})"
        _ids: ClassVar[set[str] | None] = None

        def __init__(self) -> None:
            pass

        @property
        def dim(self) -> int:
            return dim

        @property
        def model_version(self) -> str:
            return digest  # the source file's content: a different file → a new signature

        def _known(self) -> set[str]:
            if type(self)._ids is None:
                m = json.loads(manifest.read_text(encoding="utf-8"))
                type(self)._ids = {it["id"] for it in m["items"]}
            return type(self)._ids

        def applies_to(self, utt: Utterance) -> bool:
            return utt.id in self._known()

        def source(self, utt: Utterance):
            # Content key: the manifest (the features are the file's; there is no media to hash).
            if not self.applies_to(utt):
                raise FeatureError(f"{utt.id}: not in the imported file {manifest.parent.name}")
            return manifest if modality is not Modality.TEXT else str(manifest)

        def process_utterance(self, utt: Utterance) -> np.ndarray:
            raise FeatureError(
                f"{self.name}: features of {utt.id} are imported, not computed; re-run "
                f"`affect data import-features` for {manifest.parent.name}"
            )

        def process_utterances(self, utts):
            return [self.process_utterance(u) for u in utts]

    ImportedFeatures.name = f"{modality.value}.{name}"
    ImportedFeatures.modality = modality
    ImportedFeatures.__name__ = f"Imported_{modality.value}_{name.replace('-', '_')}"
    return ImportedFeatures


def _make_corpus(name: str, manifest: Path):
    class ImportedCorpus(Corpus):
        """Segments of an imported feature file (labels, splits, text from its manifest)."""

        title = f"imported feature file {name}"
        modalities = (Modality.TEXT, Modality.AUDIO, Modality.VISION)
        layout = f"ROOT/manifest.json written by `affect data import-features` ({manifest})"
        shared_subdir = None
        official_split = True

        def scan(self) -> Iterator[Utterance | Issue]:
            mf = self.root / "manifest.json"
            if not mf.is_file():
                raise DataError(f"{self.title}: {mf} not found; expected layout: {self.layout}")
            m = json.loads(mf.read_text(encoding="utf-8"))
            for it in m["items"]:
                yield Utterance(id=it["id"], corpus=self.name, split=it["split"],
                                speaker=f"{self.name}/{it['video']}", text=it.get("text"),
                                sentiment=it.get("sentiment"), emotion=it.get("emotion"),
                                emotion_original=it.get("emotion"),
                                meta={"video": it["video"], "source": m["source"]})

    ImportedCorpus.name = name
    kind = json.loads(manifest.read_text(encoding="utf-8"))["label"]
    ImportedCorpus.label_space = LabelSpace(
        sentiment="continuous" if kind == "sentiment" else None,
        emotions=MULT_IEMOCAP_EMOTIONS if kind == "emotion" else ())
    ImportedCorpus.__name__ = f"Imported_{name.replace('-', '_')}"
    return ImportedCorpus


def register_imported(manifest: str | Path) -> list[str]:
    """Register the extractors and the corpus described by ``manifest`` (idempotent).

    Returns the extractor names.
    """
    from affectkit.features.base import EXTRACTORS

    manifest = Path(manifest)
    m = json.loads(manifest.read_text(encoding="utf-8"))
    name = m["name"]
    names = []
    for mod, dim in m["dims"].items():
        cls = _make_extractor(name, Modality.parse(mod), int(dim), manifest, m["digest"])
        key = cls.name.lower()
        EXTRACTORS._discover()
        EXTRACTORS._items[key] = cls  # re-import replaces the previous definition
        names.append(cls.name)
    CORPORA._discover()
    CORPORA._items[name] = _make_corpus(name, manifest)
    return names


def register_all(store_root: str | Path | None = None) -> list[str]:
    """Register every imported file found under ``<store root>/imported/``."""
    out = []
    try:
        root = imported_root(store_root) / "imported"
    except Exception:  # noqa: BLE001 - no cache folder resolvable: nothing imported
        return out
    for mf in sorted(root.glob("*/manifest.json")):
        try:
            out += register_imported(mf)
        except (OSError, ValueError, KeyError):
            continue  # a half-written or foreign manifest: ignored, re-import fixes it
    return out


@dataclass
class ImportReport:
    name: str
    folder: Path
    extractors: list[str]
    written: int
    summary: dict

    def config_snippet(self) -> str:
        kind = self.summary["label"]
        feats = ", ".join(f"{e.split('.', 1)[0]}: {e}" for e in self.extractors)
        return (f"data: {{corpus: {self.name}, root: {self.folder}, split: official, "
                f"label: {kind}}}\nfeatures: {{{feats}}}\ntask: {{kind: {kind}}}")


def file_sha(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def import_feature_file(path: str | Path, format: str, *, name: str, allow_pickle: bool = False,
                        store_root: str | Path | None = None, progress: bool = False) -> ImportReport:
    """Read a feature file and write it into the feature store (see the module docstring).

    Args:
        path: the ``.pkl`` file.
        format: ``"mmsa"`` or ``"mult"``.
        name: short name for the import (lower-case, ``[a-z0-9_-]``), e.g. ``mmsa-mosi``; it
            becomes the corpus name and the extractor suffix.
        allow_pickle: required (pickle can execute code; see :func:`load_pickle`).
        store_root: feature store root (default: ``$AFFECTKIT_CACHE`` / user cache).
    """
    from affectkit.features.store import FeatureStore

    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: use lower-case letters, digits, '-' and '_' "
                          "(e.g. mmsa-mosi)")
    from affectkit.data.base import CORPORA as _C

    if name in _C and not getattr(_C.get(name), "__name__", "").startswith("Imported_"):
        raise ConfigError(f"--name {name!r} is a built-in corpus; choose another (e.g. {name}-{format})")
    ff = read_feature_file(path, format, allow_pickle=allow_pickle)
    store = FeatureStore(imported_root(store_root))
    folder = store.root / "imported" / name
    folder.mkdir(parents=True, exist_ok=True)
    digest = file_sha(Path(path))
    manifest = {
        "name": name, "source": str(Path(path).resolve()), "format": format, "digest": digest,
        "label": ff.label_kind, "dims": {m.value: d for m, d in ff.dims.items()},
        "items": [{"id": f"{name}/{it.local_id}", "split": it.split, "video": it.video,
                   "sentiment": it.sentiment, "emotion": it.emotion, "text": it.text}
                  for it in ff.items],
        "summary": ff.summary(),
    }
    mf = folder / "manifest.json"
    tmp = mf.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    tmp.replace(mf)
    names = register_imported(mf)
    from affectkit.features.base import get_extractor

    exts = {Modality.parse(n.split(".", 1)[0]): get_extractor(n) for n in names}
    utts = {u.id: u for u in _make_corpus(name, mf)(folder).load().utterances}
    written = 0
    from affectkit.progress import progress as _progress

    prog = _progress(progress)
    with prog:
        tid = prog.add_task(f"import {name}", total=len(ff.items), status="")
        for it in ff.items:
            u = utts[f"{name}/{it.local_id}"]
            for m, arr in it.features.items():
                store.put(exts[m], u, arr)
                written += 1
            prog.update(tid, advance=1)
    return ImportReport(name, folder, names, written, ff.summary())


register_all()
