"""Counterfactual inference plug-ins over trained runs: MCIS and CLEF.

Both are *inference-time* debiasing: the trained model is not changed. The factual output
(the total effect of the input, TE) is compared with the outputs on counterfactual inputs that
carry only the bias (its natural direct effect, NDE), and the bias is subtracted:
``debiased = TE − weight · NDE``, in the model's output space (``"logits"`` for classification,
``"score"`` for regression), then decoded by the run's task as usual.

**MCIS** — Multimodal Counterfactual Inference for Sentiment analysis (Yang et al., 2024,
arXiv:2403.05025). Two counterfactual scenarios, each run through the *same* trained model:

* *utterance-level label bias* (``prior``): every input replaced by a reference vector that
  carries no item information — the training-split mean feature vector of each modality. The
  output is what the model says about "any utterance", i.e. its learned label prior.
  ``prior_source: labels`` uses the training label statistics instead (log class frequencies
  for classification, the mean training score for regression).
* *word-level context bias* (``context``): the transcript with its content words replaced by
  ``mask_token`` (function words — scikit-learn's English stop-word list — and the word order
  kept), re-embedded with the run's own text extractor; the other modalities are set to their
  reference vectors. The output is what the model reads from the context words alone.

``debiased = o(x) − alpha · o(x̄) − beta · o(x_ctx)``.

Deviations from the paper, all deliberate:

1. The paper's vanilla models are MSA networks; here any run folder (frozen MiniLM + MLP,
   fusion models) is the vanilla model, and features are utterance vectors.
2. The null input of the label-bias scenario is the training mean feature vector (the paper
   uses the model's fused "average" representation); the content-word mask is a stop-word list
   (no POS tagger).
3. ``alpha``/``beta`` are chosen on the run's **validation** split from a grid by the task's key
   metric (the paper fixes them); the grid includes 0, so the plug-in can abstain (a tie).

**CLEF** — Counterfactual Emotion inference (Yang et al., 2024, arXiv:2403.06407) for context
bias: a non-invasive context branch, trained separately on the context alone, gives the direct
effect of the context; inference removes it from the total effect of the main model:
``debiased = o(x, c) − lam · o_ctx(c)``. :func:`clef_combine` is that operation;
:func:`evaluate_clef` applies it to a trained dialogue-context run (features
``text.minilm_context`` = [own MiniLM embedding, mean of the 3 previous turns, has-context
flag], e.g. the MELD suite's "3 previous turns + MLP" row). Deviations: the paper's CAER image
context (scene/background) is replaced by dialogue context, which the shared data has
(MELD/IEMOCAP) and where context bias is measurable (emotion inertia: the previous turn's
emotion predicts the next); the context branch is a multinomial logistic regression on the
context part of the features (log-probabilities as its logits), fitted on the run's training
split after the main model — so the main model is untouched (non-invasive) but not trained
jointly with it as in the paper; ``lam`` is chosen on validation from a grid that contains 0.
The context-bias probe is accuracy on test items whose label differs from the previous turn's.

Bias probes (:func:`word_majority_probe`, :func:`eec_gap`):

* *word-majority disagreement*: each content word seen ≥ ``min_count`` times in training gets
  the majority training label of the items that contain it; an item's word vote is the
  majority over its ``top_words`` most frequent (in training) content words; the probe scores
  only the test items whose label disagrees with that vote — where a word shortcut is wrong.
* *EEC name swaps*: sentences of the Equity Evaluation Corpus that differ only in a person's
  race or gender; the gap is the mean absolute difference between the groups' mean predictions
  per (template, emotion word) cell. It should shrink.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.errors import ConfigError
from affectkit.types import Modality

METHODS = ("mcis", "clef")
_WORD = re.compile(r"[A-Za-z']+")


@dataclass
class MCISConfig:
    """Knobs of MCIS (see the module docstring).

    Attributes:
        alphas: grid of label-bias weights, chosen on validation.
        betas: grid of word-context weights, chosen on validation.
        mask_token: replaces every content word in the context counterfactual.
        prior_source: ``model`` (the model on training-mean inputs) or ``labels`` (training
            label statistics).
    """

    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    betas: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
    mask_token: str = "[MASK]"
    prior_source: str = "model"

    def validate(self) -> MCISConfig:
        if self.prior_source not in ("model", "labels"):
            raise ConfigError(f"mcis.prior_source={self.prior_source!r}; allowed: model, labels")
        if 0.0 not in self.alphas or 0.0 not in self.betas:
            raise ConfigError("mcis.alphas and mcis.betas must contain 0 (so the plug-in can "
                              "abstain on validation)")
        return self


# -- text counterfactual ---------------------------------------------------------------------

def stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that are not stop words."""
    sw = stopwords()
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text or "")) if w not in sw]


def mask_content_words(text: str, mask_token: str = "[MASK]") -> str:
    """``text`` with every content word replaced by ``mask_token`` (stop words kept)."""
    sw = stopwords()
    out = _WORD.sub(lambda m: m.group(0) if m.group(0).lower() in sw else mask_token, text or "")
    return out if out.strip() else mask_token


# -- the subtraction -------------------------------------------------------------------------

def output_key(outputs: dict) -> str:
    """The output the task decodes: ``score`` when present (regression), else ``logits``."""
    return "score" if "score" in outputs else "logits"


def subtract(factual: np.ndarray, effects: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """TE − Σ wᵢ · NDEᵢ (broadcasting a constant NDE row over items)."""
    out = np.asarray(factual, np.float64).copy()
    for w, e in effects:
        out = out - float(w) * np.asarray(e, np.float64)
    return out


def clef_combine(full: np.ndarray, context: np.ndarray, lam: float) -> np.ndarray:
    """CLEF's inference: total effect of the main model minus ``lam`` × the context branch."""
    return subtract(full, [(lam, context)])


def decode(task, key: str, values: np.ndarray) -> np.ndarray:
    import torch

    return task.predict({key: torch.as_tensor(np.asarray(values, np.float32))})


@dataclass
class _RunOutputs:
    key: str
    factual: dict[str, np.ndarray]          # split → (N, ...) outputs
    prior: np.ndarray                        # (1, ...) or (N, ...) broadcastable
    context: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    ids: dict[str, list[str]]


def _outputs(trainer, batch) -> tuple[str, np.ndarray]:
    o = trainer.forward_all(batch)
    k = output_key(o)
    return k, o[k].detach().cpu().numpy().astype(np.float64)


def _text_modality(cfg) -> tuple[Modality, str]:
    for k, spec in cfg.features.items():
        if Modality.parse(k) is Modality.TEXT:
            return Modality.TEXT, spec
    raise ConfigError(f"MCIS needs a run with a text feature (features.text); this run has "
                      f"{', '.join(cfg.features) or 'none'}")


_CF_CACHE: dict[tuple[str, str, tuple[str, ...]], dict[str, np.ndarray]] = {}


def _masked_text_features(spec: str, utts: dict[str, Any], ids: Sequence[str],
                          mask_token: str) -> dict[str, np.ndarray]:
    """Embeddings of the masked transcripts with the run's own text extractor (cached in
    memory across runs of one process)."""
    from affectkit.features import get_extractor

    key = (spec, mask_token, tuple(ids))
    if key not in _CF_CACHE:
        ex = get_extractor(spec)
        if ex.level != "utterance":
            raise ConfigError(f"MCIS context counterfactual: text feature {spec!r} is "
                              f"{ex.level}-level; use an utterance-level sentence embedding "
                              "(e.g. text.minilm)")
        texts = [mask_content_words(utts[i].text or "", mask_token) for i in ids]
        vecs = ex.process_texts(texts)
        _CF_CACHE[key] = {i: np.asarray(v, np.float32) for i, v in zip(ids, vecs)}
    return _CF_CACHE[key]


def run_outputs(run, mcis: MCISConfig, splits=("valid", "test")) -> _RunOutputs:
    """Factual and counterfactual outputs of a loaded run on ``splits``."""
    prep, fold = run.prep, run.fold
    tmod, spec = _text_modality(run.cfg)
    by_id = prep.data.by_id()
    train_ids = list(fold.train)
    means = {m: np.mean(np.stack([np.asarray(per[i], np.float32).reshape(-1)
                                  for i in train_ids]), 0) for m, per in prep.feats.items()}
    for m, per in prep.feats.items():
        if np.asarray(next(iter(per.values()))).ndim != 1:
            raise ConfigError(f"MCIS works on utterance vectors; modality {m.value} has "
                              "sequence features in this run")
    fact, ctx, tgt, ids_of = {}, {}, {}, {}
    key = None
    for split in splits:
        ids = list(getattr(fold, split))
        ids_of[split] = ids
        key, fact[split] = _outputs(run.trainer, run.batch(split))
        tgt[split] = run.batch(split).target.numpy()
        masked = _masked_text_features(spec, by_id, ids, mcis.mask_token)
        feats = {m: ({i: masked[i] for i in ids} if m is tmod else {i: means[m] for i in ids})
                 for m in prep.feats}
        _, ctx[split] = _outputs(run.trainer, run.batch(split, feats))
    if mcis.prior_source == "model":
        one = [ids_of[splits[0]][0]]
        feats = {m: {one[0]: means[m]} for m in prep.feats}
        from affectkit.experiment import _with_feats

        _, prior = _outputs(run.trainer, _with_feats(prep, feats).batch(one, run.task))
    else:
        ytr = run.batch("train").target.numpy()
        if key == "score":
            prior = np.full((1,) + fact[splits[0]].shape[1:], float(np.mean(ytr)))
        else:
            freq = np.bincount(ytr.astype(int), minlength=fact[splits[0]].shape[1]) + 1.0
            prior = np.log(freq / freq.sum())[None, :]
    return _RunOutputs(key, fact, prior, ctx, tgt, ids_of)


def choose_weights(task, ro: _RunOutputs, mcis: MCISConfig) -> dict:
    """(alpha, beta) maximising the task's key metric on **validation**."""
    key = task.key_metric if task.key_metric != "loss" else task.default_key
    best = None
    tried = []
    for a, b in itertools.product(mcis.alphas, mcis.betas):
        out = subtract(ro.factual["valid"], [(a, ro.prior), (b, ro.context["valid"])])
        m = task.metrics(ro.targets["valid"], decode(task, ro.key, out))[key]
        tried.append((a, b, float(m)))
        # ties go to the smaller correction (the grid is walked from 0 upward)
        if best is None or task.better(m, best[2]):
            best = (a, b, float(m))
    return {"alpha": best[0], "beta": best[1], "key_metric": key, "valid": best[2],
            "tried": len(tried)}


def sensitivity(task, ro: _RunOutputs, mcis: MCISConfig, hard: np.ndarray) -> list[dict]:
    """Every (alpha, beta) of the grid scored on validation *and* test — a sensitivity curve
    for the report only; selection uses validation alone (:func:`choose_weights`)."""
    key = task.key_metric if task.key_metric != "loss" else task.default_key
    rows = []
    for a, b in itertools.product(mcis.alphas, mcis.betas):
        row = {"alpha": a, "beta": b}
        for sp in ("valid", "test"):
            out = subtract(ro.factual[sp], [(a, ro.prior), (b, ro.context[sp])])
            p = decode(task, ro.key, out)
            row[f"{sp}_{key}"] = float(task.metrics(ro.targets[sp], p)[key])
            if sp == "test":
                row["test_probe"] = probe_accuracy(task, ro.targets[sp], p, hard)
        rows.append(row)
    return rows


def mcis_predictions(task, ro: _RunOutputs, w: dict, split: str = "test") -> np.ndarray:
    out = subtract(ro.factual[split], [(w["alpha"], ro.prior), (w["beta"], ro.context[split])])
    return decode(task, ro.key, out)


# -- bias probes -----------------------------------------------------------------------------

def _label_class(task, y: np.ndarray) -> np.ndarray:
    """Targets or predictions → discrete classes for the probe (sign for scores; 0 = none)."""
    y = np.asarray(y)
    if task.kind in ("sentiment", "dimensional"):
        return np.sign(y.reshape(len(y), -1)[:, 0]).astype(int)
    return y.astype(int)


def word_majority_probe(task, texts_train: Sequence[str], y_train: np.ndarray,
                        texts_test: Sequence[str], *, min_count: int = 3,
                        top_words: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Boolean mask of the test items whose label disagrees with the majority label of their
    most frequent content words (see the module docstring); items with no voting word or a
    zero (neutral) score are left out. Returns (has a vote, the vote) per test item."""
    cls_train = _label_class(task, y_train)
    freq: Counter = Counter()
    by_word: dict[str, Counter] = {}
    for t, c in zip(texts_train, cls_train):
        ws = set(content_words(t))
        freq.update(ws)
        if c == 0 and task.kind == "sentiment":
            continue
        for w in ws:
            by_word.setdefault(w, Counter())[int(c)] += 1
    major = {w: cnt.most_common(1)[0][0] for w, cnt in by_word.items()
             if freq[w] >= min_count and cnt}
    votes = []
    for t in texts_test:
        ws = sorted({w for w in content_words(t) if w in major}, key=lambda w: (-freq[w], w))
        v = Counter(major[w] for w in ws[:top_words])
        votes.append(v.most_common(1)[0][0] if v else None)
    return np.array([v is not None for v in votes]), np.array([v if v is not None else 0
                                                               for v in votes])


def probe_accuracy(task, y_true: np.ndarray, y_pred: np.ndarray, mask: np.ndarray) -> float:
    """Accuracy on the ``mask`` items: sentiment as MMSA's non-0 Acc-2 (true score ≠ 0,
    positive iff > 0), classes by equality."""
    mask = np.asarray(mask, bool)
    if task.kind == "sentiment":
        t, p = _as_score(y_true), _as_score(y_pred)
        keep = mask & (t != 0)
        return float(np.mean((t[keep] > 0) == (p[keep] > 0))) if keep.any() else float("nan")
    t, p = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    return float(np.mean(t[mask] == p[mask])) if mask.any() else float("nan")


def _as_score(y):
    y = np.asarray(y, float)
    return y.reshape(len(y), -1)[:, 0]


def eec_gap(eec_utts: Sequence[Any], scores: np.ndarray, attribute: str) -> float:
    """Mean over (template, emotion word) cells of |mean score(group A) − mean score(group B)|
    for ``attribute`` in ``gender`` (female/male) or ``race`` (African-American/European)."""
    if attribute not in ("gender", "race"):
        raise ConfigError(f"eec_gap attribute={attribute!r}; allowed: gender, race")
    cells: dict[tuple, dict[str, list[float]]] = {}
    for u, s in zip(eec_utts, np.asarray(scores, float)):
        g = (u.meta.get(attribute) or "").strip()
        if not g:
            continue
        cell = (u.meta.get("template"), u.meta.get("emotion_word"))
        cells.setdefault(cell, {}).setdefault(g, []).append(float(s))
    gaps = [abs(np.mean(v[a]) - np.mean(v[b]))
            for v in cells.values() if len(v) == 2 for a, b in [sorted(v)]]
    if not gaps:
        raise ConfigError(f"EEC: no (template, emotion word) cell has two {attribute} groups")
    return float(np.mean(gaps))


# -- MCIS over runs --------------------------------------------------------------------------

@dataclass
class MCISResult:
    run: str
    weights: dict
    factual: dict
    debiased: dict
    extra: dict = field(default_factory=dict)


def _score_metrics(task, y, p) -> dict:
    m = {k: v for k, v in task.metrics(y, p).items() if isinstance(v, (int, float))}
    if task.kind == "sentiment":
        from affectkit import metrics as M

        m["ccc"] = M.ccc(_as_score(y), _as_score(p))
    return m


def evaluate_mcis(run_dir: str | Path, mcis: MCISConfig | None = None, *, eec: bool = True,
                  min_count: int = 3, top_words: int = 3, prep=None) -> MCISResult:
    """Reload ``run_dir``, choose MCIS weights on validation, score test with and without the
    plug-in, plus the word-majority probe and (``eec``) the EEC name-swap gaps."""
    from affectkit.experiment import load_run

    mcis = (mcis or MCISConfig()).validate()
    run = load_run(run_dir, prep=prep)
    task = run.task
    ro = run_outputs(run, mcis)
    w = choose_weights(task, ro, mcis)
    y = ro.targets["test"]
    p0 = decode(task, ro.key, ro.factual["test"])
    p1 = mcis_predictions(task, ro, w)
    fm, dm = _score_metrics(task, y, p0), _score_metrics(task, y, p1)
    by_id = run.prep.data.by_id()
    tr_ids = list(run.fold.train)
    mask = word_majority_probe(
        task, [by_id[i].text or "" for i in tr_ids], run.batch("train").target.numpy(),
        [by_id[i].text or "" for i in ro.ids["test"]], min_count=min_count, top_words=top_words)
    tc = _label_class(task, y)
    has_vote, vote = mask
    hard = has_vote & (vote != tc) & ((tc != 0) if task.kind == "sentiment" else True)
    fm["probe_word_disagree_acc"] = probe_accuracy(task, y, p0, hard)
    dm["probe_word_disagree_acc"] = probe_accuracy(task, y, p1, hard)
    extra = {"probe_n": int(hard.sum()), "test_n": int(len(tc)),
             "grid": sensitivity(task, ro, mcis, hard)}
    if eec:
        g0, g1 = _eec(run, ro, w, mcis)
        fm.update(g0)
        dm.update(g1)
    extra["prep"] = run.prep
    return MCISResult(str(run_dir), w, fm, dm, extra)


def _eec(run, ro: _RunOutputs, w: dict, mcis: MCISConfig) -> tuple[dict, dict]:
    """EEC name-swap gaps of the factual and the MCIS predictions (score tasks: the score;
    classification: the probability of the first label)."""
    import torch

    from affectkit.data.base import load_corpus
    from affectkit.data.batch import collate
    from affectkit.features import get_extractor

    tmod, spec = _text_modality(run.cfg)
    if len(run.prep.feats) != 1:
        return {}, {}  # multimodal runs: EEC has text only
    utts = [u for u in load_corpus("eec").utterances if u.meta.get("race") or u.meta.get("gender")]
    ids = [u.id for u in utts]
    key = ("eec", spec, "")
    if key not in _CF_CACHE:
        ex = get_extractor(spec)
        _CF_CACHE[key] = dict(zip(ids, ex.process_texts([u.text for u in utts])))
    fact_feats = {tmod: _CF_CACHE[key]}
    masked = _masked_text_features(spec, {u.id: u for u in utts}, ids, mcis.mask_token)
    y = np.zeros(len(ids), np.float32)
    outs = []
    for feats in (fact_feats, {tmod: masked}):
        b = collate(ids, feats, run.prep.kinds, y)
        o = run.trainer.forward_all(b)
        outs.append(o[ro.key].detach().cpu().numpy().astype(np.float64))
    deb = subtract(outs[0], [(w["alpha"], ro.prior), (w["beta"], outs[1])])

    def scalar(v):
        if ro.key == "score":
            return _as_score(v)
        return torch.softmax(torch.as_tensor(v), -1).numpy()[:, 0]

    res = []
    for v in (outs[0], deb):
        s = scalar(v)
        res.append({"eec_gap_gender": eec_gap(utts, s, "gender"),
                    "eec_gap_race": eec_gap(utts, s, "race")})
    return res[0], res[1]


def paired_table(results: Sequence[MCISResult], metrics: Sequence[str]) -> list[dict]:
    """Per metric: factual mean ± sd, debiased mean ± sd, paired difference mean ± sd and a
    verdict (gain / tie / loss: the mean difference beyond one sd of the differences)."""
    rows = []
    for k in metrics:
        f = np.array([r.factual.get(k, np.nan) for r in results], float)
        d = np.array([r.debiased.get(k, np.nan) for r in results], float)
        if np.all(np.isnan(f)):
            continue
        diff = d - f
        md, sd = float(np.nanmean(diff)), float(np.nanstd(diff, ddof=1)) if len(diff) > 1 else 0.0
        lower = k in ("loss", "mae") or k.startswith(("mae", "eec_gap"))
        good = -md if lower else md
        verdict = "tie" if abs(md) <= max(sd, 1e-9) else ("gain" if good > 0 else "loss")
        rows.append({"metric": k, "factual": float(np.nanmean(f)),
                     "factual_sd": float(np.nanstd(f, ddof=1)) if len(f) > 1 else 0.0,
                     "debiased": float(np.nanmean(d)),
                     "debiased_sd": float(np.nanstd(d, ddof=1)) if len(d) > 1 else 0.0,
                     "diff": md, "diff_sd": sd, "lower_is_better": lower, "verdict": verdict})
    return rows


def mcis_report(run_dirs: Sequence[str | Path], mcis: MCISConfig | None = None, *,
                eec: bool = True, progress: bool = True) -> dict:
    """MCIS over several runs (seeds × folds of one config): per-run results and the paired
    table (same run with and without the plug-in)."""
    from affectkit.progress import progress as _progress

    results, prep = [], None
    with _progress(progress) as bar:
        tid = bar.add_task("MCIS over runs", total=len(run_dirs), status="")
        for d in run_dirs:
            r = evaluate_mcis(d, mcis, eec=eec, prep=prep)
            prep = r.extra.pop("prep")
            results.append(r)
            bar.advance(tid)
    keys = [k for k in results[0].factual if isinstance(results[0].factual[k], float)]
    rows = paired_table(results, keys)
    cfg = mcis or MCISConfig()
    md = ["| metric | factual | MCIS | paired diff | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['metric']} | {r['factual']:.4f} ± {r['factual_sd']:.4f} | "
                  f"{r['debiased']:.4f} ± {r['debiased_sd']:.4f} | "
                  f"{r['diff']:+.4f} ± {r['diff_sd']:.4f} | {r['verdict']} |")
    return {"method": "mcis", "protocol": "MCIS weights (alpha, beta) chosen per run on its "
            "validation split; test scored once with and without the plug-in",
            "config": {"alphas": list(cfg.alphas), "betas": list(cfg.betas),
                       "mask_token": cfg.mask_token, "prior_source": cfg.prior_source},
            "runs": [{"run": r.run, "weights": r.weights, "factual": r.factual,
                      "debiased": r.debiased, **r.extra} for r in results],
            "rows": rows, "sensitivity": _mean_grid(results),
            "markdown": "\n".join(md)}


def _mean_grid(results: Sequence[MCISResult]) -> list[dict]:
    """The sensitivity grids of several runs, averaged cell by cell."""
    grids = [r.extra["grid"] for r in results]
    out = []
    for cells in zip(*grids):
        row = {k: cells[0][k] for k in ("alpha", "beta")}
        for k in cells[0]:
            if k not in row:
                row[k] = float(np.nanmean([c[k] for c in cells]))
        out.append(row)
    return out


# -- CLEF over dialogue-context runs ---------------------------------------------------------

@dataclass
class CLEFConfig:
    """Knobs of CLEF (see the module docstring).

    Attributes:
        lams: grid of context-effect weights, chosen on validation (must contain 0).
        branch_cs: inverse-regularisation grid of the context branch (logistic regression on
            the context part of the features), chosen on validation log-loss.
    """

    lams: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    branch_cs: tuple[float, ...] = (0.01, 0.1, 1.0)

    def validate(self) -> CLEFConfig:
        if 0.0 not in self.lams:
            raise ConfigError("clef.lams must contain 0 (so the plug-in can abstain)")
        return self


def _context_part(run) -> tuple[Modality, slice]:
    """Where the dialogue context sits in the run's text vector (``text.minilm_context``:
    [own (D), mean of previous turns (D), flag])."""
    tmod, spec = _text_modality(run.cfg)
    if not spec.endswith("_context"):
        raise ConfigError(f"CLEF needs a run trained on dialogue-context features (e.g. "
                          f"features.text: text.minilm_context); this run has {spec!r}")
    dim = len(np.asarray(next(iter(run.prep.feats[tmod].values()))))
    d = (dim - 1) // 2
    return tmod, slice(d, dim)


def context_branch(run, cfg: CLEFConfig):
    """The non-invasive context branch: multinomial logistic regression on the context part
    only (previous turns + has-context flag), fitted on the run's training split, C chosen
    on its validation split by log-loss. Returns (fitted estimator, chosen C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    tmod, sl = _context_part(run)
    per = run.prep.feats[tmod]

    def xy(split):
        ids = list(getattr(run.fold, split))
        return (np.stack([np.asarray(per[i], np.float32)[sl] for i in ids]),
                run.batch(split).target.numpy().astype(int))

    (xt, yt), (xv, yv) = xy("train"), xy("valid")
    n = len(run.task.labels)
    best = None
    for c in cfg.branch_cs:
        est = LogisticRegression(C=c, max_iter=500).fit(xt, yt)
        pv = _full_proba(est, xv, n)
        ll = log_loss(yv, pv, labels=list(range(n)))
        if best is None or ll < best[0]:
            best = (ll, c, est)
    return best[2], best[1]


def _full_proba(est, x, n):
    p = np.full((len(x), n), 1e-6)
    p[:, est.classes_] = est.predict_proba(x)
    return p / p.sum(1, keepdims=True)


def _prev_label_mask(run, split: str) -> np.ndarray:
    """Items whose label differs from the previous turn's label in the same dialogue (where
    leaning on the context's emotion is wrong); first turns are left out."""
    by_id = run.prep.data.by_id()
    targets = run.prep.data.targets
    ids = list(getattr(run.fold, split))
    prev: dict[str, str | None] = {}
    groups: dict[str, list] = {}
    for u in run.prep.data.utterances:
        if u.dialogue_id is not None:
            groups.setdefault(str(u.dialogue_id), []).append(u)
    for us in groups.values():
        us = sorted(us, key=lambda u: (u.turn or 0, u.id))
        for a, b in zip(us, us[1:]):
            prev[b.id] = a.id
    return np.array([i in prev and prev[i] in targets and targets[prev[i]] != targets[i]
                     and by_id[i].dialogue_id is not None for i in ids])


def evaluate_clef(run_dir: str | Path, cfg: CLEFConfig | None = None, *, prep=None) -> MCISResult:
    """Reload a dialogue-context run, fit the context branch, choose ``lam`` on validation,
    score test with and without CLEF (plus accuracy on items whose label differs from the
    previous turn's)."""
    from affectkit.experiment import load_run

    cfg = (cfg or CLEFConfig()).validate()
    run = load_run(run_dir, prep=prep)
    task = run.task
    if task.kind not in ("emotion",):
        raise ConfigError(f"CLEF here debiases single-label classification runs; this run's "
                          f"task is {task.kind!r}")
    est, c = context_branch(run, cfg)
    tmod, sl = _context_part(run)
    per = run.prep.feats[tmod]
    n = len(task.labels)
    outs, ctx, ys = {}, {}, {}
    for sp in ("valid", "test"):
        b = run.batch(sp)
        key, outs[sp] = _outputs(run.trainer, b)
        if key != "logits":
            raise ConfigError("CLEF: the run must output class logits")
        ids = list(getattr(run.fold, sp))
        x = np.stack([np.asarray(per[i], np.float32)[sl] for i in ids])
        ctx[sp] = np.log(_full_proba(est, x, n))
        ys[sp] = b.target.numpy()
    metric = task.key_metric if task.key_metric != "loss" else task.default_key
    best = None
    for lam in cfg.lams:
        p = decode(task, "logits", clef_combine(outs["valid"], ctx["valid"], lam))
        m = task.metrics(ys["valid"], p)[metric]
        if best is None or task.better(m, best[1]):
            best = (lam, float(m))
    lam = best[0]
    hard = _prev_label_mask(run, "test")
    res = []
    grid = []
    for lm in (0.0, lam):
        p = decode(task, "logits", clef_combine(outs["test"], ctx["test"], lm))
        m = {k: v for k, v in task.metrics(ys["test"], p).items() if isinstance(v, float)}
        m["probe_context_shift_acc"] = probe_accuracy(task, ys["test"], p, hard)
        res.append(m)
    for lm in cfg.lams:
        row = {"lam": lm}
        for sp in ("valid", "test"):
            p = decode(task, "logits", clef_combine(outs[sp], ctx[sp], lm))
            row[f"{sp}_{metric}"] = float(task.metrics(ys[sp], p)[metric])
        grid.append(row)
    return MCISResult(str(run_dir), {"lam": lam, "branch_C": c, "key_metric": metric,
                                     "valid": best[1]}, res[0], res[1],
                      {"probe_n": int(hard.sum()), "test_n": int(len(hard)), "grid": grid,
                       "prep": run.prep})


def clef_report(run_dirs: Sequence[str | Path], cfg: CLEFConfig | None = None, *,
                progress: bool = True) -> dict:
    """CLEF over several runs: per-run results and the paired table."""
    from affectkit.progress import progress as _progress

    cfg = cfg or CLEFConfig()
    results, prep = [], None
    with _progress(progress) as bar:
        tid = bar.add_task("CLEF over runs", total=len(run_dirs), status="")
        for d in run_dirs:
            r = evaluate_clef(d, cfg, prep=prep)
            prep = r.extra.pop("prep")
            results.append(r)
            bar.advance(tid)
    keys = [k for k in results[0].factual if isinstance(results[0].factual[k], float)]
    rows = paired_table(results, keys)
    md = ["| metric | factual | CLEF | paired diff | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['metric']} | {r['factual']:.4f} ± {r['factual_sd']:.4f} | "
                  f"{r['debiased']:.4f} ± {r['debiased_sd']:.4f} | "
                  f"{r['diff']:+.4f} ± {r['diff_sd']:.4f} | {r['verdict']} |")
    grids = [r.extra["grid"] for r in results]
    sens = [{k: (cells[0][k] if k == "lam" else float(np.mean([c[k] for c in cells])))
             for k in cells[0]} for cells in zip(*grids)]
    return {"method": "clef", "protocol": "context branch (logistic regression on the "
            "previous-turn context) fitted on each run's training split; lam chosen on its "
            "validation split; test scored once with and without the plug-in",
            "config": {"lams": list(cfg.lams), "branch_cs": list(cfg.branch_cs)},
            "runs": [{"run": r.run, "weights": r.weights, "factual": r.factual,
                      "debiased": r.debiased, **r.extra} for r in results],
            "rows": rows, "sensitivity": sens, "markdown": "\n".join(md)}
