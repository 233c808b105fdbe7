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
    parts: str = typer.Option("synthetic,speed,mosi", "--parts",
                              help="Any of synthetic (recall), speed, mosi (frame coverage)."),
    speed_frames: int = typer.Option(60, "--speed-frames", help="Scenes timed per resolution."),
) -> None:
    """Recall (faces ≥ 40 px), false positives per frame and speed: face-api vs Haar."""
    import datetime as dt
    import json
    from pathlib import Path

    from affectkit.evaluation.faces_bench import run

    ps = tuple(p.strip() for p in parts.split(","))
    res = run(n_scenes=scenes, mosi_clips=mosi_clips, seed=seed, progress=not quiet, parts=ps,
              speed_frames=speed_frames)
    cmd = (f"affect bench faces --scenes {scenes} --mosi-clips {mosi_clips} --seed {seed} "
           f"--parts {','.join(ps)} --speed-frames {speed_frames}")
    res = {"command": cmd, "date": dt.date.today().isoformat(), **res}
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "faces.json").write_text(json.dumps(res, indent=1, default=float))
    (o / "faces.md").write_text(f"### Face detection\n\n`{cmd}` — {res['date']}\n\n"
                                f"{res['markdown']}\n")
    console.print(res["markdown"])


def bench_active_speaker(
    pairs: int = typer.Option(20, "--pairs", help="Two-face clips (3 trials each)."),
    fps: float = typer.Option(10.0, "--fps", help="Frames per second sampled."),
    seconds: float = typer.Option(6.0, "--seconds", help="Clip length."),
    seed: int = typer.Option(0, "--seed"),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Two mosi400 speakers side by side, audio of one: is the speaking face chosen?"""
    import datetime as dt
    import json
    from pathlib import Path

    from affectkit.evaluation.active_speaker import run

    res = run(pairs=pairs, fps=fps, seconds=seconds, seed=seed, progress=not quiet)
    cmd = (f"affect bench active-speaker --pairs {pairs} --fps {fps:g} --seconds {seconds:g} "
           f"--seed {seed}")
    res = {"command": cmd, "date": dt.date.today().isoformat(), **res}
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "active_speaker.json").write_text(json.dumps(res, indent=1, default=float))
    (o / "active_speaker.md").write_text(f"### Active speaker\n\n`{cmd}` — {res['date']}\n\n"
                                         f"{res['markdown']}\n")
    console.print(res["markdown"])


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("faces")(bench_faces)
    bench_app.command("active-speaker")(bench_active_speaker)
