"""Does the analyzer's fusion beat its best single modality on real video? (issue 13)

``python -m affectkit.evaluation.fusion_mosi400 [--seeds 3] [-q]`` →
``benchmarks/results/fusion-mosi400.{json,md}``.

Data: the 400 mosi400 clips (16 videos = 16 speakers; sentiment −3…3), none of them ever
trained on by a shipped model. Protocol: 4 video-disjoint folds
(:func:`affectkit.data.splits.speaker_kfold`, asserted speaker-independent) × 3 fold
partitions: seeds 0, 1, 2, … skipping a seed whose grouping repeats an earlier one
(:func:`distinct_partitions`; seed 0 = the folds of ``configs/fusion/mosi400.yaml``), so the
12 (fold, partition) test sets are 12 different video groupings. Everything fitted (fusion weights,
rule choice, ridge penalties, stacking weights) sees only the other videos of the fold; the
test videos are scored once.

Two families, each compared, paired per (fold, seed), with its own best single modality:

* **The analyzer's fusion**: the shipped per-modality predictors on each clip as one utterance
  — text: the union emotion heads routed by language + the union sentiment head
  (:class:`~affectkit.analysis.text_emotion.UnionTextPredictor`, language detected per clip as
  ``affect analyze`` does) on the CMU transcript put in sentence case (Whisper's casing; the
  corpus' copy is upper case); voice: the Whisper-encoder model
  (:class:`~affectkit.analysis.voice_whisper.WhisperVoicePredictor`, the raw head, as for one
  clip) on ``audio.whisper`` of the clip; face: FaceExpressionNet probabilities averaged over
  the frames with a face (``vision.faceapi`` at 2 fps, the analyzer's ``--fps``; a clip with
  no face has no face output, as in the analyzer) — fused by
  :class:`~affectkit.analysis.fusion.LateFusion`:

  - the variants of :data:`RULES`: the previous rule (:data:`PREVIOUS`, pinned), with and
    without the neutral abstention in the sentiment pool, and sentiment weights fitted on the
    training videos (:func:`~affectkit.analysis.fusion.fit_weights`, Pearson r); ``chosen``:
    the variant with the best training-video Non0 Acc-2, per fold;
  - ``shipped``: ``weights/default/fusion.json`` as read at run time (its sentiment weights
    are :func:`fit_weights` on all 400 clips — ``sentiment_weights_all_clips`` of this
    command's JSON, which ``affect defaults fit-fusion`` reads — so that row is in-sample);
  - ``stack``: the shipped text score stacked with ridge voice/face predictions (below).

* **Learned late fusion over cached features** (a reference for what the data allow):
  ``text.minilm`` (384), ``audio.whisper`` (1024), ``vision.faceapi`` (790, 2 fps): one ridge
  regressor per modality trained on the fold's training videos (penalty chosen on its
  validation videos), then non-negative stacking weights + intercept fitted on the validation
  videos' predictions. A clip without a face gets the training mean as its face prediction.

A single modality's score is over all clips (a clip a modality cannot read gets score 0 —
no opinion — for the shipped face, the training mean for the ridge); coverage is reported.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

MODS = ("text", "audio", "vision")
METRICS = ("non0_acc2", "non0_f1", "has0_acc2", "mae", "corr")
VISION_FPS = 2.0
RIDGE_ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)


# --- data --------------------------------------------------------------------------------------


def load(progress: bool = True, extract_missing: bool = True):
    """mosi400 utterances, gold scores, and the cached features (computed if missing, unless
    ``extract_missing=False``: then a clip missing from the cache lacks that modality)."""
    from affectkit.data import load_corpus
    from affectkit.features import get_extractor
    from affectkit.features.runner import extract, load_features

    utts = load_corpus("mosi400").utterances
    y = np.array([float(u.sentiment) for u in utts])
    feats: dict[str, dict[str, np.ndarray]] = {}
    coverage = {}
    for mod, ext in (("text", get_extractor("text.minilm")), ("audio", get_extractor("audio.whisper")),
                     ("vision", get_extractor("vision.faceapi", fps=VISION_FPS))):
        if extract_missing:
            extract(utts, [ext], progress=progress)
        arrs = next(iter(load_features(utts, [ext], missing="none").values()))
        feats[mod] = {u.id: np.asarray(a, np.float64) for u, a in zip(utts, arrs, strict=True)
                      if a is not None}
        coverage[mod] = {"extractor": ext.signature(), "clips": len(feats[mod])}
    return utts, y, feats, coverage


def shipped_outputs(utts, feats, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Per clip: {modality: ModalityOutput} of the shipped predictors, and the text records."""
    from affectkit.analysis.fusion import ModalityOutput
    from affectkit.analysis.predictors import DEFAULTS_DIR, FaceApiPredictor
    from affectkit.analysis.text_emotion import SentimentHead, UnionTextPredictor
    from affectkit.analysis.voice_whisper import WhisperVoicePredictor
    from affectkit.progress import progress as bar
    from affectkit.taxonomy import valence_sentiment

    text = UnionTextPredictor(sentiment=SentimentHead())
    voice = WhisperVoicePredictor.load(DEFAULTS_DIR)
    face = FaceApiPredictor()
    outs: list[dict] = []
    recs: list[dict] = []
    with bar(progress) as pb:
        task = pb.add_task("mosi400 shipped predictors", total=len(utts), status="")
        for u in utts:
            o: dict = {}
            (o["text"],) = text.predict([_sentence_case(u.text)])
            r = text.last_records[0]
            recs.append({"id": u.id, "lang": r.get("lang"), "head": r.get("head"),
                         "sentiment_source": r.get("sentiment_source")})
            if u.id in feats["audio"]:
                p = voice.probs_from_features(feats["audio"][u.id][None], adapt=False)[0]
                o["audio"] = ModalityOutput(p, valence_sentiment(p))
            if u.id in feats["vision"]:
                (o["vision"],) = face.predict([feats["vision"][u.id][None, :7]])
            outs.append(o)
            pb.advance(task)
    return outs, recs


def _sentence_case(text: str) -> str:
    t = " ".join(text.split()).lower()
    return t[:1].upper() + t[1:]


# --- fusion rules ------------------------------------------------------------------------------

#: the rule shipped before this benchmark existed (fusion.json of 2026-11-27, 16:28), pinned so
#: the comparison stays reproducible after fusion.json changes
PREVIOUS = {"emotion_weights": {"text": 0.358, "audio": 0.2272, "vision": 0.5434},
            "sentiment_weights": {"text": 1.0, "audio": 0.25, "vision": 0.25},
            "neutral_abstains": True}

#: rule variants of the analyzer's fusion; ``fitted*`` fit the sentiment weights on the
#: training videos (:func:`~affectkit.analysis.fusion.fit_weights`, Pearson r)
RULES = ("previous", "previous, sentiment not abstaining", "fitted", "fitted + sentiment abstaining")


def shipped_fusion():
    from affectkit.analysis.predictors import default_fusion

    return default_fusion()


def rule(name: str, outputs_fit: list[Mapping], y_fit: np.ndarray):
    """The fusion of variant ``name`` (``"shipped"``: ``fusion.json`` as read now)."""
    from affectkit.analysis.fusion import LateFusion, fit_weights

    if name == "shipped":
        return shipped_fusion()
    prev = LateFusion(**PREVIOUS)
    if name == "previous":
        return prev
    if name == "previous, sentiment not abstaining":
        return LateFusion(**PREVIOUS, sentiment_abstains=False)
    if name.startswith("fitted"):
        w = fit_weights(list(outputs_fit), list(y_fit), kind="sentiment")
        # the shipped temperatures come from other corpora (fusion_calibration), not mosi400
        return LateFusion(emotion_weights=PREVIOUS["emotion_weights"], sentiment_weights=w,
                          temperatures=dict(shipped_fusion().temperatures),
                          neutral_abstains=True, sentiment_abstains=name != "fitted")
    raise ValueError(name)


def fused_scores(outputs: list[Mapping], fusion) -> np.ndarray:
    """Fused sentiment per clip, each modality first calibrated by the fusion's temperatures
    (as the analyzer does; a no-op for a fusion without temperatures)."""
    out = []
    for o in outputs:
        o = {m: fusion.calibrate(m, x) for m, x in o.items()} if o else o
        f = fusion(o) if o else None
        out.append(f.sentiment if f is not None and f.sentiment is not None else 0.0)
    return np.asarray(out)


def modality_scores(outputs: list[Mapping], mod: str) -> np.ndarray:
    return np.asarray([o[mod].sentiment if mod in o and o[mod].sentiment is not None else 0.0
                       for o in outputs])


# --- learned late fusion on cached features ---------------------------------------------------


def _ridge(Xtr, ytr, Xva, yva):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best = None
    for a in RIDGE_ALPHAS:
        m = make_pipeline(StandardScaler(), Ridge(alpha=a)).fit(Xtr, ytr)
        err = float(np.mean(np.abs(m.predict(Xva) - yva)))
        if best is None or err < best[0]:
            best = (err, a, m)
    return best[2], best[1]


def learned_fold(feats, ids, y, tr, va, te, shipped_text=None) -> dict[str, np.ndarray]:
    """Per-modality ridge (train videos, penalty on validation videos) + stacking (validation
    videos); returns test predictions of each single modality and of the stack, and (given
    the shipped text scores of all clips) of the shipped text score stacked with the ridge
    voice and face predictions."""
    from sklearn.linear_model import LinearRegression

    preds_va, preds_te, info = {}, {}, {}
    for mod in MODS:
        have = feats[mod]
        tr_m = [i for i in tr if ids[i] in have]
        va_m = [i for i in va if ids[i] in have]
        X = lambda idx: np.stack([have[ids[i]] for i in idx])  # noqa: E731
        fill = float(y[tr_m].mean()) if tr_m else float(y[tr].mean())
        if len(tr_m) < 10 or len(va_m) < 5:  # too few clips with this modality: no model
            model, alpha = None, None
        else:
            model, alpha = _ridge(X(tr_m), y[tr_m], X(va_m), y[va_m])

        def predict(idx, model=model, have=have, fill=fill):
            out = np.full(len(idx), fill)
            k = [j for j, i in enumerate(idx) if ids[i] in have]
            if k and model is not None:
                out[k] = model.predict(np.stack([have[ids[idx[j]]] for j in k]))
            return np.clip(out, -3.0, 3.0)  # the label range: no extrapolation

        preds_va[mod], preds_te[mod] = predict(va), predict(te)
        info[mod] = alpha
    A = np.stack([preds_va[m] for m in MODS], 1)
    stack = LinearRegression(positive=True).fit(A, y[va])
    preds_te["fused"] = np.clip(stack.predict(np.stack([preds_te[m] for m in MODS], 1)), -3, 3)
    preds_te["_stack_weights"] = np.asarray(stack.coef_)
    if shipped_text is not None:  # the shipped text score + the ridge voice and face
        B = np.stack([shipped_text[va], preds_va["audio"], preds_va["vision"]], 1)
        st = LinearRegression(positive=True).fit(B, y[va])
        Bt = np.stack([shipped_text[te], preds_te["audio"], preds_te["vision"]], 1)
        preds_te["stack_shipped_text"] = np.clip(st.predict(Bt), -3, 3)
        preds_te["_stack2_weights"] = np.asarray(st.coef_)
    return preds_te


# --- the benchmark -----------------------------------------------------------------------------


def metrics(y, p) -> dict[str, float]:
    from affectkit.metrics import sentiment_metrics

    m = sentiment_metrics(y, p)
    return {k: float(m[k]) for k in METRICS}


def run(seeds: int = 3, progress: bool = True, extract_missing: bool = True) -> dict:
    from affectkit.data.splits import assert_speaker_independent

    utts, y, feats, coverage = load(progress, extract_missing)
    ids = [u.id for u in utts]
    pos = {i: k for k, i in enumerate(ids)}
    outputs, recs = shipped_outputs(utts, feats, progress)
    per: list[dict] = []
    text_scores = modality_scores(outputs, "text")
    for seed, split in distinct_partitions(utts, seeds):
        assert split.speaker_independent
        for k, fold in enumerate(split.folds):
            assert_speaker_independent(fold, utts)
            tr = [pos[i] for i in fold.train]
            va = [pos[i] for i in fold.valid]
            te = [pos[i] for i in fold.test]
            spk = lambda idx: {utts[i].speaker for i in idx}  # noqa: E731
            assert not (spk(te) & (spk(tr) | spk(va))), "test videos leak into training"
            fit = tr + va  # every non-test video: the analyzer's rule has no epochs to select
            row: dict = {"seed": seed, "fold": k, "n_test": len(te),
                         "test_videos": sorted(s.split("/")[-1] for s in spk(te)),
                         "shipped": {}, "learned": {}}
            yte = y[te]
            o_te = [outputs[i] for i in te]
            for mod in MODS:
                row["shipped"][mod] = metrics(yte, modality_scores(o_te, mod))
            train_acc = {}
            fused = {}
            for name in (*RULES, "shipped"):
                f = rule(name, [outputs[i] for i in fit], y[fit])
                p_fit = fused_scores([outputs[i] for i in fit], f)
                nz = y[fit] != 0
                train_acc[name] = float(np.mean((p_fit[nz] > 0) == (y[fit][nz] > 0)))
                fused[name] = fused_scores(o_te, f)
                row["shipped"][f"fused:{name}"] = metrics(yte, fused[name])
                if name.startswith("fitted"):
                    row.setdefault("fitted_weights", {})[name] = f.sentiment_weights
            train_acc.pop("shipped")
            chosen = max(RULES, key=lambda n: (train_acc[n], -RULES.index(n)))
            row["shipped"]["fused:chosen"] = metrics(yte, fused[chosen])
            row["chosen_rule"], row["train_non0_acc2"] = chosen, train_acc
            lp = learned_fold(feats, ids, y, tr, va, te, text_scores)
            for mod in (*MODS, "fused"):
                row["learned"][mod] = metrics(yte, lp[mod])
            row["shipped"]["fused:stack"] = metrics(yte, lp["stack_shipped_text"])
            row["stack_weights"] = dict(zip(MODS, map(float, lp["_stack_weights"]), strict=True))
            row["stack_shipped_text_weights"] = dict(zip(
                ("text (shipped)", "audio (ridge)", "vision (ridge)"),
                map(float, lp["_stack2_weights"]), strict=True))
            per.append(row)
    from affectkit.analysis.fusion import fit_weights

    ship = fit_weights(outputs, list(y), kind="sentiment")
    return {"command": "python -m affectkit.evaluation.fusion_mosi400 --seeds %d" % seeds,
            "sentiment_weights_all_clips": ship,
            "shipped_fusion": shipped_fusion().to_dict(),
            "date": dt.date.today().isoformat(), "seeds": seeds, "folds": 4,
            "clips": len(utts), "coverage": coverage,
            "text_routing": {h: sum(r["head"] == h for r in recs) for h in ("en_minilm", "multi_e5")},
            "text_sentiment_source": {s: sum(r["sentiment_source"] == s for r in recs)
                                      for s in ("head", "emotion valence")},
            "per_fold": per, "summary": summarise(per)}


def distinct_partitions(utts, n: int, k: int = 4):
    """``n`` (seed, split) pairs with pairwise different video groupings: seeds 0, 1, 2, …,
    skipping a seed whose grouping repeats an earlier one (the greedy size balancing of
    :func:`~affectkit.data.splits.speaker_kfold` maps some seeds to the same folds)."""
    from affectkit.data.splits import speaker_kfold

    seen, out, seed = set(), [], 0
    while len(out) < n and seed < 1000:
        split = speaker_kfold(utts, k, seed=seed)
        key = frozenset(frozenset(g) for g in split.meta["groups"])
        if key not in seen:
            seen.add(key)
            out.append((seed, split))
        seed += 1
    return out


def summarise(per: list[dict]) -> dict:
    out: dict = {}
    for fam in ("shipped", "learned"):
        rows = sorted(per[0][fam])
        table = {r: {m: _ms([p[fam][r][m] for p in per]) for m in METRICS} for r in rows}
        singles = [m for m in MODS]
        best = max(singles, key=lambda m: table[m]["non0_acc2"]["mean"])
        fused_rows = [r for r in rows if r == "fused" or r.startswith("fused:")]
        paired = {}
        for r in fused_rows:
            paired[r] = {}
            for m in METRICS:
                d = np.array([p[fam][r][m] - p[fam][best][m] for p in per])
                if m == "mae":
                    d = -d  # positive = fused better
                paired[r][m] = {"mean": float(d.mean()), "sd": float(d.std(ddof=1)),
                                "wins": int((d > 1e-9).sum()), "ties": int((abs(d) <= 1e-9).sum()),
                                "losses": int((d < -1e-9).sum()), "verdict": _verdict(d)}
        out[fam] = {"table": table, "best_single": best, "fused_minus_best_single": paired}
    out["chosen_rules"] = {r: sum(p["chosen_rule"] == r for p in per) for r in RULES}
    out["seeds"] = sorted({p["seed"] for p in per})
    return out


def _ms(v) -> dict[str, float]:
    v = np.asarray(v, float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def _verdict(d: np.ndarray) -> str:
    """'better' / 'worse' when the paired mean is > 2 standard errors from 0, else 'tie'.
    (The 12 (fold, seed) sets share clips across seeds: the standard error is optimistic.)"""
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    if d.mean() > 2 * se and d.mean() > 0:
        return "better"
    if d.mean() < -2 * se and d.mean() < 0:
        return "worse"
    return "tie"


NAMES = {"text": "text", "audio": "voice", "vision": "face", "fused": "late fusion (ridge + stack)",
         "fused:previous": "fused: previous rule (text 1, voice/face 0.25, neutral abstains)",
         "fused:previous, sentiment not abstaining": "fused: previous weights, sentiment not abstaining",
         "fused:fitted": "fused: sentiment weights fitted on training videos, sentiment not abstaining",
         "fused:fitted + sentiment abstaining": "fused: fitted weights, sentiment abstaining",
         "fused:chosen": "fused: rule chosen on training videos",
         "fused:shipped": "fused: fusion.json now (weights fitted on all 400 clips: in-sample)",
         "fused:stack": "fused: shipped text + ridge voice/face, stacked on validation videos"}


def markdown(res: dict) -> str:
    s = res["summary"]
    lines = [f"Command: `{res['command']}` ({res['date']}); {res['clips']} clips, 4 video-disjoint "
             f"folds × {res['seeds']} fold partitions (seeds {s['seeds']}); mean ± sd over the "
             f"{len(res['per_fold'])} (fold, seed) test sets.", ""]
    for fam, title in (("shipped", "The analyzer's predictors and fusion"),
                       ("learned", "Learned late fusion over cached features")):
        t = s[fam]["table"]
        lines += [f"**{title}** (best single modality: {NAMES[s[fam]['best_single']]})", "",
                  "| row | Non0 Acc-2 | Non0 F1 | Has0 Acc-2 | MAE | Corr |",
                  "|---|---|---|---|---|---|"]
        for r in (*MODS, *[r for r in t if r not in MODS]):
            if r in t:
                lines.append(f"| {NAMES.get(r, r)} | " + " | ".join(
                    f"{t[r][m]['mean']:.3f} ± {t[r][m]['sd']:.3f}" for m in METRICS) + " |")
        lines += ["", "Fused minus best single, paired per (fold, seed) (MAE: best single − fused; "
                  "positive = fused better; wins/ties/losses of 12):", "",
                  "| row | Non0 Acc-2 | Corr | MAE | verdict (Non0 Acc-2) |", "|---|---|---|---|---|"]
        for r, d in s[fam]["fused_minus_best_single"].items():
            cell = lambda m: (f"{d[m]['mean']:+.3f} ± {d[m]['sd']:.3f} "  # noqa: E731
                              f"({d[m]['wins']}/{d[m]['ties']}/{d[m]['losses']})")
            lines.append(f"| {NAMES.get(r, r)} | {cell('non0_acc2')} | {cell('corr')} | "
                         f"{cell('mae')} | {d['non0_acc2']['verdict']} |")
        lines.append("")
    lines.append(f"Rule chosen on training videos: {s['chosen_rules']}. Text routing: "
                 f"{res['text_routing']}; coverage: "
                 + ", ".join(f"{m} {c['clips']}/{res['clips']}" for m, c in res["coverage"].items()))
    return "\n".join(lines) + "\n"


def main() -> None:  # pragma: no cover - benchmark entry point
    import argparse

    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(prog="python -m affectkit.evaluation.fusion_mosi400")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("-q", action="store_true", help="no progress bars")
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args()
    res = run(a.seeds, progress=not a.q)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fusion-mosi400.json").write_text(json.dumps(res, indent=1, default=float))
    md = markdown(res)
    (out / "fusion-mosi400.md").write_text(md)
    print(md)


if __name__ == "__main__":  # pragma: no cover
    main()
