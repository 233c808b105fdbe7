"""Robustness protocols for a trained run (``affect robustness RUN_DIR --protocol ...``).

A run folder written by ``affect train`` (``config.json``, ``data.json``, ``model.safetensors``,
``task.json``) is reloaded; its fold's **test** part is scored under controlled damage:

``frame-drop``
    For each modality (and for all at once), every valid frame is dropped independently with
    probability r, r = 0.0, 0.1, …, 1.0. Dropped frames are masked (the model never sees them);
    at r = 1.0 the modality is missing. A pooled (vector) input counts as one frame, so it is
    dropped whole with probability r. The random masks come from fixed seeds (saved in the
    result, and the masks themselves in ``masks.npz``).
``modality-subsets``
    All 2^M − 1 non-empty subsets of the run's modalities (7 for text/audio/vision); the absent
    ones are removed from the input. Reported per subset and as the mean over the incomplete
    ones (the six missing-modality patterns).
``corruption``
    Signal corruption at increasing severity, applied to the **raw signal** and re-extracted
    with the run's own extractor whenever the corpus has the media/text and the extractor can
    compute (mosi400 with ``audio.logmel``, ``vision.fer_frames``, ``text.minilm_tokens``):

    * audio ``noise``: additive white Gaussian noise at SNR 20, 15, 10, 5 dB relative to the
      segment's mean power;
    * vision ``blur``: Gaussian blur of every sampled frame, σ = 2 and 6 px (on the decoded
      frames, before face detection); ``downscale``: frames shrunk by 4× and 12× (area
      averaging) and scaled back (bilinear);
    * text ``asr``: ASR-like word errors at word error rate 0.1, 0.2, 0.3, 0.5 — each word is hit
      with that probability, a hit being a substitution (50%, by a random word of the corpus
      vocabulary), a deletion (30%) or an insertion (20%); the measured WER is reported.

    If an item's corrupted signal yields no features (e.g. no face found in a blurred video),
    that modality is missing for that item, and the count is reported. When raw signals are
    unavailable (features imported from MMSA/MulT files), the same levels are applied to the
    **feature sequences** instead — audio: Gaussian noise at the given SNR relative to each
    sequence's feature power; vision: temporal Gaussian smoothing over σ frames (``blur``) and
    keeping every k-th frame, repeated (``downscale``); text: each token vector replaced by
    another token of the same utterance (substitution), removed (deletion) or duplicated
    (insertion) — and the result says ``"domain": "feature"``.

Outputs in ``OUT`` (default ``RUN_DIR/robustness/<protocol>``): ``results.json`` (every metric
per condition, seeds, areas), ``results.md`` (the table), ``curves.png`` (matplotlib, Agg) and,
for frame drop, ``masks.npz``. The area under each curve is the trapezoid over the severity axis
rescaled to [0, 1], i.e. the mean metric over the curve.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.errors import ConfigError, DataError, FeatureError
from affectkit.types import Modality

PROTOCOLS = ("frame-drop", "modality-subsets", "corruption")
RATES = tuple(round(0.1 * i, 1) for i in range(11))
CORRUPTIONS: dict[Modality, dict[str, tuple[float, ...]]] = {
    Modality.AUDIO: {"noise": (20.0, 15.0, 10.0, 5.0)},
    Modality.VISION: {"blur": (2.0, 6.0), "downscale": (4.0, 12.0)},
    Modality.TEXT: {"asr": (0.1, 0.2, 0.3, 0.5)},
}
SHORT = {Modality.TEXT: "T", Modality.AUDIO: "A", Modality.VISION: "V"}


def default_metric(kind: str) -> str:
    """The metric robustness curves report for a task kind (the task's ``curve_metric``)."""
    from affectkit.tasks import TASKS

    return TASKS.get(kind).curve_metric


def pattern_name(mods) -> str:
    return "".join(SHORT[m] for m in Modality if m in mods)


def area(xs, ys) -> float:
    """Trapezoid area of ``ys`` over ``xs`` rescaled to [0, 1] (= mean height of the curve)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(xs) < 2:
        return float(ys[0]) if len(ys) else float("nan")
    span = xs[-1] - xs[0]
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2) / span)


def _seed(base: int, *parts) -> int:
    h = hashlib.blake2b(json.dumps([base, *map(str, parts)]).encode(), digest_size=4).digest()
    return int.from_bytes(h, "little")


# --- loading a run ---------------------------------------------------------------------------


@dataclass
class LoadedRun:
    """A trained run (reloaded by :func:`affectkit.experiment.load_run`) and the split whose
    inputs the protocols modify."""

    run: Any
    split: str

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def cfg(self):
        return self.run.cfg

    @property
    def prep(self):
        return self.run.prep

    @property
    def task(self):
        return self.run.task

    @property
    def trainer(self):
        return self.run.trainer

    @property
    def ids(self) -> list[str]:
        return list(getattr(self.run.fold, self.split))

    @property
    def modalities(self) -> list[Modality]:
        return [m for m in Modality if m in self.prep.feats]

    def data(self, feats: dict[Modality, dict[str, Any]] | None = None):
        return self.run.batch(self.split, feats)

    def evaluate(self, data) -> dict:
        m = self.trainer.evaluate(data, self.split)
        return {k: v for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def load_run(run_dir: str | Path, *, prep=None, split: str = "test") -> LoadedRun:
    """Reload a run folder of ``affect train`` (pass ``prep`` to reuse loaded features)."""
    from affectkit.experiment import load_run as _load

    if split not in ("train", "valid", "test"):
        raise ConfigError(f"split {split!r}; allowed: train, valid, test")
    return LoadedRun(_load(run_dir, prep=prep), split)


def _need_masks(run: LoadedRun, protocol: str) -> None:
    if not getattr(run.trainer.model, "accepts_presence_masks", False):
        raise ConfigError(
            f"--protocol {protocol} masks frames/samples, which {run.cfg.model.name!r} cannot read "
            "(accepts_presence_masks is False); use a fusion.* model, or --protocol modality-subsets"
        )


# --- protocols -------------------------------------------------------------------------------


def frame_drop(run: LoadedRun, *, seed: int = 0, rates=RATES, **_: Any) -> dict:
    """Score the test part with frames dropped at each rate, per modality and for all at once."""
    import torch

    from affectkit.training.strategies.random_missing import with_masks

    _need_masks(run, "frame-drop")
    base = run.data()
    rows, masks = [], {}
    targets = [[m] for m in run.modalities] + ([run.modalities] if len(run.modalities) > 1 else [])
    for mods in targets:
        name = pattern_name(mods) if len(mods) > 1 else mods[0].value
        for r in rates:
            present, keep, seeds = {}, {}, {}
            for m in mods:
                s = _seed(seed, "frame-drop", m.value, f"{r:.1f}")
                seeds[m.value] = s
                g = torch.Generator().manual_seed(s)
                x = base.inputs[m]
                if x.dim() == 3:
                    keep[m] = torch.rand(x.shape[:2], generator=g) >= r
                    masks[f"{name}/{m.value}/{r:.1f}"] = keep[m].numpy()
                else:
                    present[m] = torch.rand(x.shape[0], generator=g) >= r
                    masks[f"{name}/{m.value}/{r:.1f}"] = present[m].numpy()
            metrics = run.evaluate(with_masks(base, present, keep))
            rows.append({"curve": name, "x": r, "rate": r, "mask_seeds": seeds, **metrics})
    return {"rows": rows, "x_label": "frame drop rate", "_masks": masks}


def modality_subsets(run: LoadedRun, **_: Any) -> dict:
    """Score every non-empty subset of the modalities (absent ones removed from the input)."""

    model = run.trainer.model
    if not getattr(model, "tolerates_missing", False):
        raise ConfigError(f"{run.cfg.model.name!r} does not tolerate missing modalities; "
                          "modality-subsets needs a model that does (the fusion.* models)")
    base = run.data()
    mods = run.modalities
    rows = []
    for r in range(len(mods), 0, -1):
        for sub in itertools.combinations(mods, r):
            d = base.replace(inputs={m: base.inputs[m] for m in sub},
                             lengths={m: v for m, v in base.lengths.items() if m in sub},
                             masks={m: v for m, v in base.masks.items() if m in sub})
            rows.append({"curve": "subsets", "pattern": pattern_name(sub), "n_modalities": r,
                         "complete": r == len(mods), **run.evaluate(d)})
    return {"rows": rows, "x_label": "modality subset"}


def corruption(run: LoadedRun, *, seed: int = 0, store_root: str | Path | None = None,
               levels: dict | None = None, progress: bool = False) -> dict:
    """Score the test part under signal corruption (raw signals when available)."""
    import copy

    levels = levels or CORRUPTIONS
    ids = run.ids
    by_id = {u.id: u for u in run.prep.data.utterances}
    utts = [by_id[i] for i in ids]
    rows = [{"curve": "clean", "x": 0.0, "level": None, **run.evaluate(run.data())}]
    notes = []
    for m in run.modalities:
        ext_name = run.cfg.features[m.value]
        for kind, lvls in levels.get(m, {}).items():
            curve = f"{m.value}:{kind}"
            rows.append({"curve": curve, "x": 0.0, "level": None, "domain": None,
                         **{k: v for k, v in rows[0].items() if k not in ("curve", "x", "level")}})
            for j, lvl in enumerate(lvls, start=1):
                s = _seed(seed, "corruption", m.value, kind, lvl)
                vals, failed, domain, extra = corrupted_features(
                    ext_name, utts, run.prep.feats[m], m, kind, lvl, s, store_root=store_root,
                    progress=progress)
                feats = copy.copy(run.prep.feats)
                feats[m] = {**run.prep.feats[m], **vals}
                data = run.data(feats)
                if failed:
                    from affectkit.training.strategies.random_missing import with_masks
                    import torch

                    gone = torch.tensor([i in failed for i in ids])
                    data = with_masks(data, {m: ~gone})
                row = {"curve": curve, "x": j / len(lvls), "level": lvl, "seed": s,
                       "domain": domain, "n_failed": len(failed), **extra, **run.evaluate(data)}
                rows.append(row)
                if failed:
                    notes.append(f"{curve} {lvl}: {len(failed)} items had no {m.value} features "
                                 "after corruption and were scored with that modality missing")
    return {"rows": rows, "x_label": "severity (level index / number of levels)", "notes": notes}


# --- corruption of signals -------------------------------------------------------------------


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise at ``snr_db`` relative to the mean power of ``x``."""
    p = float(np.mean(np.asarray(x, np.float64) ** 2))
    if p == 0:
        return x.copy()
    noise = rng.normal(0.0, math.sqrt(p / 10 ** (snr_db / 10)), size=x.shape)
    return (x + noise).astype(x.dtype)


def blur_frame(img: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma))


def downscale_frame(img: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, round(w / factor)), max(1, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


_WORD = re.compile(r"\S+")


def asr_errors(text: str, wer: float, vocab: list[str], rng: np.random.Generator) -> str:
    """Word errors at rate ``wer``: substitution 50%, deletion 30%, insertion 20% of hits."""
    out = []
    for w in _WORD.findall(text):
        if rng.random() >= wer:
            out.append(w)
            continue
        u = rng.random()
        if u < 0.5:
            out.append(vocab[int(rng.integers(len(vocab)))])
        elif u < 0.8:
            continue
        else:
            out += [w, vocab[int(rng.integers(len(vocab)))]]
    return " ".join(out) if out else vocab[int(rng.integers(len(vocab)))]


def word_error_rate(ref: str, hyp: str) -> float:
    """Levenshtein distance over words / number of reference words."""
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


def corrupt_feature_array(a: np.ndarray, modality: Modality, kind: str, level: float,
                          rng: np.random.Generator) -> np.ndarray:
    """Feature-domain fallback (see the module docstring). a: (T, D) or (D,)."""
    a = np.asarray(a, np.float32)
    seq = a if a.ndim == 2 else a[None]
    if kind == "noise":
        out = add_noise(seq, level, rng)
    elif kind == "blur":
        from scipy.ndimage import gaussian_filter1d

        out = gaussian_filter1d(seq, sigma=level, axis=0, mode="nearest") if len(seq) > 1 else seq
    elif kind == "downscale":
        k = max(1, int(level))
        out = np.repeat(seq[::k], k, axis=0)[:len(seq)]
    elif kind == "asr":
        rows = []
        for t in range(len(seq)):
            if rng.random() >= level:
                rows.append(seq[t])
                continue
            u = rng.random()
            if u < 0.5:
                rows.append(seq[int(rng.integers(len(seq)))])
            elif u < 0.8:
                continue
            else:
                rows += [seq[t], seq[t]]
        out = np.stack(rows) if rows else seq[:1]
    else:
        raise ConfigError(f"unknown corruption {kind!r}")
    out = out.astype(np.float32)
    return out if a.ndim == 2 else out[0]


def _raw_capable(ext_name: str, utts) -> bool:
    from affectkit.features.base import EXTRACTORS, get_extractor

    if ext_name not in EXTRACTORS:
        return False
    ext = get_extractor(ext_name)
    if getattr(type(ext), "__name__", "").startswith("Imported_"):
        return False
    return all(ext.applies_to(u) for u in utts)


def corrupted_features(ext_name: str, utts, clean: dict, modality: Modality, kind: str,
                       level: float, seed: int, *, store_root=None, progress: bool = False):
    """Features of ``utts`` after corruption; cached under ``<store>/robustness/``.

    Returns ``(values {id: array}, failed ids, domain, extra info)``.
    """
    rng = np.random.default_rng(seed)
    if not _raw_capable(ext_name, utts):
        vals = {u.id: corrupt_feature_array(clean[u.id], modality, kind, level,
                                            np.random.default_rng(_seed(seed, u.id)))
                for u in utts}
        return vals, set(), "feature", {}
    from affectkit.features.base import get_extractor
    from affectkit.features.store import FeatureStore, default_root

    ext = get_extractor(ext_name)
    root = Path(store_root) if store_root else default_root()
    store = FeatureStore(root / "robustness" / f"{kind}-{level:g}-s{seed}")
    vals, failed, extra = {}, set(), {}
    todo = []
    for u in utts:
        try:
            vals[u.id] = store.get(ext, u)
        except FeatureError:
            todo.append(u)
    if modality is Modality.TEXT:
        vocab = sorted({w.lower() for u in utts for w in _WORD.findall(u.text or "")}) or ["the"]
        texts = [asr_errors(u.text, level, vocab, np.random.default_rng(_seed(seed, u.id)))
                 for u in utts]
        extra["measured_wer"] = float(np.mean([word_error_rate(u.text, t) for u, t in zip(utts, texts)]))
        by_id = {u.id: t for u, t in zip(utts, texts)}
        if todo:
            outs = ext.process_texts([by_id[u.id] for u in todo])
            for u, o in zip(todo, outs):
                store.put(ext, u, o)
                vals[u.id] = o
        return vals, failed, "raw", extra
    from affectkit.media import iter_frames, load_audio
    from affectkit.progress import progress as _progress

    prog = _progress(progress and bool(todo))
    with prog:
        tid = prog.add_task(f"{ext_name} {kind} {level:g}", total=len(todo), status="")
        for u in todo:
            r = np.random.default_rng(_seed(seed, u.id))
            try:
                if modality is Modality.AUDIO:
                    x = load_audio(u.media[modality], sr=16000, start=u.start, end=u.end)
                    o = ext.process_signal(add_noise(x, level, r), 16000)
                else:
                    fn = blur_frame if kind == "blur" else downscale_frame
                    frames = [fn(f.image, level) for f in iter_frames(
                        u.media[modality], fps=ext.fps, start=u.start, end=u.end,
                        gray=not getattr(ext, "color", True))]
                    o = ext.process_signal(frames, ext.fps)
                store.put(ext, u, o)
                vals[u.id] = o
            except FeatureError:
                failed.add(u.id)
            prog.update(tid, advance=1)
    for u in utts:
        if u.id in failed:
            vals.pop(u.id, None)
    return vals, failed, "raw", extra


# --- running and writing ---------------------------------------------------------------------


def run_protocol(run: LoadedRun, protocol: str, *, seed: int = 0, **kw) -> dict:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol {protocol!r}; allowed: {', '.join(PROTOCOLS)}")
    fn = {"frame-drop": frame_drop, "modality-subsets": modality_subsets,
          "corruption": corruption}[protocol]
    res = fn(run, seed=seed, **kw)
    res.update(protocol=protocol, run_dir=str(run.run_dir), model=run.cfg.model.name,
               strategy=run.cfg.trainer.strategy, split=run.split, seed=seed,
               n_items=len(run.ids), task=run.cfg.task.kind)
    res["areas"] = areas(res)
    return res


def areas(res: dict) -> dict[str, dict[str, float]]:
    """Area under each curve for every metric (frame drop, corruption); subset means."""
    rows = res["rows"]
    metrics = [k for k, v in rows[0].items() if isinstance(v, float) and k not in
               ("x", "rate", "level")]
    out: dict[str, dict[str, float]] = {}
    if res.get("protocol") == "modality-subsets" or rows[0].get("curve") == "subsets":
        inc = [r for r in rows if not r["complete"]]
        for k in metrics:
            out.setdefault("mean_incomplete", {})[k] = float(np.mean([r[k] for r in inc]))
            out.setdefault("mean_all", {})[k] = float(np.mean([r[k] for r in rows]))
        return out
    for curve in dict.fromkeys(r["curve"] for r in rows):
        cr = [r for r in rows if r["curve"] == curve]
        if len(cr) < 2:
            continue
        out[curve] = {k: area([r["x"] for r in cr], [r[k] for r in cr]) for k in metrics
                      if all(k in r for r in cr)}
    return out


def plot(res: dict, metric: str, path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    if res["protocol"] == "modality-subsets":
        labels = [r["pattern"] for r in rows]
        ax.bar(labels, [r[metric] for r in rows], color=["#4c72b0" if r["complete"] else "#dd8452"
                                                          for r in rows])
        ax.set_xlabel("modalities present (T text, A audio, V vision)")
    else:
        for curve in dict.fromkeys(r["curve"] for r in rows):
            cr = [r for r in rows if r["curve"] == curve]
            if len(cr) < 2:
                continue
            a = res["areas"].get(curve, {}).get(metric)
            ax.plot([r["x"] for r in cr], [r[metric] for r in cr], marker="o", ms=3,
                    label=f"{curve} (area {a:.3f})" if a is not None else curve)
        ax.set_xlabel(res["x_label"])
        ax.legend(fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{res['model']} · {res['protocol']}", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def to_markdown(res: dict, metrics: list[str]) -> str:
    rows = res["rows"]
    key = "pattern" if res["protocol"] == "modality-subsets" else "curve"
    extra = [] if key == "pattern" else ["x", "level"] if res["protocol"] == "corruption" else ["rate"]
    head = [key, *extra, *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r.get(key))] + [("–" if r.get(e) is None else f"{r[e]:g}") for e in extra]
        cells += [f"{r[m]:.4f}" if isinstance(r.get(m), float) else "–" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Areas / means: " + "; ".join(
        f"{c}: " + ", ".join(f"{m} {v[m]:.4f}" for m in metrics if m in v)
        for c, v in res["areas"].items()))
    return "\n".join(lines) + "\n"


def write(res: dict, out_dir: str | Path, metric: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    masks = res.pop("_masks", None)
    paths = {"json": out_dir / "results.json", "md": out_dir / "results.md",
             "png": out_dir / "curves.png"}
    paths["json"].write_text(json.dumps(res, indent=1, default=float))
    metrics = [m for m in (metric, "non0_acc2", "non0_f1", "mae", "corr", "ua", "wa", "macro_f1")
               if any(m in r for r in res["rows"])]
    metrics = list(dict.fromkeys(metrics))
    paths["md"].write_text(to_markdown(res, metrics))
    plot(res, metric, paths["png"])
    if masks:
        paths["masks"] = out_dir / "masks.npz"
        np.savez_compressed(paths["masks"], **{k.replace("/", "__"): v for k, v in masks.items()})
    return paths


# --- several runs (folds × seeds) ------------------------------------------------------------


def summarise(results: list[dict]) -> dict:
    """Mean ± sd over runs of every point (per curve and x, or per subset) and of the areas."""
    first = results[0]
    key = "pattern" if first["protocol"] == "modality-subsets" else "curve"
    points: dict[tuple, list[dict]] = {}
    for res in results:
        for r in res["rows"]:
            points.setdefault((r[key], r.get("x")), []).append(r)
    rows = []
    for (k, x), rs in points.items():
        row = {key: k, "x": x, "n_runs": len(rs)}
        for extra in ("level", "rate", "complete", "n_modalities", "domain"):
            if extra in rs[0]:
                row[extra] = rs[0][extra]
        for m, v in rs[0].items():
            if isinstance(v, float) and m not in ("x", "rate", "level"):
                vals = [r[m] for r in rs if isinstance(r.get(m), float)]
                row[m] = float(np.mean(vals))
                row[f"{m}_sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        if "n_failed" in rs[0]:
            row["n_failed"] = int(sum(r.get("n_failed", 0) for r in rs))
        rows.append(row)
    areas_out: dict[str, dict[str, dict]] = {}
    for res in results:
        for c, mv in res["areas"].items():
            for m, v in mv.items():
                areas_out.setdefault(c, {}).setdefault(m, []).append(v)
    areas_sum = {c: {m: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1
                         else 0.0, "values": v} for m, v in mv.items()} for c, mv in areas_out.items()}
    return {"protocol": first["protocol"], "model": first["model"], "strategy": first["strategy"],
            "task": first["task"], "x_label": first["x_label"], "n_runs": len(results),
            "runs": [r["run_dir"] for r in results], "seed": first["seed"], "rows": rows,
            "areas": areas_sum, "notes": sorted({n for r in results for n in r.get("notes", [])})}


def write_summary(s: dict, out_dir: str | Path, metric: str) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "summary.json", "md": out_dir / "summary.md",
             "png": out_dir / "summary.png"}
    paths["json"].write_text(json.dumps(s, indent=1, default=float))
    flat = {**s, "areas": {c: {m: v["mean"] for m, v in mv.items()} for c, mv in s["areas"].items()}}
    paths["md"].write_text(f"{s['n_runs']} runs (mean over runs)\n\n" + to_markdown(flat, [metric]))
    plot(flat, metric, paths["png"], title=f"{s['model']} · {s['protocol']} · mean of {s['n_runs']} runs")
    return paths
