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
                              help="Any of synthetic (recall), speed, mosi (frame coverage), "
                                   "video (per-frame detection vs the face follower), passes (development "
                                   "study of every pass and union: use a seed other than 0)."),
    speed_frames: int = typer.Option(60, "--speed-frames", help="Scenes timed per resolution."),
    video_clips: int = typer.Option(8, "--video-clips", help="mosi400 clips for the video part."),
    detectors: str = typer.Option("", "--detectors",
                                  help="Comma-separated detector rows for the synthetic and mosi "
                                       "parts, e.g. tiny,accurate,ssd (SSD MobileNet v1 preset), "
                                       "haar320; default: the session-4 table. Unknown names "
                                       "list the choices."),
) -> None:
    """Recall (faces ≥ 40 px), false positives per frame and speed: face-api vs Haar."""
    import datetime as dt
    import json
    from pathlib import Path

    from affectkit.evaluation.faces_bench import run

    ps = tuple(p.strip() for p in parts.split(",") if p.strip())
    known = ("synthetic", "speed", "mosi", "video", "passes")
    bad = [p for p in ps if p not in known]
    if bad or not ps:
        raise typer.BadParameter(f"unknown part(s) {bad or parts!r}; use a comma-separated "
                                 f"list of {', '.join(known)}", param_hint="--parts")
    from affectkit.errors import DataError

    ds = tuple(d.strip() for d in detectors.split(",") if d.strip()) or None
    try:  # an unknown --detectors key is a DataError naming the choices, raised before any work
        res = run(n_scenes=scenes, mosi_clips=mosi_clips, seed=seed, progress=not quiet,
                  parts=ps, speed_frames=speed_frames, video_clips=video_clips, detectors=ds)
    except DataError as e:
        raise typer.BadParameter(str(e)) from None
    cmd = (f"affect bench faces --scenes {scenes} --mosi-clips {mosi_clips} --seed {seed} "
           f"--parts {','.join(ps)} --speed-frames {speed_frames}"
           + (f" --video-clips {video_clips}" if "video" in ps else "")
           + (f" --detectors {','.join(ds)}" if ds else ""))
    res = {"command": cmd, "date": dt.date.today().isoformat(), **res}
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "faces.json").write_text(json.dumps(res, indent=1, default=float))
    (o / "faces.md").write_text(f"### Face detection\n\n`{cmd}` — {res['date']}\n\n"
                                f"{res['markdown']}\n")
    console.print(res["markdown"])


def bench_active_speaker(
    pairs: int = typer.Option(20, "--pairs", help="Two-face clips (3 trials each)."),
    fps: float = typer.Option(10.0, "--fps", help="Frames per second (landmark method)."),
    seconds: float = typer.Option(6.0, "--seconds", help="Clip length."),
    seed: int = typer.Option(0, "--seed"),
    methods: str = typer.Option("landmarks,sync", "--methods",
                                help="Comma-separated: landmarks, sync (same trials)."),
    dev: bool = typer.Option(False, "--dev", help="Pairs from the development videos "
                             "(for choosing settings), not the held-out benchmark videos."),
    out: str = typer.Option("benchmarks/results", "--out", help="Folder for JSON + markdown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Two mosi400 speakers side by side, audio of one: is the speaking face chosen?"""
    import datetime as dt
    import json
    from pathlib import Path

    from affectkit.evaluation.active_speaker import BENCH_VIDEOS, DEV_VIDEOS, run

    ms = tuple(m.strip() for m in methods.split(",") if m.strip())
    bad = [m for m in ms if m not in ("landmarks", "sync")]
    if bad or not ms:
        raise typer.BadParameter(f"unknown method(s) {bad}; use landmarks and/or sync",
                                 param_hint="--methods")
    res = run(pairs=pairs, fps=fps, seconds=seconds, seed=seed, methods=ms,
              videos=DEV_VIDEOS if dev else BENCH_VIDEOS, progress=not quiet)
    cmd = (f"affect bench active-speaker --pairs {pairs} --fps {fps:g} --seconds {seconds:g} "
           f"--seed {seed} --methods {','.join(ms)}" + (" --dev" if dev else ""))
    res = {"command": cmd, "date": dt.date.today().isoformat(), **res}
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    name = "active_speaker_dev" if dev else "active_speaker"
    (o / f"{name}.json").write_text(json.dumps(res, indent=1, default=float))
    (o / f"{name}.md").write_text(f"### Active speaker\n\n`{cmd}` — {res['date']}\n\n"
                                  f"{res['markdown']}\n")
    console.print(res["markdown"])


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    bench_app.command("faces")(bench_faces)
    bench_app.command("active-speaker")(bench_active_speaker)
