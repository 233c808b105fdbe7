"""Voice commands (issue 11): ``affect bench asr`` (WER of Whisper base / tiny.en on mosi400),
``affect bench diarise`` (DER on synthetic conversations) and ``affect defaults build-voice``
(the shipped Whisper-feature voice emotion model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from affectkit.cli._util import console


def bench_asr(
    limit: int = typer.Option(None, "--limit", help="Only N clips, spread over the 16 videos."),
    models: str = typer.Option("base,tiny.en", "--models", help="Comma-separated: base, tiny.en."),
    out: Path = typer.Option(Path("benchmarks/results/asr.json"), "--out", help="JSON results."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Word error rate and speed of the Whisper ASR models on the mosi400 clips."""
    import datetime as _dt
    import platform

    from affectkit.data.base import shared_data_root
    from affectkit.errors import DataError
    from affectkit.evaluation.asr_wer import run

    base = shared_data_root()
    root = base / "multimodal" / "mosi400" if base else None
    if root is None or not root.exists():
        raise DataError("bench asr needs the mosi400 corpus ($AFFECTKIT_DATA/multimodal/mosi400)")
    res = run(root, models=tuple(m.strip() for m in models.split(",")), limit=limit,
              progress=not quiet)
    res = {"date": _dt.date.today().isoformat(),
           "command": "affect bench asr" + (f" --limit {limit}" if limit else ""),
           "machine": f"{platform.machine()} CPU (shared, OMP_NUM_THREADS as set)", **res}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    for m, r in res["models"].items():
        console.print(f"{m}: WER {r['wer']:.3f} (mean per clip {r['mean_clip_wer']:.3f}), "
                      f"RTF {r['rtf']:.3f}, languages {r['segment_languages']}")
    console.print(f"wrote {out}")


def bench_diarise(
    n: int = typer.Option(9, "--n", help="Synthetic conversations (2-4 speakers)."),
    seed: int = typer.Option(100, "--seed", help="First seed of the conversations."),
    out: Path = typer.Option(Path("benchmarks/results/diarise.json"), "--out", help="JSON results."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Diarisation error rate on synthetic conversations from RAVDESS, EmoDB and EMOVO."""
    import datetime as _dt

    from affectkit.analysis.diarise import CAMPLUS_JIT, LINK_COS, MIN_SPEAKER_S, VAD, benchmark

    load = [round(os.getloadavg()[0], 2)]
    res = benchmark(n=n, seed=seed, progress=not quiet)
    load.append(round(os.getloadavg()[0], 2))
    res = {"date": _dt.date.today().isoformat(),
           "command": f"affect bench diarise --n {n} --seed {seed}", "link_cos": LINK_COS,
           "min_speaker_s": MIN_SPEAKER_S, "vad": VAD, "camplus_jit": CAMPLUS_JIT,
           "load_average_1min_start_end": load,
           "collar_s": 0.25, **res}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    console.print(f"mean DER {res['mean_der']:.3f} (no collar {res['mean_der_no_collar']:.3f}, "
                  f"speakers given {res['mean_oracle_der']:.3f}); single-speaker inputs found "
                  f"{[r['found'] for r in res['single_speaker']]} speakers; RTF {res['mean_rtf']:.3f}")
    console.print(f"wrote {out}")


def build_voice(
    dest: Path = typer.Option(None, "--dest", help="Export folder (default: weights/default/"
                              "voice_emotion_whisper)."),
    head: str = typer.Option("lr", "--head", help="lr (logistic regression) or mlp."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    feature: str = typer.Option("audio.whisper", "--feature", help="audio.whisper (fast) or "
                                "audio.whisper_pad30 (30 s padding: slower, more accurate)."),
    augment: int = typer.Option(0, "--augment", help="K augmented copies of every clip as extra "
                                "training rows (speed ±10 %, gain, noise SNR 10–30 dB)."),
) -> None:
    """Train the Whisper-feature voice emotion model on all shared speech corpora and export it."""
    from affectkit.evaluation.voice_build import build

    if head not in ("lr", "mlp"):
        raise typer.BadParameter("--head must be lr or mlp")
    if feature not in ("audio.whisper", "audio.whisper_pad30"):
        raise typer.BadParameter("--feature must be audio.whisper or audio.whisper_pad30")
    if augment < 0:
        raise typer.BadParameter("--augment must be ≥ 0")
    res = build(dest, head=head, progress=not quiet, feature=feature, augment=augment)
    console.print_json(json.dumps(res, default=str))


def register(app: typer.Typer) -> None:
    from affectkit.cli.defaults import app as defaults_app
    from affectkit.cli.features import bench_app

    bench_app.command("asr")(bench_asr)
    bench_app.command("diarise")(bench_diarise)
    defaults_app.command("build-voice")(build_voice)
