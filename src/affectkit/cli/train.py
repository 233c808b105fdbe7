"""Training commands: train, evaluate, benchmark, and the model registry (`affect models`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer
from rich.table import Table

from affectkit.cli._util import console, print_json

models_app = typer.Typer(no_args_is_help=True, help="The model registry.")


def _pct(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def train(
    config: Path = typer.Argument(..., help="Experiment YAML (see configs/)."),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Runs folder."),
    seed: list[int] = typer.Option(None, "--seed", help="Seed(s); default: the config's."),
    fold: list[str] = typer.Option(None, "--fold", help="Only these folds (default: all)."),
    set_: list[str] = typer.Option(None, "--set", help="Override, e.g. trainer.lr=0.0005."),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    cache: Path = typer.Option(None, "--cache", help="Feature store root (the one `affect "
                               "extract --cache` writes). Default: the config's `store`, else "
                               "$AFFECTKIT_CACHE, else the user cache folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    nproc: int = typer.Option(1, "--nproc", min=1, help="Train with N processes on this machine "
                              "(torch.distributed, gloo): re-runs this command under `torchrun "
                              "--standalone --nproc_per_node N`. See docs/scaling.md."),
) -> None:
    """Train CONFIG on every fold of its protocol; checkpoints + metrics per fold under OUT.

    Under ``torchrun`` (WORLD_SIZE > 1) the model trains with DistributedDataParallel; rank 0
    writes the run folders and prints the result."""
    import os

    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        argv = [str(config), "--out", str(out)]
        argv += [a for s in (seed or []) for a in ("--seed", str(s))]
        argv += [a for f in (fold or []) for a in ("--fold", f)]
        argv += [a for o in (set_ or []) for a in ("--set", o)]
        argv += (["--json"] if json_ else []) + (["--quiet"] if quiet else [])
        argv += ["--cache", str(cache)] if cache is not None else []
        raise typer.Exit(_torchrun(nproc, argv))
    from affectkit.config import load_config, parse_overrides
    from affectkit.experiment import prepare, run_experiment
    from affectkit.training import distributed as D

    ctx = D.context()  # opens the gloo process group under torchrun
    cfg = load_config(config, parse_overrides(set_ or []))
    if cache is not None:
        cfg.store = str(cache)
    run_root = out / cfg.name.replace("/", "_")
    prep = None
    if ctx.enabled:  # rank 0 computes missing features first; the others then read the store
        if not ctx.is_main:
            D.barrier()
        prep = prepare(cfg, progress=not quiet and ctx.is_main)
        if ctx.is_main:
            D.barrier()
    res = run_experiment(cfg, run_root=run_root, seeds=list(seed) if seed else None,
                         progress=not quiet and ctx.is_main, folds=list(fold) if fold else None,
                         prep=prep)
    if ctx.enabled:
        import torch.distributed as tdist

        backend = str(tdist.get_backend())
        D.shutdown()
        if not ctx.is_main:
            return
        res["distributed"] = {"world_size": ctx.world, "backend": backend}
    if json_:
        print_json(res)
        return
    from affectkit.tasks import TASKS

    key = cfg.task.key_metric or TASKS.get(cfg.task.kind).default_key
    t = Table(title=f"{cfg.name}: {res['protocol']}")
    for c in ("seed", "fold", "best epoch", f"valid {key}", f"test {key}", "s"):
        t.add_column(c)
    for r in res["runs"]:
        t.add_row(str(r["seed"]), r["fold"], str(r["best_epoch"]), _pct(r["valid"].get(key)),
                  _pct(r["test"].get(key)), f"{r['seconds']:.0f}")
    console.print(t)
    console.print(f"runs in {run_root}")


def _torchrun(nproc: int, argv: list[str]) -> int:
    """``affect train ARGV`` in ``nproc`` local processes under torchrun; its exit code."""
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "affectkit.cli", "train", *argv]
    return subprocess.call(cmd)


def evaluate(
    run_dir: Path = typer.Argument(..., help="A run folder (…/seed0/<fold>) written by train."),
    split: str = typer.Option("test", "--split", help="train, valid or test."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reload a trained run and score one split of its fold."""
    from affectkit.experiment import evaluate_run

    m = evaluate_run(run_dir, split)
    if json_:
        print_json(m)
        return
    t = Table(title=f"{run_dir} · {split}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in m.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(t)


def benchmark(
    suite: str = typer.Argument(..., help="Suite name (configs/suites/NAME.yaml) or a path."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per trained entry."),
    only: list[str] = typer.Option(None, "--only", help="Only entries with these labels/names/models."),
    skip: list[str] = typer.Option(None, "--skip", help="Leave out entries with these labels/names/models."),
    out: Path = typer.Option(Path("benchmarks/results"), "--out", help="Results folder."),
    runs: Path = typer.Option(Path("runs/benchmarks"), "--runs", help="Checkpoints (reused)."),
    docs: Path = typer.Option(None, "--docs", help="Also update this markdown (docs/benchmarks.md)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run a suite: table of mean ± sd over seeds × folds, JSON + markdown under OUT."""
    from affectkit.evaluation.suites import load_suite, run_suite, to_markdown, update_docs, write_results

    s = load_suite(suite)
    argv = sys.argv[1:]
    if argv[:2] == ["bench", "suite"]:
        argv = argv[1:]
    command = "affect benchmark " + " ".join(shlex.quote(a) for a in argv[1:]) \
        if len(argv) > 1 and argv[0] in ("benchmark", "suite") else f"affect benchmark {suite} --seeds {seeds}"
    res = run_suite(s, seeds=seeds, run_root=runs, progress=not quiet,
                    only=list(only) if only else None, skip=list(skip) if skip else None,
                    console=console)
    jp, mp = write_results(res, out, command)
    if docs is not None:
        update_docs(res, docs, command)
    sys.stdout.write(to_markdown(res, command) + "\n")
    console.print(f"wrote {jp} and {mp}")


@models_app.command("list")
def models_list(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the registered models with their arguments and input forms."""
    from affectkit.models import MODELS, model_info

    rows = [model_info(n) for n in MODELS.names()]
    if json_:
        print_json(rows)
        return
    t = Table(title="affectkit models")
    for c in ("name", "kind", "inputs", "summary", "arguments"):
        t.add_column(c, overflow="fold")
    for r in rows:
        args = ", ".join(f"{k}={v}" for k, v in r["args"].items())
        t.add_row(r["name"], r["kind"], json.dumps(r["input_kinds"]), r["summary"], args)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    # `affect bench suite` is the name in the one benchmark group; `affect benchmark` stays as
    # its alias (every command line in docs/benchmarks.md uses it)
    app.command("benchmark", help="Alias of `affect bench suite`.")(benchmark)
    app.add_typer(models_app, name="models", help="The model registry.")
    _register_bench(app)


def bench_cost(
    results: Path = typer.Option(Path("benchmarks/results"), "--results", help="Suite JSON folder."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table."),
) -> None:
    """Run time per benchmark suite (wall seconds summed over its fold × seed runs)."""
    from affectkit.evaluation.suites import cost_summary

    rows = cost_summary(results)
    if not rows:
        raise typer.BadParameter(f"no suite results under {results} (run `affect benchmark SUITE`)")
    if json_:
        print_json(rows)
        return
    if markdown:
        total = sum(r["train_seconds"] for r in rows)
        lines = ["| suite | rows | fold × seed runs | run time | slowest row |", "|---|---|---|---|---|"]
        lines += [f"| {r['suite']} | {r['rows']} | {r['runs']} | {r['train_seconds'] / 60:.1f} min "
                  f"| {r['slowest'] or '–'} |" for r in rows]
        lines.append(f"| **all** | {sum(r['rows'] for r in rows)} | {sum(r['runs'] for r in rows)} "
                     f"| **{total / 60:.1f} min** ({total / 3600:.2f} h) | |")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    t = Table(title=f"benchmark cost ({results})")
    for c in ("suite", "rows", "fold × seed runs", "run time", "slowest row"):
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(r["suite"], str(r["rows"]), str(r["runs"]), f"{r['train_seconds'] / 60:.1f} min",
                  r["slowest"] or "–")
    total = sum(r["train_seconds"] for r in rows)
    t.add_row("all", str(sum(r["rows"] for r in rows)), str(sum(r["runs"] for r in rows)),
              f"{total / 60:.1f} min", "")
    console.print(t)


def _register_bench(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("cost")(bench_cost)
    bench_app.command("suite")(benchmark)
