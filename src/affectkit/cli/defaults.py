"""Default models shipped with `affect analyze`: build them from committed configs."""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path

import typer

from affectkit.cli._util import console

NAME = "defaults"
app = typer.Typer(no_args_is_help=True)

CONFIGS = Path("configs/default")


@app.command()
def build(
    configs: Path = typer.Option(CONFIGS, "--configs", help="Folder of default model configs."),
    only: list[str] = typer.Option(None, "--only", help="Only these names (text_emotion, ...)."),
    runs: Path = typer.Option(Path("runs/default"), "--runs", help="Where the trainer writes runs."),
    dest: Path = typer.Option(None, "--dest", help="Export folder (default: the package's weights/default)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train each default model (the trainer of `affect train`, first fold, seed 0) and export it.

    Selection uses the fold's validation part only; its test metrics are recorded in the
    exported inference.json and in docs/model_card.md.
    """
    from affectkit.analysis.predictors import DEFAULTS_DIR
    from affectkit.config import load_config
    from affectkit.experiment import prepare, run_fold

    dest = dest or DEFAULTS_DIR
    files = sorted(configs.glob("*.yaml"))
    if only:
        files = [f for f in files if f.stem in only]
    if not files:
        raise typer.BadParameter(f"no configs in {configs}" + (f" named {only}" if only else ""))
    for f in files:
        cfg = load_config(f)
        console.rule(f"[bold]{cfg.name}")
        prep = prepare(cfg, progress=not quiet)
        fold = prep.split.folds[0]
        rd = runs / cfg.name
        if rd.exists():
            shutil.rmtree(rd)  # a default model is always trained from scratch
        out = run_fold(prep, fold, seed=cfg.seed, run_dir=rd, progress=not quiet)
        (m,) = prep.feats.keys()
        target = dest / cfg.name
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.json", "task.json", "model.safetensors"):
            shutil.copy2(rd / name, target / name)
        info = {
            "modality": str(m), "kind": prep.kinds[m], "input_dim": prep.input_dims[m],
            "labels": prep.data.labels, "config_file": str(f), "fold": fold.name,
            "sizes": fold.sizes(), "protocol": prep.split.protocol,
            "speaker_independent": prep.split.speaker_independent,
            "valid": out["valid"], "test": {k: v for k, v in out["test"].items()
                                             if k not in ("confusion", "per_label_f1")},
            "data_signature": prep.data_signature, "feature_signatures": prep.feature_signatures,
            "n_parameters": out["n_parameters"], "built": _dt.date.today().isoformat(),
        }
        (target / "inference.json").write_text(json.dumps(info, indent=1, default=str))
        size = sum(p.stat().st_size for p in target.iterdir()) / 1024
        console.print(f"exported {cfg.name} → {target} ({size:.0f} KiB); test: "
                      + ", ".join(f"{k}={v:.3f}" for k, v in info["test"].items()
                                  if isinstance(v, float)))


# Cross-corpus reliability: each default model is scored on a corpus it was NOT trained on, so
# the fusion weights reflect how the model transfers (in-domain validation overrates models
# trained on narrow data, e.g. two acted sentences in RAVDESS). mosi400 is never used here.
RELIABILITY = {
    "text": ("text_emotion", "goemotions-ekman", "valid"),   # MELD-trained, scored on Reddit
    "audio": ("voice_emotion", "tess", None),                 # RAVDESS-trained, scored on TESS
    "vision": ("fer", "ckplus", None),                        # FER2013-trained, scored on CK+
}


def _every(utts: list, limit: int | None) -> list:
    return utts if not limit or len(utts) <= limit else utts[:: len(utts) // limit][:limit]


def _eval_items(corpus: str, split: str | None, limit: int | None):
    from affectkit.data import load_corpus
    from affectkit.taxonomy import map_to_canonical

    items = []
    for u in load_corpus(corpus).utterances:
        if split and u.split != split:
            continue
        if u.emotions is not None and len(u.emotions) != 1:
            continue  # multi-label items have no single reference emotion
        label = u.emotions[0] if u.emotions is not None else (u.emotion_original or u.emotion)
        c = map_to_canonical(label, corpus)
        if c is None or label == "contempt":
            continue  # contempt has no canonical counterpart (mapping it would be a guess)
        items.append((u, c))
    return _every(items, limit)


def fit_temperature(probs, y) -> float:
    """Temperature T minimising the NLL of softmax(log p / T) (grid search, no test data)."""
    import numpy as np

    logp = np.log(np.clip(probs, 1e-8, 1.0))
    best_t, best = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.5), np.log(20.0), 60)):
        z = logp / t
        z = z - z.max(1, keepdims=True)
        nll = -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(1))).mean()
        if nll < best:
            best_t, best = float(t), nll
    return round(best_t, 3)


def cross_corpus_eval(modality: str, dest: Path, limit: int | None = None) -> dict:
    """UA (over the canonical classes present) and fitted temperature of a default model on
    its reliability corpus."""
    import numpy as np

    from affectkit.metrics import unweighted_accuracy
    from affectkit.taxonomy import CANONICAL_EMOTIONS

    model, corpus, split = RELIABILITY[modality]
    items = _eval_items(corpus, split, limit)
    utts = [u for u, _ in items]
    y = np.array([CANONICAL_EMOTIONS.index(c) for _, c in items])
    if modality == "vision":
        import cv2

        from affectkit.analysis.predictors import _FER_TO_CANON
        from affectkit.features.vision.fer import classify
        from affectkit.media import load_image

        faces = np.stack([cv2.resize(load_image(u.media[next(iter(u.media))], gray=True), (64, 64))
                          for u in utts])
        probs = classify(faces)[0][:, _FER_TO_CANON]
    else:
        from affectkit.analysis.heads import RunModel
        from affectkit.features.provider import get_features

        rm = RunModel(dest / model)
        feats = get_features(rm.extractor_name, utts, progress=True)
        keep = [i for i, u in enumerate(utts) if u.id in feats.values]
        y = y[keep]
        probs = rm.emotion_probs(features=[feats.values[utts[i].id] for i in keep])
    present = sorted(set(y.tolist()))
    pred = probs.argmax(1)
    ua = float(np.mean([(pred[y == k] == k).mean() for k in present]))
    return {"ua": ua, "n": len(y), "k": len(present), "temperature": fit_temperature(probs, y),
            "what": f"{model} on {corpus}{'/' + split if split else ''}"}


@app.command("fit-fusion")
def fit_fusion(
    dest: Path = typer.Option(None, "--dest", help="Folder of the default models."),
    limit: int = typer.Option(None, "--limit", help="Score at most N items per corpus."),
) -> None:
    """Set the fusion reliabilities from each default model's accuracy on ANOTHER corpus.

    Each modality's probabilities are calibrated by a temperature fitted (NLL) on the same
    cross-corpus items. Emotion: w_m = chance-corrected cross-corpus UA, (UA − 1/K) / (1 − 1/K)
    with K the number of classes scored: text (MELD-trained) on GoEmotions-Ekman dev (single-label items), voice
    (RAVDESS-trained) on TESS, face (FER2013-trained) on CK+ (contempt left out). Sentiment:
    text 1.0 (the only trained sentiment head); voice and face 0.25 (their sentiment is a
    valence prior). mosi400 is not used, so it stays an untouched evaluation set.
    """
    from affectkit.analysis.predictors import DEFAULTS_DIR

    dest = dest or DEFAULTS_DIR
    ew, temps, sources = {}, {}, {}
    for mod in ("text", "audio", "vision"):
        with console.status(f"scoring the {mod} model cross-corpus …"):
            r = cross_corpus_eval(mod, dest, limit)
        chance = 1 / r["k"]
        ew[mod] = round(max(0.05, (r["ua"] - chance) / (1 - chance)), 4)
        temps[mod] = r["temperature"]
        sources[mod] = f"{r['what']}: UA {r['ua']:.3f} over {r['k']} classes (n={r['n']})"
        console.print(f"{mod}: {sources[mod]} → weight {ew[mod]}, temperature {temps[mod]}")
    doc = {"emotion_weights": ew,
           "sentiment_weights": {"text": 1.0, "audio": 0.25, "vision": 0.25},
           "temperatures": temps,
           "rule": "w_emotion = (cross-corpus UA - 1/K) / (1 - 1/K), floor 0.05; temperature "
                   "minimises cross-corpus NLL; sentiment: text 1, voice/face 0.25",
           "sources": sources, "built": _dt.date.today().isoformat()}
    (dest / "fusion.json").write_text(json.dumps(doc, indent=1))
    console.print_json(json.dumps(doc))
