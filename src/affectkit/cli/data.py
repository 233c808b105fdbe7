"""Corpora: list loaders, inspect a corpus, export a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from affectkit.cli._util import console, err_console, print_json

NAME = "data"
app = typer.Typer(no_args_is_help=True)

ROOT_HELP = "Corpus root folder (the original public layout). Default: $AFFECTKIT_DATA/<corpus>."


@app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the corpus loaders (and corpora imported from feature files)."""
    import affectkit.features.imported  # noqa: F401  (registers imported corpora)
    from affectkit.data import CORPORA

    rows = []
    for name, cls in CORPORA.items():
        rows.append({
            "name": name,
            "title": cls.title,
            "modalities": [str(m) for m in cls.modalities],
            "labels": list(cls.label_space.emotions),
            "sentiment": cls.label_space.sentiment,
            "official_split": cls.official_split,
            "speaker_independent_split": cls.speaker_independent_split,
            "language": cls.language,
            "licence": cls.licence,
            "layout": cls.layout,
        })
    if json_:
        print_json(rows)
        return
    t = Table(title="affectkit corpora")
    for col in ("name", "title", "modalities", "labels", "split", "licence"):
        t.add_column(col, overflow="fold")
    for r in rows:
        labels = ", ".join(r["labels"][:8]) + (" …" if len(r["labels"]) > 8 else "")
        if r["sentiment"]:
            labels = (labels + "; " if labels else "") + f"sentiment ({r['sentiment']})"
        split = "speaker folds"
        if r["official_split"]:
            split = "official" + (" (speaker-indep.)" if r["speaker_independent_split"] else "")
        t.add_row(r["name"], r["title"], ",".join(r["modalities"]), labels, split, r["licence"])
    console.print(t)


OPTION_HELP = "Loader option KEY=VALUE (repeatable), e.g. test_session=4 (see docs/data.md)."


def _options(pairs: list[str] | None) -> dict:
    import yaml

    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise typer.BadParameter(f"--option {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def _load(name: str, root: Path | None, strict: bool, options: list[str] | None = None):
    from affectkit.data import load_corpus
    from affectkit.errors import ConfigError

    opts = _options(options)
    with console.status(f"reading {name} …", spinner="dots"):
        try:
            return load_corpus(name, root, strict=strict, **opts)
        except TypeError as e:
            if opts and "unexpected keyword" in str(e):
                raise ConfigError(f"{name}: unknown loader option ({e}); see docs/data.md") from None
            raise


@app.command()
def info(
    name: str = typer.Argument(..., help="Corpus name (see `affect data list`)."),
    root: Path = typer.Option(None, "--root", help=ROOT_HELP),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object."),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad item."),
    option: list[str] = typer.Option(None, "--option", help=OPTION_HELP),
) -> None:
    """Counts per split and label, speakers, and every problem found."""
    res = _load(name, root, strict, option)
    s = res.summary()
    if json_:
        print_json(s)
        return
    console.print(f"[bold]{name}[/] at {s['root']}: [bold]{s['total']}[/] items, "
                  f"{s['n_speakers']} speakers, {s['n_dialogues']} dialogues, "
                  f"modalities: {', '.join(s['modalities'])}")
    for title, d in (("split", s["by_split"]), ("label", s["by_label"])):
        t = Table(title=f"by {title}")
        t.add_column(title)
        t.add_column("n", justify="right")
        for k, v in d.items():
            t.add_row(k, str(v))
        console.print(t)
    if s["issues"]:
        err_console.print(f"[yellow]{len(s['issues'])} issues[/] (not loaded):")
        for i in res.issues[:20]:
            err_console.print(f"  {i}", highlight=False)
        if len(res.issues) > 20:
            err_console.print(f"  … and {len(res.issues) - 20} more (see --json)")
    else:
        console.print("[green]no issues[/]")


@app.command()
def export(
    name: str = typer.Argument(..., help="Corpus name."),
    root: Path = typer.Option(None, "--root", help=ROOT_HELP),
    output: Path = typer.Option(..., "-o", "--output", help="manifest.jsonl or manifest.parquet"),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad item."),
    option: list[str] = typer.Option(None, "--option", help=OPTION_HELP),
) -> None:
    """Write one row per utterance (the common schema) to JSONL or Parquet."""
    from affectkit.data.manifest import write_manifest

    res = _load(name, root, strict, option)
    write_manifest(res.utterances, output)
    console.print(f"wrote {len(res)} utterances to {output}"
                  + (f" ([yellow]{len(res.issues)} issues[/] not exported; see `affect data info`)"
                     if res.issues else ""))


@app.command("bench", help="Alias of `affect bench data`.")
def bench(
    names: list[str] = typer.Argument(None, help="Corpora (default: every one with a shared copy)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Time `affect data info` per corpus: a fresh process each, as a user runs it."""
    import subprocess
    import sys
    import time

    from affectkit.data import CORPORA, shared_data_root

    base = shared_data_root()
    if not names:
        names = [n for n, c in CORPORA.items()
                 if base and c.shared_subdir and (base / c.shared_subdir).exists()]
    rows = []
    for n in names:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "affectkit.cli", "data", "info", n, "--json"],
                             capture_output=True, text=True)
        dt = time.perf_counter() - t0
        total = json.loads(out.stdout)["total"] if out.returncode == 0 else None
        rows.append({"corpus": n, "items": total, "seconds": round(dt, 2),
                     "error": out.stderr.strip()[-200:] if out.returncode else None})
    if json_:
        print_json(rows)
        return
    t = Table(title="affect data info, wall time (fresh process)")
    for c in ("corpus", "items", "seconds"):
        t.add_column(c, justify="right" if c != "corpus" else "left")
    for r in sorted(rows, key=lambda r: -(r["items"] or 0)):
        t.add_row(r["corpus"], f"{r['items']:,}" if r["items"] else "[red]failed[/]", f"{r['seconds']:.2f}")
    console.print(t)
