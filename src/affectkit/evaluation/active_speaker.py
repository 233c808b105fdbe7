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

import numpy as np


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


def decide(tracks, times, audio, sr: int):
    from affectkit.features.vision.tracks import active_speaker, speech_energy

    res = active_speaker(tracks, speech_energy(audio, sr, times))
    side = None
    if res.speaker is not None:
        tr = next(t for t in tracks if t.id == res.speaker)
        side = "left" if np.mean([f.center[0] for f in tr.frames.values()]) < 320 else "right"
    return side, res, tracks


def run(*, pairs: int = 20, fps: float = 10.0, seconds: float = 6.0, seed: int = 0,
        progress: bool = True) -> dict:
    import torch
    from rich.progress import Progress

    from affectkit.evaluation.faces_bench import _shared
    from affectkit.media import SAMPLE_RATE, duration

    torch.set_num_threads(1)
    vids = sorted(_shared("multimodal/mosi400/video").glob("*.mp4"))
    by_video: dict[str, list] = {}
    for v in vids:  # clips long enough for the trial
        if (duration(v) or 0.0) >= seconds + 0.2:
            by_video.setdefault(v.stem.rsplit("_", 1)[0], []).append(v)
    rng = np.random.default_rng(seed)
    names = sorted(by_video)
    trials = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("pairs", total=pairs)
        for _ in range(pairs):
            va, vb, vc = rng.choice(names, 3, replace=False)
            pa, pb, pc = (by_video[x][int(rng.integers(len(by_video[x])))] for x in (va, vb, vc))
            fa, aa = _clip(pa, fps, seconds)
            fb, ab = _clip(pb, fps, seconds)
            _, ac = _clip(pc, fps, seconds)
            frames, times = compose(fa, fb, fps)
            n_audio = int((times[-1] + 1.0 / fps) * SAMPLE_RATE) if len(times) else 0
            tracks = face_tracks(frames)
            for truth, audio in (("left", aa), ("right", ab), (None, ac)):
                side, res, _ = decide(tracks, times, audio[:n_audio], SAMPLE_RATE)
                trials.append({"left": pa.name, "right": pb.name, "audio_truth": truth,
                               "chosen": side, "confidence": res.confidence,
                               "scores": res.scores, "tracks": len(tracks)})
            bar.advance(task)
    spk = [t for t in trials if t["audio_truth"] is not None]
    none = [t for t in trials if t["audio_truth"] is None]
    acc = float(np.mean([t["chosen"] == t["audio_truth"] for t in spk]))
    abstain = float(np.mean([t["chosen"] is None for t in spk]))
    none_ok = float(np.mean([t["chosen"] is None for t in none]))
    md = ("| trials | speaking face chosen | no speaker answered (speaker visible) | "
          "'no speaker' when neither face speaks |\n|---|---|---|---|\n"
          f"| {len(spk)} + {len(none)} | {acc:.3f} | {abstain:.3f} | {none_ok:.3f} |")
    return {"protocol": __doc__.split("\n\n", 1)[1].strip(), "pairs": pairs, "fps": fps,
            "seconds": seconds, "seed": seed, "accuracy": acc, "abstain": abstain,
            "no_speaker_correct": none_ok, "trials": trials, "markdown": md}
