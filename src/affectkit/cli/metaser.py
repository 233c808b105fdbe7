"""``affect bench metaser``: few-shot cross-lingual speech emotion (first-order MAML)."""

from __future__ import annotations

import typer

from affectkit.cli._util import console


def bench_metaser(
    seeds: int = typer.Option(3, "--seeds", help="Seeds (speaker halves, support draws, inits)."),
    ks: str = typer.Option("1,5,10,20", "--ks", help="Labelled clips per class."),
    quick: bool = typer.Option(False, "--quick", help="Subsample for a smoke run (not for docs)."),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """UA vs k on Italian and Urdu: target only, pooled transfer, multitask, MetaSER."""
    from affectkit.errors import ConfigError
    from affectkit.evaluation import metaser

    try:
        k = tuple(int(x) for x in ks.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--ks {ks!r}: expected comma-separated integers, e.g. 1,5,10,20") \
            from None
    if not k or min(k) < 1:
        raise ConfigError(f"--ks {ks!r}: every k must be ≥ 1")
    res = metaser.run(seeds=seeds, ks=k, quick=quick, progress=not quiet)
    metaser.write(res, out)
    console.print(res["markdown"], highlight=False)
    console.print(f"wrote {out}/metaser.json and {out}/metaser.md")


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("metaser")(bench_metaser)
