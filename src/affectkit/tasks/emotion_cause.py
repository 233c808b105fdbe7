"""Emotion–cause pair extraction in conversations (ECF / SemEval-2024 Task 3, subtask-1 style,
at utterance level), one sample per dialogue.

For every utterance i the model predicts its emotion and, for every utterance j of the same
dialogue, whether j causes i's emotion. A predicted pair is (i, j, predicted emotion of i) with
the emotion not neutral and the pair probability ≥ the threshold; a gold pair is (i, j, gold
emotion of i). Scores, as the SemEval-2024 Task 3 scorer computes them at utterance level:

* ``pair_wf1`` — F1 of the pairs per emotion category (the pair counts only with the right
  emotion), averaged over the non-neutral categories weighted by their gold pair counts
  (the official "weighted average F1"; its proportional/strict span variants need cause spans
  and are not computed here);
* ``pair_f1`` — micro F1 over all categories; ``pair_f1_any`` (with ``pair_p_any``,
  ``pair_r_any``) — pairs regardless of emotion (i is an emotion utterance, j its cause);
* ``emotion_clause_*`` / ``cause_clause_*`` — P/R/F1 of the emotion units and of the cause
  units that the pairs name (as ECPE papers report beside the pairs);
* with ``data.label: emotion_cause_any`` (labels ``emotion``/``none``) ``pair_p``/``pair_r``/
  ``pair_f1`` are exactly the ECPE pair scores of Xia & Ding (2019): a pair is right iff both
  clause indices match, the emotion clauses being predicted;
* the per-utterance emotion metrics (``weighted_f1``, ``ua`` …) as in ``emotion``.

Targets per utterance: ``[emotion id, cause flag for dialogue position 0 … MAX_T−1]`` (int64),
so a dialogue batch is (B, T, 1 + MAX_T), padded rows ``pad_value``. Model outputs: ``logits``
(B, T, C) and ``pair_logits`` (B, T, T) (row i = emotion utterance, column j = candidate cause).
The pair threshold is chosen on the validation split (:meth:`calibrate`), never on test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit import metrics as M
from affectkit.errors import DataError
from affectkit.tasks.base import TASKS
from affectkit.tasks.emotion import EmotionTask

MAX_T = 128  # ECPE documents reach 73 clauses
NO_EMOTION = ("neutral", "none")  # the labels that mean "no emotion" (first found is used)


def pair_scores(gold: set[tuple], pred: set[tuple], neutral: str = "neutral") -> dict:
    """Pair P/R/F1 from sets of ``(dialogue, i, j, emotion)`` tuples (see the module docstring).

    >>> g = {("d", 2, 1, "angry"), ("d", 2, 2, "angry"), ("d", 4, 3, "sad")}
    >>> p = {("d", 2, 1, "angry"), ("d", 4, 3, "happy")}
    >>> s = pair_scores(g, p)
    >>> round(s["pair_f1"], 3), round(s["pair_f1_any"], 3), round(s["pair_wf1"], 3)
    (0.4, 0.8, 0.444)
    """
    def prf(g: set, p: set) -> tuple[float, float, float]:
        tp = len(g & p)
        prec = tp / len(p) if p else 0.0
        rec = tp / len(g) if g else 0.0
        return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)

    out: dict[str, Any] = {}
    out["pair_p"], out["pair_r"], out["pair_f1"] = prf(gold, pred)
    strip = lambda s: {t[:3] for t in s}  # noqa: E731
    out["pair_p_any"], out["pair_r_any"], out["pair_f1_any"] = prf(strip(gold), strip(pred))
    for name, keep in (("emotion_clause", lambda t: t[:2]), ("cause_clause",
                                                              lambda t: (t[0], t[2]))):
        p_, r_, f_ = prf({keep(t) for t in gold}, {keep(t) for t in pred})
        out[f"{name}_p"], out[f"{name}_r"], out[f"{name}_f1"] = p_, r_, f_
    cats = sorted({t[3] for t in gold | pred} - {neutral})
    per, weights = {}, {}
    for c in cats:
        g = {t for t in gold if t[3] == c}
        per[c] = prf(g, {t for t in pred if t[3] == c})[2]
        weights[c] = len(g)
    total = sum(weights.values())
    out["pair_wf1"] = (sum(per[c] * weights[c] for c in cats) / total) if total else 0.0
    out["pair_f1_per_emotion"] = per
    out["n_gold_pairs"], out["n_pred_pairs"] = len(gold), len(pred)
    return out


@TASKS.register("emotion_cause")
class EmotionCauseTask(EmotionTask):
    """Emotions + emotion–cause pairs per dialogue (see the module docstring).

    Args:
        labels: emotion labels (``neutral`` among them names the non-emotion class).
        pair_weight: weight of the pair loss beside the emotion cross-entropy.
        pos_weight: weight of positive pairs in the pair BCE (pairs are sparse).
        neutral: the label that is "no emotion" (no pairs); ``None`` = the first of
            :data:`NO_EMOTION` among the labels; when it is not among the labels, every
            utterance is an emotion utterance.
    """

    kind = "emotion_cause"
    unit = "dialogue"
    default_key = "pair_wf1"
    curve_metric = "pair_wf1"
    metric_names = ("pair_wf1", "pair_f1", "pair_f1_any", "weighted_f1", "ua", "wa",
                    "macro_f1", "loss")
    label_keys = ("emotion_cause", "emotion_cause_any")
    extra_outputs = ("pair_logits",)

    def __init__(self, labels: Sequence[str], *, key_metric: str | None = None,
                 pair_weight: float = 1.0, pos_weight: float = 4.0, neutral: str | None = None,
                 threshold: float = 0.5, **kw: Any) -> None:
        super().__init__(labels, key_metric=key_metric, **kw)
        if neutral is None:
            neutral = next((n for n in NO_EMOTION if n in self.labels), NO_EMOTION[0])
        self.neutral = neutral  # absent from the labels: every utterance has an emotion
        self.pair_weight, self.pos_weight = float(pair_weight), float(pos_weight)
        self.threshold = float(threshold)

    @classmethod
    def resolve_labels(cls, targets, configured, skipped):
        labels = list(configured) if configured else sorted({y[0] for y in targets.values()})
        keep = set(labels)
        for i in [i for i, y in targets.items() if y[0] not in keep]:
            skipped[f"label {targets[i][0]!r} not in data.labels"] += 1
            del targets[i]
        return labels

    def encode(self, ys):
        raise DataError("emotion_cause targets refer to positions in a dialogue; they are "
                        "encoded per dialogue (encode_dialogues), not per utterance")

    def encode_dialogues(self, groups, targets):
        idx = {c: k for k, c in enumerate(self.labels)}
        rows = []
        for g in groups:
            if len(g) > MAX_T:
                raise DataError(f"dialogue of {g[0]} has {len(g)} utterances; emotion_cause "
                                f"handles at most {MAX_T}")
            pos = {i: t for t, i in enumerate(g)}
            for i in g:
                emo, causes = targets[i]
                r = np.zeros(1 + MAX_T, np.int64)
                r[0] = idx[emo]
                for c in causes:
                    if c in pos:  # a cause outside the dialogue's kept items cannot be scored
                        r[1 + pos[c]] = 1
                rows.append(r)
        return np.stack(rows)

    # -- training -----------------------------------------------------------------------------
    def fit_train(self, y_train):
        y = np.asarray(y_train)
        super().fit_train(y[..., 0])

    def loss(self, outputs, target):
        import torch
        import torch.nn.functional as F

        logits, pairs = outputs["logits"], outputs["pair_logits"]
        T = min(logits.shape[1], target.shape[1])
        tgt = target[:, :T].long()
        emo = tgt[..., 0]
        valid = emo != int(self.pad_value)
        w = None if self.weights is None else torch.as_tensor(self.weights, dtype=logits.dtype)
        l_emo = F.cross_entropy(logits[:, :T].reshape(-1, logits.shape[-1]), emo.reshape(-1),
                                weight=w, ignore_index=int(self.pad_value),
                                label_smoothing=self.label_smoothing)
        flags = tgt[..., 1:1 + T].float()  # (B, T, T)
        mask = (valid[:, :, None] & valid[:, None, :]).float()
        bce = F.binary_cross_entropy_with_logits(
            pairs[:, :T, :T], flags, reduction="none",
            pos_weight=torch.tensor(self.pos_weight, dtype=pairs.dtype))
        l_pair = (bce * mask).sum() / mask.sum().clamp(min=1)
        return l_emo + self.pair_weight * l_pair

    def predict(self, outputs):
        """(B, T, 1 + T): predicted emotion id, then the pair probabilities of each j."""
        emo = outputs["logits"].argmax(-1).float()
        probs = outputs["pair_logits"].sigmoid()
        return np.concatenate([emo[..., None].cpu().numpy(), probs.detach().cpu().numpy()], -1)

    # -- scoring ------------------------------------------------------------------------------
    def _pairs(self, y_true, y_pred, threshold):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        B = y_true.shape[0]
        T = min(y_true.shape[1], y_pred.shape[1])
        gold, pred = set(), set()
        e_true, e_pred = [], []
        for b in range(B):
            n = int((y_true[b, :T, 0] != self.pad_value).sum())
            for i in range(n):
                ge, pe = self.labels[int(y_true[b, i, 0])], self.labels[int(y_pred[b, i, 0])]
                e_true.append(int(y_true[b, i, 0]))
                e_pred.append(int(y_pred[b, i, 0]))
                for j in range(n):
                    if ge != self.neutral and y_true[b, i, 1 + j] == 1:
                        gold.add((b, i, j, ge))
                    if pe != self.neutral and y_pred[b, i, 1 + j] >= threshold:
                        pred.add((b, i, j, pe))
        return gold, pred, np.asarray(e_true), np.asarray(e_pred)

    def metrics(self, y_true, y_pred):
        gold, pred, et, ep = self._pairs(y_true, y_pred, self.threshold)
        out = M.classification_metrics(et, ep, self.labels)
        out.update(pair_scores(gold, pred, self.neutral))
        out["pair_threshold"] = self.threshold
        return out

    def calibrate(self, y_valid, p_valid):
        """The pair threshold that maximises validation ``pair_wf1`` (grid 0.1 … 0.9)."""
        best = (-1.0, self.threshold)
        for th in np.round(np.arange(0.1, 0.91, 0.05), 2):
            gold, pred, _, _ = self._pairs(y_valid, p_valid, th)
            f = pair_scores(gold, pred, self.neutral)["pair_wf1"]
            if f > best[0]:
                best = (f, float(th))
        self.threshold = best[1]

    def categories(self, target):
        return None

    def state(self):
        s = super().state()
        s.update(threshold=self.threshold, neutral=self.neutral)
        return s

    def load_state(self, state):
        super().load_state(state)
        self.threshold = float(state.get("threshold", self.threshold))
        self.neutral = state.get("neutral", self.neutral)


@TASKS.register("cause_entailment")
class CauseEntailmentTask(EmotionCauseTask):
    """Causal emotion entailment (RECCON, "CEE"): the emotion of each target utterance is
    given (gold); for every non-neutral target i and each candidate j ≤ i of its history
    (itself included), decide whether j causes i's emotion.

    Only those (i, j) candidates enter the loss and the scores; the emotion head is not trained
    or scored. Scores as RECCON reports them: F1 of the positive (cause) and the negative
    class over the candidate pairs and their mean, ``cee_macro_f1``. The decision threshold is
    chosen on validation.
    """

    kind = "cause_entailment"
    default_key = "cee_macro_f1"
    curve_metric = "cee_macro_f1"
    metric_names = ("cee_macro_f1", "cee_pos_f1", "cee_neg_f1", "loss")

    def _candidates(self, emo: np.ndarray, n: int) -> np.ndarray:
        """(n, n) bool: target i non-neutral, candidate j ≤ i."""
        nonneutral = np.array([self.labels[int(e)] != self.neutral for e in emo[:n]])
        return nonneutral[:, None] & np.tril(np.ones((n, n), bool))

    def loss(self, outputs, target):
        import torch
        import torch.nn.functional as F

        pairs = outputs["pair_logits"]
        T = min(pairs.shape[1], target.shape[1])
        tgt = target[:, :T].long()
        emo = tgt[..., 0]
        valid = emo != int(self.pad_value)
        neutral = self.labels.index(self.neutral) if self.neutral in self.labels else -1
        target_rows = valid & (emo != neutral)
        mask = (target_rows[:, :, None] & valid[:, None, :]
                & torch.ones(T, T, dtype=torch.bool).tril()[None]).float()
        bce = F.binary_cross_entropy_with_logits(
            pairs[:, :T, :T], tgt[..., 1:1 + T].float(), reduction="none",
            pos_weight=torch.tensor(self.pos_weight, dtype=pairs.dtype))
        return (bce * mask).sum() / mask.sum().clamp(min=1)

    def _scores(self, y_true, y_pred, threshold) -> dict:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        t_all, p_all = [], []
        for b in range(y_true.shape[0]):
            n = int((y_true[b, :, 0] != self.pad_value).sum())
            cand = self._candidates(y_true[b, :, 0], n)
            t_all.append(y_true[b, :n, 1:1 + n][cand])
            p_all.append(y_pred[b, :n, 1:1 + n][cand] >= threshold)
        t = np.concatenate(t_all).astype(bool) if t_all else np.zeros(0, bool)
        p = np.concatenate(p_all).astype(bool) if p_all else np.zeros(0, bool)

        def f1(tt, pp):
            tp = int((tt & pp).sum())
            prec = tp / max(int(pp.sum()), 1)
            rec = tp / max(int(tt.sum()), 1)
            return 2 * prec * rec / (prec + rec) if prec + rec else 0.0

        pos, neg = f1(t, p), f1(~t, ~p)
        return {"cee_pos_f1": pos, "cee_neg_f1": neg, "cee_macro_f1": (pos + neg) / 2,
                "n_candidates": int(len(t)), "n_causes": int(t.sum()), "threshold": threshold}

    def metrics(self, y_true, y_pred):
        return self._scores(y_true, y_pred, self.threshold)

    def calibrate(self, y_valid, p_valid):
        grid = np.round(np.arange(0.1, 0.91, 0.05), 2)
        self.threshold = float(max(grid, key=lambda th: self._scores(y_valid, p_valid, th)
                                   ["cee_macro_f1"]))
