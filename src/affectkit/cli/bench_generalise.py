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
) -> None:
    """Train on all shared corpora of a modality but one, score the one left out; every corpus."""
    from affectkit.evaluation.generalise import run

    res = run(modality, seeds=seeds, quick=quick, progress=not quiet, out_dir=out)
    console.print(res.get("markdown", ""))


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("generalise")(bench_generalise)
