"""Default models shipped with `affect analyze`: build them from committed configs."""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path

import numpy as np
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


@app.command("fit-fusion")
def fit_fusion(
    dest: Path = typer.Option(None, "--dest", help="Folder of the default models."),
    results: Path = typer.Option(Path("benchmarks/results"), "--results",
                                 help="Folder with generalise-{text,audio,vision}.json."),
) -> None:
    """Set the fusion reliabilities from the cross-corpus (generalisation) tables.

    Each modality's emotion weight is its chance-corrected unweighted accuracy on corpora its
    shipped model was NOT trained on, (UA − chance) / (1 − chance), averaged over the held-out
    corpora: text = the MiniLM union head leaving each English corpus out (`affect bench
    generalise --modality text`), voice = the Whisper LR head leaving each speech corpus out
    (on the canonical classes each held-out corpus has, like the analyzer's 7-way output,
    `--modality audio`), face = FaceExpressionNet zero-shot on FER+,
    FER2013 and CK+ (`--modality vision`). Temperatures: fitted on the same kind of held-out
    predictions (``python -m affectkit.evaluation.fusion_calibration`` →
    ``fusion-temperatures.json``; 1 without that file). Sentiment: the weights fitted on all mosi400 clips by
    ``python -m affectkit.evaluation.fusion_mosi400`` (``fusion-mosi400.json``; that command
    scores the same fit with 4 video-disjoint folds, never fitting on the fold it scores), and
    the neutral abstention is left out of the sentiment pool (it hurt sentiment on the training
    videos of every fold); without that file: text 1.0, voice and face 0.25.
    """
    from affectkit.analysis.predictors import DEFAULTS_DIR

    dest = dest or DEFAULTS_DIR

    def load(m: str) -> dict:
        f = results / f"generalise-{m}.json"
        if not f.is_file():
            raise typer.BadParameter(f"{f} missing; run `affect bench generalise --modality {m}`")
        return json.loads(f.read_text())

    def corrected(ua: float, chance: float) -> float:
        return (ua - chance) / (1 - chance)

    rows = load("text")["rows"]
    t = [corrected(r["UA"]["mean"], r["chance_UA"]) for r in rows if r["model"] == "text.minilm"]
    rows = load("audio")["rows"]
    a = [corrected(r["UA"]["mean"] / 100, 1 / sum(v > 0 for v in r["gold_shares"].values()))
         for r in rows if r["table"] == "loco-canonical" and r["model"] == "whisper-base + LR"]
    rows = load("vision")["rows"]
    v = [corrected(r["UA"]["mean"] / 100, 1 / 7) for r in rows
         if r["model"] == "zero-shot FaceExpressionNet"]
    if not (t and a and v):
        raise typer.BadParameter("a generalisation table lacks the rows of the shipped model")
    ew = {m: round(max(0.05, float(np.mean(x))), 4) for m, x in
          (("text", t), ("audio", a), ("vision", v))}
    sw, s_abstain, s_rule = {"text": 1.0, "audio": 0.25, "vision": 0.25}, None, "text 1, voice/face 0.25"
    fm = results / "fusion-mosi400.json"
    if fm.is_file():
        sw = json.loads(fm.read_text())["sentiment_weights_all_clips"]
        s_abstain = False
        s_rule = ("weights fitted (Pearson r, grid) on all mosi400 clips, scored with 4 "
                  "video-disjoint folds in fusion-mosi400.json; no abstention in the sentiment pool")
    temps, t_rule = {}, "temperatures 1"
    ft = results / "fusion-temperatures.json"
    if ft.is_file():
        temps = {m: float(t) for m, t in json.loads(ft.read_text())["temperatures"].items()}
        t_rule = ("temperatures fitted on held-out-corpus predictions (mean per-corpus NLL, "
                  "fusion-temperatures.json)")
    doc = {"emotion_weights": ew, "sentiment_weights": sw,
           "temperatures": temps, "neutral_abstains": True, "sentiment_abstains": s_abstain,
           "rule": "w_emotion = mean over held-out corpora of (UA - chance) / (1 - chance) of the "
                   f"shipped model (generalisation tables), floor 0.05; {t_rule}; a "
                   "modality whose top class is neutral abstains when another reads an "
                   f"emotion; sentiment: {s_rule}",
           "sources": {"text": f"generalise-text.json: {len(t)} held-out English corpora",
                       "audio": f"generalise-audio.json loco-canonical: {len(a)} held-out speech corpora",
                       "vision": f"generalise-vision.json zero-shot: {len(v)} face corpora",
                       **({"sentiment": "fusion-mosi400.json (python -m "
                                        "affectkit.evaluation.fusion_mosi400)"} if fm.is_file() else {}),
                       **({"temperatures": "fusion-temperatures.json (python -m "
                                           "affectkit.evaluation.fusion_calibration)"}
                          if ft.is_file() else {})},
           "built": _dt.date.today().isoformat()}
    (dest / "fusion.json").write_text(json.dumps(doc, indent=1))
    console.print_json(json.dumps(doc))
