"""``affect bench faces``: face detection on synthetic scenes + pipeline speed, beside Haar."""

from __future__ import annotations

import typer

from affectkit.cli._util import console


def bench_faces(
    scenes: int = typer.Option(200, "--scenes", help="Synthetic 640×360 scenes (also run at 720p)."),
    mosi_clips: int = typer.Option(40, "--mosi-clips", help="mosi400 clips for frame coverage."),
    seed: int = typer.Option(0, "--seed"),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Recall (faces ≥ 40 px), false positives per frame and speed: face-api vs Haar."""
    import datetime as dt
    import json
    from pathlib import Path

    from affectkit.evaluation.faces_bench import run

    res = run(n_scenes=scenes, mosi_clips=mosi_clips, seed=seed, progress=not quiet)
    cmd = f"affect bench faces --scenes {scenes} --mosi-clips {mosi_clips} --seed {seed}"
    res = {"command": cmd, "date": dt.date.today().isoformat(), **res}
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "faces.json").write_text(json.dumps(res, indent=1, default=float))
    (o / "faces.md").write_text(f"### Face detection\n\n`{cmd}` — {res['date']}\n\n"
                                f"{res['markdown']}\n")
    console.print(res["markdown"])


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("faces")(bench_faces)
