"""``affect bench generalise``: leave-one-corpus-out tables per modality."""

from __future__ import annotations

import typer

from affectkit.cli._util import console


def bench_generalise(
    modality: str = typer.Option(..., "--modality", "-m", help="audio | text | vision"),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per (model, held-out corpus)."),
    quick: bool = typer.Option(False, "--quick", help="Subsample for a smoke run (not for docs)."),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    feature: str = typer.Option("", "--feature", help="audio only: features to compare with "
                                "audio.whisper on the same items, seeds and folds (e.g. "
                                "audio.whisper_pad30); writes generalise-audio-<short name>."),
    corpora: str = typer.Option("", "--corpora", help="audio only: comma-separated subset of "
                                "ravdess,tess,emodb,emovo,urdu (default all)."),
    models: str = typer.Option("", "--models", help="audio only: comma-separated subset of "
                               "lr,mlp,spk (default all)."),
    four_class: bool = typer.Option(False, "--four-class", help="audio only: just the 4-class "
                                    "leave-one-corpus-out table, on the items of those classes "
                                    "(~60 % of the extraction)."),
    cap: int = typer.Option(0, "--cap", help="audio only: at most N items per (speaker, class) "
                            "cell, the smallest sha1(id) (100 thins only TESS)."),
    augment: int = typer.Option(0, "--augment", help="audio only: train the leave-one-corpus-"
                                "out heads with K augmented copies of each training clip (speed "
                                "±10 %, gain, noise SNR 10–30 dB) and without; paired."),
) -> None:
    """Train on all shared corpora of a modality but one, score the one left out; every corpus."""
    from affectkit.evaluation.generalise import run

    opts: dict = {}
    suffix = ""
    if (feature or corpora or models or four_class or cap or augment) and modality != "audio":
        raise typer.BadParameter("--feature/--corpora/--models/--four-class/--cap exist for "
                                 "--modality audio only")
    if cap < 0:
        raise typer.BadParameter("--cap must be ≥ 0 (0 = no cap)")
    if augment < 0:
        raise typer.BadParameter("--augment must be ≥ 0 (0 = no augmentation)")
    if feature:
        opts["feature"] = feature
        suffix = feature.split(".", 1)[-1].removeprefix("whisper_")
    if corpora:
        opts["corpora"] = tuple(c.strip() for c in corpora.split(",") if c.strip())
        suffix = "-".join(filter(None, [suffix, "+".join(opts["corpora"])]))
    if models:
        opts["models"] = [m.strip() for m in models.split(",") if m.strip()]
    if four_class:
        opts["four_only"] = True
        suffix = "-".join(filter(None, [suffix, "4class"]))
    if cap:
        opts["cap"] = cap
        suffix = "-".join(filter(None, [suffix, f"cap{cap}"]))
    if augment:
        opts["augment"] = augment
        suffix = "-".join(filter(None, [suffix, f"aug{augment}"]))
    command = (f"affect bench generalise --modality {modality}"
               + (f" --seeds {seeds}" if seeds != 3 else "") + (" --quick" if quick else "")
               + (f" --feature {feature}" if feature else "")
               + (f" --corpora {corpora}" if corpora else "")
               + (f" --models {models}" if models else "")
               + (" --four-class" if four_class else "") + (f" --cap {cap}" if cap else "")
               + (f" --augment {augment}" if augment else ""))
    res = run(modality, seeds=seeds, quick=quick, progress=not quiet, out_dir=out,
              command=command, suffix=suffix, **opts)
    console.print(res.get("markdown", ""))


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("generalise")(bench_generalise)
    bench_app.command("dialogue-cost")(bench_dialogue_cost)


def bench_dialogue_cost(
    lengths: str = typer.Option("10,25,50,100,250,500", "--lengths", help="Dialogue lengths."),
    repeats: int = typer.Option(5, "--repeats", help="Timed forward passes per length."),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
) -> None:
    """Forward time of the dialogue context models against dialogue length (1 thread)."""
    import datetime as dt
    import json
    import platform
    from pathlib import Path

    from affectkit.evaluation.dialogue_cost import run, to_markdown

    res = run(tuple(int(x) for x in lengths.split(",")), repeats=repeats)
    res.update(date=dt.date.today().isoformat(), machine=platform.machine(),
               command=f"affect bench dialogue-cost --lengths {lengths} --repeats {repeats}")
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    (p / "dialogue-cost.json").write_text(json.dumps(res, indent=1))
    md = to_markdown(res)
    (p / "dialogue-cost.md").write_text(f"`{res['command']}` — {res['date']}\n\n{md}\n")
    console.print(md)
