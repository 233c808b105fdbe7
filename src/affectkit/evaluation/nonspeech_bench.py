"""How the non-speech flag (:mod:`affectkit.analysis.speech_check`) behaves on speech and on
non-speech audio: ``python -m affectkit.evaluation.nonspeech_bench`` →
``benchmarks/results/nonspeech.json``.

Protocol (seed 0): 40 random whole clips of each shared speech corpus and 40 random mosi400
clips (leading and trailing silence included, as the corpora ship them); the same mosi400
clips with white noise added at 20, 10, 5 and 0 dB SNR; synthetic non-speech signals, 5 s,
5 seeds each: white noise, brown noise, a pure tone (220–880 Hz), a music-like signal (random
plucked melody with 5 harmonics over a sustained triad), a chord with vibrato, digital
silence. Reported: min / 5th percentile / median of the speech ratio and the share of inputs
flagged non-speech (for speech: false flags; for non-speech: detections).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from affectkit.analysis.speech_check import MIN_SPEECH_RATIO, check_speech

SR = 16_000


def synthetic(kind: str, seed: int, seconds: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if kind == "white noise":
        x = rng.standard_normal(n)
    elif kind == "brown noise":
        x = np.cumsum(rng.standard_normal(n))
        x -= np.convolve(x, np.ones(400) / 400, "same")
    elif kind == "tone":
        x = np.sin(2 * np.pi * rng.uniform(220, 880) * t)
    elif kind == "melody":
        notes = 261.6 * 2 ** (np.arange(13) / 12)
        x = 0.5 * sum(np.sin(2 * np.pi * f * t) for f in (130.8, 164.8, 196.0)) / 3
        step = SR // 4
        k = np.arange(step) / SR
        for s in range(0, n - step, step):
            f = notes[rng.integers(len(notes))]
            x[s:s + step] += sum(np.sin(2 * np.pi * h * f * k) / h for h in range(1, 6)) * np.exp(-3 * k)
    elif kind == "chord with vibrato":
        f0 = rng.uniform(180, 300)
        vib = 1 + 0.01 * np.sin(2 * np.pi * 5.5 * t)
        x = sum(np.sin(2 * np.pi * np.cumsum(f * vib) / SR) for f in (f0, f0 * 1.26, f0 * 1.5))
    elif kind == "silence":
        return np.zeros(n, np.float32)
    else:
        raise ValueError(kind)
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


KINDS = ("white noise", "brown noise", "tone", "melody", "chord with vibrato", "silence")


def _stats(ratios: list[float], flagged: list[bool]) -> dict:
    r = np.asarray(ratios)
    return {"n": len(r), "min": float(r.min()), "p5": float(np.percentile(r, 5)),
            "median": float(np.median(r)), "flagged": float(np.mean(flagged))}


def run(n: int = 40, seed: int = 0) -> dict:
    from affectkit import media
    from affectkit.data.base import shared_data_root

    rng = np.random.default_rng(seed)
    root = shared_data_root()
    out: dict = {"date": time.strftime("%Y-%m-%d"), "seed": seed, "threshold": MIN_SPEECH_RATIO,
                 "protocol": __doc__.split("\n\n", 1)[1].strip(), "speech": {}, "non_speech": {}}
    if root is not None:
        sets = {c: sorted((root / "speech" / c).rglob("*.opus"))
                for c in ("ravdess", "tess", "emodb", "emovo", "urdu")}
        sets["mosi400"] = sorted((root / "multimodal" / "mosi400" / "video").glob("*.mp4"))
        mosi = []
        for name, files in sets.items():
            if not files:
                continue
            pick = [files[i] for i in sorted(rng.permutation(len(files))[:n])]
            checks = []
            for f in pick:
                x = media.load_audio(f)
                checks.append(check_speech(x))
                if name == "mosi400":
                    mosi.append(x)
            out["speech"][name] = _stats([c.speech_ratio for c in checks],
                                         [c.non_speech for c in checks])
            out["speech"][name]["flagged_files"] = [str(f.relative_to(root)) for f, c in
                                                    zip(pick, checks) if c.non_speech]
        for snr in (20, 10, 5, 0):
            checks = []
            for x in mosi:
                noise = rng.standard_normal(len(x))
                noise *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(noise ** 2)) / 10 ** (snr / 20)
                checks.append(check_speech((x + noise).astype(np.float32)))
            out["speech"][f"mosi400 + white noise {snr} dB SNR"] = _stats(
                [c.speech_ratio for c in checks], [c.non_speech for c in checks])
    for kind in KINDS:
        checks = [check_speech(synthetic(kind, s)) for s in range(5)]
        out["non_speech"][kind] = _stats([c.speech_ratio for c in checks],
                                         [c.non_speech for c in checks])
    return out


def markdown(res: dict) -> str:
    rows = ["| input | n | speech ratio min / p5 / median | flagged non-speech |", "|---|---|---|---|"]
    for group in ("speech", "non_speech"):
        for name, r in res[group].items():
            rows.append(f"| {name} | {r['n']} | {r['min']:.2f} / {r['p5']:.2f} / {r['median']:.2f} | "
                        f"{r['flagged']:.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/nonspeech.json")
    a = ap.parse_args()
    res = run(a.n, a.seed)
    res["markdown"] = markdown(res)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(res["markdown"])
