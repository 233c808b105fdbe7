"""Active-speaker benchmark on synthetic two-face clips (``affect bench active-speaker``).

Protocol: pairs of mosi400 clips from different videos (different speakers), both talking.
Their frames, sampled at ``fps``, are scaled to 320×180 and placed side by side in a 640×360
frame; the audio is one clip's (trial "left" and trial "right", each pair both ways), cut to
the shorter clip. The face pipeline (:class:`~affectkit.features.vision.detect.FaceApiDetector`
→ :func:`~affectkit.features.vision.tracks.track_faces` →
:func:`~affectkit.features.vision.tracks.active_speaker`) must pick the track on the side whose
audio plays (goal: ≥ 90 % of trials). A third trial per pair plays a clip of a *third* video:
neither face speaks, and the right answer is "no speaker" (reported as the share of such
trials answered "no speaker").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# mosi400 videos (≈ speakers) split once (numpy default_rng(0).permutation of the 16 sorted ids):
# the benchmark draws its pairs only from BENCH_VIDEOS; the sync model is trained on
# TRAIN_VIDEOS; settings (epochs, score, "no speaker" threshold) are chosen on pairs of
# DEV_VIDEOS. run() asserts that no benchmark video was in the shipped model's training data.
BENCH_VIDEOS = ("1DmNV9C1hbY", "8d-gEyoeBzc", "1iG0909rllw", "8OtFthrtaJM", "03bSnISJMiM",
                "2WGyTLYerpo")
DEV_VIDEOS = ("6Egk_28TtTM", "2iD-tVS8NPw", "9c67fiY0wGQ")
TRAIN_VIDEOS = ("8qrpnFRGt2A", "5W7Z1C_fDaE", "7JsX8y1ysxY", "9J25DZhivz8", "6_0THN4chvY",
                "0h-zjBukYpk", "_dI--eQ6qVU")


def _clip(path, fps: float, seconds: float):
    from affectkit.media import iter_frames, load_audio

    frames = [(f.t, f.image) for f in iter_frames(path, fps=fps, end=seconds)]
    audio = load_audio(path, end=seconds)
    return frames, audio


def compose(a, b, fps: float):
    """Side-by-side frames (640×360) of two clips' frame lists, cut to the shorter."""
    import cv2

    n = min(len(a), len(b))
    out = []
    for i in range(n):
        canvas = np.full((360, 640, 3), 40, np.uint8)
        canvas[90:270, :320] = cv2.resize(a[i][1], (320, 180), interpolation=cv2.INTER_AREA)
        canvas[90:270, 320:] = cv2.resize(b[i][1], (320, 180), interpolation=cv2.INTER_AREA)
        out.append(canvas)
    return out, np.arange(n) / fps


def face_tracks(frames, detector=None):
    from affectkit.features.vision.detect import FaceApiDetector
    from affectkit.features.vision.tracks import track_faces

    det = detector or FaceApiDetector(landmarks="full")
    return track_faces([det.detect(f) for f in frames])


def decide_landmarks(tracks, times, audio, sr: int):
    from affectkit.features.vision.tracks import active_speaker, speech_energy

    res = active_speaker(tracks, speech_energy(audio, sr, times))
    side = None
    if res.speaker is not None:
        tr = next(t for t in tracks if t.id == res.speaker)
        side = "left" if np.mean([f.center[0] for f in tr.frames.values()]) < 320 else "right"
    return side, res, tracks


def sync_tracks(frames, detect_every: int = 5, detector=None):
    """Face tracks of the sync method: detection (tiny landmarks) on every ``detect_every``-th
    frame; returns (tracks indexed by detection, detection frame indices)."""
    from affectkit.features.vision.detect import FaceApiDetector
    from affectkit.features.vision.tracks import track_faces

    det = detector or FaceApiDetector(landmarks="tiny")
    idx = list(range(0, len(frames), detect_every))
    return track_faces(det.detect_batch([frames[i] for i in idx]), max_gap=1), np.array(idx)


def _side(tracks, speaker) -> str | None:
    if speaker is None:
        return None
    tr = next(t for t in tracks if t.id == speaker)
    return "left" if np.mean([f.center[0] for f in tr.frames.values()]) < 320 else "right"


def check_disjoint(videos) -> None:
    """Assert that no clip of ``videos`` was in the shipped sync model's training data."""
    from affectkit.features.vision.avsync import load_model

    meta = load_model()[1]
    used = {_video_id(c) for c in meta["train_clips"]} | set(meta["train_videos"])
    overlap = used & set(videos)
    assert not overlap, f"benchmark videos {sorted(overlap)} were used to train the sync model"


def run(*, pairs: int = 20, fps: float = 10.0, seconds: float = 6.0, seed: int = 0,
        methods: tuple[str, ...] = ("landmarks", "sync"), videos=BENCH_VIDEOS,
        sync_min_score: float | None = None, detect_every: int = 5,
        progress: bool = True) -> dict:
    """Trials of the protocol above on pairs drawn from ``videos`` (default: the held-out
    BENCH_VIDEOS); each method decides on the same trials. ``fps`` is the landmark method's
    sampling rate; the sync method samples 25 fps and detects every ``detect_every``-th frame."""
    import time

    import torch
    from rich.progress import Progress

    from affectkit.evaluation.faces_bench import _shared
    from affectkit.features.vision import avsync
    from affectkit.features.vision.tracks import SYNC_MIN_SCORE, decide
    from affectkit.media import SAMPLE_RATE, duration

    torch.set_num_threads(1)
    if "sync" in methods and tuple(videos) == BENCH_VIDEOS:
        check_disjoint(videos)
    thr = SYNC_MIN_SCORE if sync_min_score is None else sync_min_score
    vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
    by_video: dict[str, list] = {}
    for v in vids:  # clips long enough for the trial
        if _video_id(v) in set(videos) and (duration(v) or 0.0) >= seconds + 0.2:
            by_video.setdefault(_video_id(v), []).append(v)
    rng = np.random.default_rng(seed)
    names = sorted(by_video)
    trials = []
    cost = {m: 0.0 for m in methods}
    model = avsync.load_model()[0] if "sync" in methods else None
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("pairs", total=pairs)
        for _ in range(pairs):
            va, vb, vc = rng.choice(names, 3, replace=False)
            pa, pb, pc = (by_video[x][int(rng.integers(len(by_video[x])))] for x in (va, vb, vc))
            rows = [{"left": pa.name, "right": pb.name, "third": pc.name, "audio_truth": truth}
                    for truth in ("left", "right", None)]
            if "landmarks" in methods:
                t0 = time.process_time()
                fa, aa = _clip(pa, fps, seconds)
                fb, ab = _clip(pb, fps, seconds)
                _, ac = _clip(pc, fps, seconds)
                frames, times = compose(fa, fb, fps)
                n_audio = int((times[-1] + 1.0 / fps) * SAMPLE_RATE) if len(times) else 0
                tracks = face_tracks(frames)
                for row, audio in zip(rows, (aa, ab, ac)):
                    side, res, _ = decide_landmarks(tracks, times, audio[:n_audio], SAMPLE_RATE)
                    row["landmarks"] = {"chosen": side, "confidence": res.confidence,
                                        "scores": res.scores, "tracks": len(tracks)}
                cost["landmarks"] += time.process_time() - t0
            if "sync" in methods:
                t0 = time.process_time()
                f25 = avsync.FPS
                fa, aa = _clip(pa, f25, seconds)
                fb, ab = _clip(pb, f25, seconds)
                _, ac = _clip(pc, f25, seconds)
                frames, times = compose(fa, fb, f25)
                n_audio = int((times[-1] + 1.0 / f25) * SAMPLE_RATE) if len(times) else 0
                tracks, idx = sync_tracks(frames, detect_every)
                geo = {tr.id: avsync.track_geometry([(float(times[idx[i]]), f)
                                                     for i, f in tr.frames.items()])
                       for tr in tracks}
                crops = avsync.track_mouth_crops(frames, times, geo)
                for row, audio in zip(rows, (aa, ab, ac)):
                    sc = avsync.track_scores(crops, times, audio[:n_audio], SAMPLE_RATE,
                                             model=model)
                    res = decide([(s, se, k) for k, (s, se) in sc.items()], min_score=thr)
                    row["sync"] = {"chosen": _side(tracks, res.speaker),
                                   "confidence": res.confidence, "scores": res.scores,
                                   "se": {k: round(se, 4) for k, (_, se) in sc.items()},
                                   "sides": {tr.id: _side(tracks, tr.id) for tr in tracks},
                                   "min_score": thr,
                                   "tracks": len(tracks)}
                cost["sync"] += time.process_time() - t0
            trials.extend(rows)
            bar.advance(task)
    summary = {m: summarise(trials, m) for m in methods}
    if "sync" in methods:  # the same scores as a forced choice (never "no speaker")
        for t in trials:
            sc = t["sync"]["scores"]
            t["sync_forced"] = {"chosen": t["sync"]["sides"][max(sc, key=sc.get)] if sc else None}
        summary["sync, forced choice"] = summarise(trials, "sync_forced")
    md = ("| method | trials | speaking face chosen | no speaker answered (speaker visible) | "
          "'no speaker' when neither face speaks | CPU s per pair |\n|---|---|---|---|---|---|\n"
          + "\n".join(f"| {m} | {s['n_speaking']} + {s['n_none']} | {s['accuracy']:.3f} | "
                      f"{s['abstain']:.3f} | {s['no_speaker_correct']:.3f} | "
                      f"{cost.get(m, cost.get('sync', 0.0)) / max(pairs, 1):.1f} |"
                      for m, s in summary.items()))
    return {"protocol": __doc__.split("\n\n", 1)[1].strip(), "pairs": pairs, "fps": fps,
            "sync_fps": avsync.FPS, "detect_every": detect_every, "seconds": seconds,
            "seed": seed, "videos": list(videos), "sync_min_score": thr,
            "cpu_seconds_per_pair": {m: round(c / max(pairs, 1), 2) for m, c in cost.items()},
            "summary": summary, "trials": trials, "markdown": md}


def summarise(trials, method: str) -> dict:
    spk = [t for t in trials if t["audio_truth"] is not None and method in t]
    none = [t for t in trials if t["audio_truth"] is None and method in t]
    return {"n_speaking": len(spk), "n_none": len(none),
            "accuracy": float(np.mean([t[method]["chosen"] == t["audio_truth"] for t in spk])),
            "abstain": float(np.mean([t[method]["chosen"] is None for t in spk])),
            "no_speaker_correct": float(np.mean([t[method]["chosen"] is None for t in none]))}


# -- learned audio-visual sync: training data and training ---------------------------------------
def _video_id(path) -> str:
    from pathlib import Path

    return Path(path).stem.rsplit("_", 1)[0]


def prepare_clip(path, *, detect_every: int = 5, max_seconds: float = 20.0, detector=None
                 ) -> dict | None:
    """Mouth crops (25 fps, the clip's main face) and log-mel of one single-speaker clip."""
    from affectkit.features.vision import avsync
    from affectkit.features.vision.detect import FaceApiDetector
    from affectkit.features.vision.tracks import track_faces
    from affectkit.media import duration, iter_frames, load_audio

    # mosi400 faces are large (≥ 100 px in 640×360): a 320-px pass finds them, 4× cheaper
    det = detector or FaceApiDetector(landmarks="tiny", detect_side=320, coarse_side=160)
    end = min(max_seconds, duration(path) or max_seconds)
    fr = list(iter_frames(path, fps=avsync.FPS, end=end))
    frames = [f.image for f in fr]
    idx = list(range(0, len(frames), detect_every))
    found = det.detect_batch([frames[i] for i in idx])
    tracks = track_faces(found, max_gap=1)
    if not tracks:
        return None
    tr = tracks[0]
    crops, valid = avsync.mouth_crops(frames, {idx[k]: f for k, f in tr.frames.items()})
    mel = avsync.log_mel(load_audio(path, end=end))
    return {"crops": crops, "valid": valid, "times": np.array([f.t for f in fr], np.float32),
            "mel": mel.astype(np.float16)}


def prepare(videos, cache_dir, *, detect_every: int = 5, progress: bool = True) -> list:
    """Cache :func:`prepare_clip` for every mosi400 clip of ``videos`` (npz per clip)."""
    from pathlib import Path

    from rich.progress import Progress

    from affectkit.evaluation.faces_bench import _shared

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    clips = [v for v in sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
             if _video_id(v) in set(videos)]
    out, bad = [], []
    with Progress(disable=not progress) as bar:
        task = bar.add_task("mouth crops", total=len(clips))
        for v in clips:
            f = cache / f"{v.stem}.npz"
            if not f.exists():
                try:
                    d = prepare_clip(v, detect_every=detect_every)
                except Exception as e:  # noqa: BLE001 - a bad clip is reported, the rest go on
                    bad.append(f"{v.name}: {e}")
                    d = None
                if d is None:
                    bad.append(f"{v.name}: no face track")
                    bar.advance(task)
                    continue
                np.savez_compressed(f, **d)
            out.append(f)
            bar.advance(task)
    for b in bad:
        print("skipped", b)
    return out


def _load_cache(files):
    """Concatenated crops/valid/mel of cached clips and each in-sync window's indices."""
    crops, valid, mels, anchors, clip_of = [], [], [], [], []
    off_f = off_m = 0
    from affectkit.features.vision import avsync

    h, hm = avsync.WINDOW // 2, 2 * avsync.WINDOW
    for k, f in enumerate(files):
        d = np.load(f)
        c, v, t, m = d["crops"], d["valid"], d["times"], d["mel"].astype(np.float32)
        n = len(c)
        for i in range(h, n - h):
            cm = int(round(float(t[i]) * avsync.MEL_HZ))
            if v[i - h:i + h + 1].all() and cm - hm >= 0 and cm + hm <= len(m):
                anchors.append((off_f + i, off_m + cm, off_m, off_m + len(m)))
                clip_of.append(k)
        crops.append(c)
        valid.append(v)
        mels.append(m)
        off_f += n
        off_m += len(m)
    return (np.concatenate(crops), np.concatenate(mels), np.array(anchors, np.int64),
            np.array(clip_of))


def train_sync(train_files, dev_files, *, steps: int = 3000, batch: int = 64,
               shifts: int = 4, lr: float = 2e-3, seed: int = 0, progress: bool = True,
               eval_every: int = 250, strong_aug: bool = False) -> dict:
    """Contrastive training of the sync model (see :mod:`affectkit.features.vision.avsync`).

    Per anchor window the candidates are the in-sync audio of every anchor in the batch
    (other clips: other speakers or other moments) and ``shifts`` windows of its own clip
    shifted by ≥ ``MIN_SHIFT`` frames; cross-entropy on cosine / 0.07. Augmentation: random
    32-px crop of the 40-px crops, mirror; ``strong_aug`` adds random down-sampling (×0.35–0.8,
    small faces), pixel noise and masking of up to 6 mel bands. The step count with
    the best development accuracy (in-sync audio beats the shifted ones, dev videos) is kept.
    """
    import copy
    import time

    import torch
    from rich.progress import Progress

    from affectkit.features.vision import avsync

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    crops, mel, anchors, _ = _load_cache(train_files)
    dcrops, dmel, danchors, dclip = _load_cache(dev_files)
    crops_t = torch.from_numpy(crops)
    mel_t = torch.from_numpy(mel)
    model = avsync.build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    h, hm = avsync.WINDOW // 2, 2 * avsync.WINDOW
    ms = int(round(avsync.MIN_SHIFT / avsync.FPS * avsync.MEL_HZ))
    span = torch.arange(-h, h + 1)
    mspan = torch.arange(-hm, hm)
    cc = avsync.CACHE_CROP - avsync.CROP

    def video_batch(ix, aug):
        w = crops_t[torch.as_tensor(anchors[ix, 0])[:, None] + span].float()  # B, T, 40, 40
        if aug:
            ox, oy = rng.integers(0, cc + 1, 2)
            w = w[:, :, oy:oy + avsync.CROP, ox:ox + avsync.CROP]
            if rng.random() < 0.5:
                w = w.flip(-1)
            if strong_aug and rng.random() < 0.5:  # lower resolution (small faces), noise
                k = float(rng.uniform(0.35, 0.8))
                b, t = w.shape[:2]
                lo = torch.nn.functional.interpolate(w.reshape(b * t, 1, *w.shape[2:]),
                                                     scale_factor=k, mode="area")
                w = torch.nn.functional.interpolate(lo, size=w.shape[2:], mode="bilinear",
                                                    align_corners=False).reshape(w.shape)
            if strong_aug:
                w = w + float(rng.uniform(0, 4)) * torch.randn_like(w)
        else:
            w = w[:, :, cc // 2:cc // 2 + avsync.CROP, cc // 2:cc // 2 + avsync.CROP]
        return avsync._norm_crops(w)

    def shifted_centres(a, k):
        lo, hi = a[2] + hm, a[3] - hm  # valid centre range of the clip
        cand = np.r_[lo:max(lo, a[1] - ms + 1), min(hi, a[1] + ms):hi]
        if not len(cand):
            return None
        return rng.choice(cand, k)

    def dev_accuracy() -> dict:
        """Share of dev windows whose in-sync audio beats the shifted (±13, 17, 21, 25 frames)."""
        model.eval()
        wins = 0
        n = 0
        sel = np.random.default_rng(1).choice(len(danchors), min(600, len(danchors)), replace=False)
        dc, dm = torch.from_numpy(dcrops), torch.from_numpy(dmel)
        with torch.inference_mode():
            for s in range(0, len(sel), 256):
                ix = sel[s:s + 256]
                a = danchors[ix]
                w = dc[torch.as_tensor(a[:, 0])[:, None] + span].float()
                w = avsync._norm_crops(w[:, :, cc // 2:cc // 2 + avsync.CROP,
                                         cc // 2:cc // 2 + avsync.CROP])
                v = model.embed_video(w)
                best_other = torch.full((len(ix),), -2.0)
                c0 = model.embed_audio(dm[torch.as_tensor(a[:, 1])[:, None] + mspan])
                s0 = (v * c0).sum(-1)
                for sh in (-25, -21, -17, -13, 13, 17, 21, 25):
                    c = a[:, 1] + int(round(sh / avsync.FPS * avsync.MEL_HZ))
                    good = (c - hm >= a[:, 2]) & (c + hm <= a[:, 3])
                    c = np.where(good, c, a[:, 1])
                    sc = (v * model.embed_audio(dm[torch.as_tensor(c)[:, None] + mspan])).sum(-1)
                    best_other = torch.where(torch.as_tensor(good), torch.maximum(best_other, sc),
                                             best_other)
                wins += int((s0 > best_other).sum())
                n += len(ix)
        model.train()
        return {"dev_windows": n, "dev_sync_top1": wins / max(n, 1)}

    log = []
    best = (-1.0, None, 0)
    t0 = time.time()
    model.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task("sync training", total=steps)
        for step in range(1, steps + 1):
            ix = rng.choice(len(anchors), batch, replace=False)
            v = model.embed_video(video_batch(ix, True))
            cen = [anchors[i, 1] for i in ix]
            neg = []
            for i in ix:
                sc = shifted_centres(anchors[i], shifts)
                neg.append(sc if sc is not None else np.full(shifts, anchors[i, 1]))
            all_c = np.concatenate([np.array(cen), np.concatenate(neg)])
            mw = mel_t[torch.as_tensor(all_c)[:, None] + mspan]
            if strong_aug:  # frequency masking: up to 6 bands per window
                lo = torch.randint(0, avsync.N_MELS - 6, (len(mw), 1, 1))
                wd = torch.randint(0, 7, (len(mw), 1, 1))
                band = torch.arange(avsync.N_MELS)[None, None]
                mw = mw.masked_fill((band >= lo) & (band < lo + wd), 0.0)
            a = model.embed_audio(mw)
            a_pos, a_neg = a[:batch], a[batch:].view(batch, shifts, -1)
            logits = torch.cat([v @ a_pos.T, torch.einsum("bd,bkd->bk", v, a_neg)], 1) / 0.07
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(batch))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.advance(task)
            if step % eval_every == 0 or step == steps:
                r = {"step": step, "loss": round(float(loss.detach()), 4), **dev_accuracy(),
                     "seconds": round(time.time() - t0, 1)}
                log.append(r)
                print(r, flush=True)
                if r["dev_sync_top1"] > best[0]:
                    best = (r["dev_sync_top1"], copy.deepcopy(model.state_dict()), step)
    model.load_state_dict(best[1])
    return {"model": model, "log": log, "best_step": best[2], "dev_sync_top1": best[0],
            "train_windows": len(anchors), "params": sum(p.numel() for p in model.parameters())}


def train_command(argv=None) -> None:
    """``python -m affectkit.evaluation.active_speaker train [--steps N] [--cache DIR]``:
    caches mouth crops of TRAIN_VIDEOS + DEV_VIDEOS (mosi400), trains on TRAIN_VIDEOS, keeps
    the step with the best dev sync accuracy, writes ``weights/avsync/avsync.{safetensors,json}``.
    """
    import argparse
    import datetime as dt
    import json
    import os

    import torch
    from safetensors.torch import save_file

    from affectkit.features.vision import avsync

    ap = argparse.ArgumentParser(prog="python -m affectkit.evaluation.active_speaker train")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/affectkit/avsync"))
    ap.add_argument("--out", default=str(avsync.WEIGHTS_DIR))
    ap.add_argument("--strong-aug", action="store_true",
                    help="down-sampled crops, pixel noise, mel band masking")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    assert not set(TRAIN_VIDEOS) & set(BENCH_VIDEOS) and not set(DEV_VIDEOS) & set(BENCH_VIDEOS)
    files = prepare(TRAIN_VIDEOS + DEV_VIDEOS, a.cache, progress=not a.quiet)
    tr = [f for f in files if _video_id(f) in TRAIN_VIDEOS]
    dv = [f for f in files if _video_id(f) in DEV_VIDEOS]
    r = train_sync(tr, dv, steps=a.steps, batch=a.batch, seed=a.seed,
                   progress=not a.quiet, strong_aug=a.strong_aug)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in r["model"].state_dict().items()},
              str(out / "avsync.safetensors"))
    meta = {"command": "python -m affectkit.evaluation.active_speaker train "
                       f"--steps {a.steps} --batch {a.batch} --seed {a.seed}"
                       + (" --strong-aug" if a.strong_aug else ""),
            "date": dt.date.today().isoformat(), "fps": avsync.FPS, "window": avsync.WINDOW,
            "crop": avsync.CROP, "mouth_side": avsync.MOUTH_SIDE, "n_mels": avsync.N_MELS,
            "params": r["params"], "best_step": r["best_step"],
            "dev_sync_top1": round(r["dev_sync_top1"], 4), "log": r["log"],
            "train_windows": r["train_windows"], "train_videos": list(TRAIN_VIDEOS),
            "dev_videos": list(DEV_VIDEOS), "train_clips": sorted(Path(f).stem for f in tr),
            "data": "CMU-MOSI raw segments (mosi400, research use), training videos only"}
    (out / "avsync.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({k: v for k, v in meta.items() if k not in ("train_clips", "log")}))


def threshold_sweep(trials, thresholds=None) -> tuple[float, str]:
    """The "no speaker" threshold for the sync score from development trials: the smallest
    with the best accuracy over all trials (speaking and neither-face-speaks); and a table."""
    ths = np.round(np.arange(0.0, 0.155, 0.01), 3) if thresholds is None else thresholds
    rows, best = [], (0.0, -1.0)
    for thr in ths:
        sp, no = [], []
        for t in trials:
            sc = {int(k): v for k, v in t["sync"]["scores"].items()}
            sides = {int(k): v for k, v in t["sync"]["sides"].items()}
            k = max(sc, key=sc.get)
            chosen = sides[k] if sc[k] >= thr else None
            (sp if t["audio_truth"] is not None else no).append(chosen == t["audio_truth"])
        acc = float(np.mean(sp + no))
        rows.append(f"| {thr:.2f} | {np.mean(sp):.3f} | {np.mean(no):.3f} | {acc:.3f} |")
        if acc > best[1] + 1e-12:
            best = (float(thr), acc)
    md = ("| threshold | speaking face chosen | 'no speaker' when neither speaks | all trials |\n"
          "|---|---|---|---|\n" + "\n".join(rows))
    return best[0], md


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "train":
        train_command(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "sweep":
        import json

        thr, table = threshold_sweep(json.loads(Path(sys.argv[2]).read_text())["trials"])
        print(table + f"\n\nchosen: {thr:.2f}")
    else:
        sys.exit("usage: python -m affectkit.evaluation.active_speaker train [--steps N] | "
                 "sweep DEV_RESULTS.json")
