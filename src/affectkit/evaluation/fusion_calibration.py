"""Fusion temperatures fitted on corpora each modality's model never saw.

The late fusion (:class:`affectkit.analysis.fusion.LateFusion`) weights each modality by its
reliability × its confidence. A model's confidence is only comparable across modalities if it
is calibrated *where the analyzer is used*: on recordings unlike its training data. In-domain
each model is roughly calibrated; off its corpus the voice head, for example, says 0.87 on
average for its top class on TESS where it is right 18 % of the time. So one temperature per
modality is fitted on held-out-corpus predictions of the shipped recipe:

* **text** — the MiniLM union-head recipe leaving each English corpus out
  (:func:`affectkit.evaluation.generalise_text.loco`, 1 seed, the weighting chosen on the
  other corpora's validation parts), logits over the held-out corpus's classes;
* **audio** — the Whisper LR head leaving each speech corpus out on the canonical classes
  (:mod:`affectkit.evaluation.generalise_audio`, seed 0 validation split);
* **vision** — FaceExpressionNet as shipped (no training) on FER2013 PrivateTest, the FER+
  majority test images (its 7 canonical classes) and CK+ (all), its 7 probabilities.

Objective: the mean over held-out corpora of the negative log-likelihood (each corpus counts
once, whatever its size), T in [0.05, 20]. The fitted temperature is itself checked leave one
corpus out: T fitted on the other corpora, NLL and expected calibration error (ECE, 15 bins)
on the left-out one, before (T = 1) and after.

``python -m affectkit.evaluation.fusion_calibration`` →
``benchmarks/results/fusion-temperatures.{json,md}``; ``affect defaults fit-fusion`` then writes
the temperatures into ``fusion.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

T_BOUNDS = (0.05, 20.0)


@dataclass
class Held:
    """One held-out corpus: log-probabilities (n, K) and gold class indices (n,)."""

    corpus: str
    logp: np.ndarray
    gold: np.ndarray


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def nll(h: Held, t: float) -> float:
    lp = _log_softmax(h.logp / t)
    return float(-lp[np.arange(len(h.gold)), h.gold].mean())


def ece(h: Held, t: float, bins: int = 15) -> float:
    p = np.exp(_log_softmax(h.logp / t))
    conf, pred = p.max(1), p.argmax(1)
    right = (pred == h.gold).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    e = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            e += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(e)


def fit_temperature(held: list[Held]) -> float:
    """T minimising the mean over corpora of the NLL (bounded scalar search)."""
    from scipy.optimize import minimize_scalar

    if not held:
        raise ValueError("fit_temperature: no held-out predictions")
    r = minimize_scalar(lambda t: float(np.mean([nll(h, t) for h in held])), bounds=T_BOUNDS,
                        method="bounded", options={"xatol": 1e-3})
    return float(r.x)


def report(held: list[Held]) -> dict:
    """The pooled temperature, per-corpus optima and the leave-one-corpus-out check."""
    t_all = fit_temperature(held)
    per = []
    for i, h in enumerate(held):
        others = held[:i] + held[i + 1:]
        t_loo = fit_temperature(others) if others else 1.0
        acc = float((h.logp.argmax(1) == h.gold).mean())
        per.append({"corpus": h.corpus, "n": int(len(h.gold)), "accuracy": round(acc, 4),
                    "mean_top_p_T1": round(float(np.exp(_log_softmax(h.logp)).max(1).mean()), 4),
                    "T_own": round(fit_temperature([h]), 3), "T_others": round(t_loo, 3),
                    "nll_T1": round(nll(h, 1.0), 4), "nll_T_others": round(nll(h, t_loo), 4),
                    "ece_T1": round(ece(h, 1.0), 4), "ece_T_others": round(ece(h, t_loo), 4)})
    return {"temperature": round(t_all, 3), "held_out": per,
            "loco_nll_better": sum(r["nll_T_others"] < r["nll_T1"] for r in per),
            "loco_ece_better": sum(r["ece_T_others"] < r["ece_T1"] for r in per)}


# -- held-out predictions of each shipped recipe ---------------------------------------------
def audio_held() -> list[Held]:
    from affectkit.evaluation import generalise_audio as ga

    out: list[Held] = []

    def keep(held, classes, gold, proba):
        out.append(Held(held, np.log(np.clip(proba, 1e-8, 1.0)),
                        np.array([classes.index(str(g)) for g in gold])))

    ga.loco(ga.load(progress=False), "canonical", "whisper-base + LR", seeds=1, on_test=keep)
    return out


def text_held() -> list[Held]:
    import torch

    from affectkit.evaluation import generalise_text as gt

    torch.set_num_threads(1)
    pools = gt.load_pools(gt.CAPS)
    items = [u for c in pools for p in ("train", "valid", "test") for u in pools[c][p]]
    X = gt.features(items, "text.minilm", progress=False)
    feats, i = {}, 0
    for c in pools:
        feats[c] = {}
        for p in ("train", "valid", "test"):
            feats[c][p] = X[i:i + len(pools[c][p])]
            i += len(pools[c][p])
    out: list[Held] = []

    def keep(held, classes, gold, logits):
        out.append(Held(held, _log_softmax(np.asarray(logits, np.float64)),
                        np.array([list(classes).index(g) for g in gold])))

    gt.loco(pools, feats, seeds=1, noisy={c for c, n in gt.CORPORA if n}, on_test=keep)
    return out


def vision_held() -> list[Held]:
    from affectkit.evaluation import generalise_vision as gv

    d = gv.load(progress=False)
    canon = {c: i for i, c in enumerate(gv.FACEAPI)}
    out = []
    for name, sel in (("fer2013", lambda u: u.split == "test"),
                      ("ferplus", lambda u: u.split == "test" and u.meta["majority"]),
                      ("ckplus", lambda u: True)):
        f = d[name]
        rows = [(i, canon.get(gv._canon(u.emotion_original) if name != "fer2013" else u.emotion))
                for i, u in enumerate(f.utts) if sel(u)]
        rows = [(i, g) for i, g in rows if g is not None]  # contempt has no canonical class
        idx = np.array([i for i, _ in rows])
        p = f.X[idx, :7].astype(np.float64)
        out.append(Held(name, np.log(np.clip(p / p.sum(1, keepdims=True), 1e-8, 1.0)),
                        np.array([g for _, g in rows])))
    return out


COLLECTORS: dict[str, Callable[[], list[Held]]] = {
    "text": text_held, "audio": audio_held, "vision": vision_held}


def run(modalities=tuple(COLLECTORS)) -> dict:
    res: dict = {"date": _dt.date.today().isoformat(), "modalities": {}, "seconds": {}}
    for m in modalities:
        t0 = time.time()
        res["modalities"][m] = report(COLLECTORS[m]())
        res["seconds"][m] = round(time.time() - t0, 1)
    res["temperatures"] = {m: r["temperature"] for m, r in res["modalities"].items()}
    res["protocol"] = __doc__.split("\n\n")[1:4]
    res["command"] = "python -m affectkit.evaluation.fusion_calibration"
    return res


def markdown(res: dict) -> str:
    lines = [f"Fusion temperatures ({res['date']}; `{res['command']}`)", "",
             "| modality | held-out corpus | n | accuracy | mean top p (T=1) | T own | T from others "
             "| NLL T=1 → T others | ECE T=1 → T others |", "|---|---|---|---|---|---|---|---|---|"]
    for m, r in res["modalities"].items():
        for h in r["held_out"]:
            lines.append(f"| {m} | {h['corpus']} | {h['n']} | {h['accuracy']:.3f} | "
                         f"{h['mean_top_p_T1']:.3f} | {h['T_own']:.2f} | {h['T_others']:.2f} | "
                         f"{h['nll_T1']:.3f} → {h['nll_T_others']:.3f} | "
                         f"{h['ece_T1']:.3f} → {h['ece_T_others']:.3f} |")
        lines.append(f"| **{m}** | **all (shipped T)** | | | | **{r['temperature']:.2f}** | | "
                     f"better on {r['loco_nll_better']}/{len(r['held_out'])} | "
                     f"better on {r['loco_ece_better']}/{len(r['held_out'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modalities", nargs="+", default=list(COLLECTORS), choices=list(COLLECTORS))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    a = ap.parse_args(argv)
    res = run(tuple(a.modalities))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "fusion-temperatures.json").write_text(json.dumps(res, indent=1))
    (a.out / "fusion-temperatures.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
