"""Robustness and multimodal fusion: `affect robustness`, `affect fusion-benchmark`,
`affect data import-features`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from affectkit.cli._util import console, print_json


def _run_dirs(path: Path) -> list[Path]:
    if (path / "config.json").exists():
        return [path]
    found = sorted(p.parent for p in path.rglob("model.safetensors")
                   if (p.parent / "config.json").exists() and (p.parent / "data.json").exists())
    if not found:
        from affectkit.errors import ConfigError

        raise ConfigError(f"{path}: no run folder (config.json + data.json + model.safetensors) "
                          "in or under it; pass a folder written by `affect train`")
    return found


def robustness(
    run_dir: Path = typer.Argument(..., help="A run folder (…/seed0/<fold>) of `affect train`, "
                                   "or a folder holding several (all folds × seeds)."),
    protocol: str = typer.Option(..., "--protocol", "-p",
                                 help="frame-drop | modality-subsets | corruption"),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: "
                             "RUN_DIR/robustness/<protocol>)."),
    seed: int = typer.Option(0, "--seed", help="Base seed of the random masks/corruptions "
                             "(saved with the results)."),
    metric: str = typer.Option(None, "--metric", help="Metric of the curve plot (default: "
                               "non0_f1 for sentiment, ua for emotion)."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score a trained run's test fold under frame drop, missing modalities or corruption.

    Writes results.json, results.md (table), curves.png and (frame drop) masks.npz. With several
    runs under RUN_DIR, also a summary (mean ± sd over runs) at OUT/summary.*.
    """
    from affectkit.evaluation import robustness as R


    dirs = _run_dirs(run_dir)
    prep = None
    results = []
    for d in dirs:
        run = R.load_run(d, prep=prep)
        prep = run.prep
        res = R.run_protocol(run, protocol, seed=seed, progress=True)
        m = metric or R.default_metric(run.cfg.task.kind)
        target = (out / d.relative_to(run_dir)) if out and len(dirs) > 1 else \
            (out or d / "robustness" / protocol)
        R.write(res, target, m)
        results.append(res)
        console.print(f"{d}: " + "; ".join(
            f"{c} {v.get(m, float('nan')):.4f}" for c, v in res["areas"].items()), highlight=False)
    if len(results) > 1:
        s = R.summarise(results)
        R.write_summary(s, out or run_dir / "robustness" / protocol, metric or R.default_metric(
            results[0]["task"]))
        results = [s]
    if json_:
        print_json(results[0] if len(results) == 1 else results)


def import_features(
    file: Path = typer.Argument(..., help="MMSA aligned_50.pkl / unaligned_50.pkl or MulT "
                                "*_data.pkl / *_data_noalign.pkl."),
    format: str = typer.Option(..., "--format", "-f", help="mmsa | mult"),
    name: str = typer.Option(None, "--name", help="Name of the import (corpus + extractor "
                             "suffix); default: <format>-<file stem>."),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle",
        help="Required: these files are Python pickles and unpickling can execute code. Pass it "
             "only for files you trust; a restricted unpickler still admits only NumPy arrays "
             "and builtin containers."),
    cache: Path = typer.Option(None, "--cache", help="Feature store root (default: "
                               "$AFFECTKIT_CACHE, else the user cache folder)."),
    json_: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read a researchers' feature file once into the feature store (and register a corpus)."""
    import re

    from affectkit.features.imported import import_feature_file

    name = name or re.sub(r"[^a-z0-9_-]+", "-", f"{format}-{file.stem}".lower()).strip("-")
    rep = import_feature_file(file, format, name=name, allow_pickle=allow_pickle,
                              store_root=cache, progress=not json_)
    if json_:
        print_json({"name": rep.name, "folder": str(rep.folder), "extractors": rep.extractors,
                    "written": rep.written, **rep.summary})
        return
    s = rep.summary
    console.print(f"imported {s['items']} items {s['by_split']} from {file} as [bold]{rep.name}[/]; "
                  f"dims {s['dims']}; {s['n_issues']} issues", highlight=False)
    for k, v in s["notes"].items():
        console.print(f"  note: {k}: {v}", highlight=False)
    for i in s["issues"][:5]:
        console.print(f"  issue: {i}", highlight=False)
    console.print("use it in a config:\n" + rep.config_snippet(), highlight=False)
    if cache is not None:
        console.print(f"(set AFFECTKIT_CACHE={cache} when training, so the store is found)")


def fusion_benchmark(
    suite: Path = typer.Argument(Path("configs/fusion/mosi400.yaml"), help="Fusion suite YAML."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per entry."),
    runs: Path = typer.Option(Path("runs/benchmarks"), "--runs", help="Checkpoints (reused)."),
    out: Path = typer.Option(Path("docs/fusion"), "--out", help="Tables, plots, analysis."),
    docs: Path = typer.Option(None, "--docs", help="Also write the '## Fusion and robustness "
                              "(mosi400)' section of this markdown file."),
    only: list[str] = typer.Option(None, "--only", help="Only these entry labels/names."),
    robust: list[str] = typer.Option(None, "--robust", help="Entry names to run the robustness "
                                     "protocols on (default: the suite's `robustness` list)."),
    protocols: str = typer.Option("modality-subsets,frame-drop,corruption", "--protocols"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train the fusion zoo and single-modality baselines over folds × seeds (the suite runner
    of `affect benchmark`), then run robustness protocols and write tables, curves and docs."""
    from affectkit.evaluation.fusion_report import run_fusion_benchmark

    command = "affect " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run_fusion_benchmark(suite, seeds=seeds, runs=runs, out=out, docs=docs,
                         only=list(only) if only else None,
                         robust=list(robust) if robust else None,
                         protocols=[p.strip() for p in protocols.split(",") if p.strip()],
                         progress=not quiet, console=console, command=command)


def register(app: typer.Typer) -> None:
    # Imported features become extractors/corpora at start-up (a glob over the store's
    # imported/ folder; NumPy only), so `affect train` and `affect extract` know their names.
    try:
        from affectkit.features.imported import register_all

        register_all()
    except Exception as e:  # noqa: BLE001 - a broken import must not break the whole CLI
        console.print(f"[yellow]warning:[/] imported feature files not registered: {e}")
    app.command("robustness")(robustness)
    app.command("fusion-benchmark", help="Alias of `affect bench fusion`.")(fusion_benchmark)
    from affectkit.cli.features import bench_app

    bench_app.command("fusion")(fusion_benchmark)
    data_group = next((g.typer_instance for g in app.registered_groups if g.name == "data"), None)
    if data_group is not None:
        data_group.command("import-features")(import_features)
    else:
        app.command("import-features")(import_features)
