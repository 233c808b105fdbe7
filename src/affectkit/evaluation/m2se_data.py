"""The five M2SE tasks over affectkit corpora, as fixed seeded subsamples of the official splits.

=========  ==========================  =====================================  ==================
task       corpus (official split)     input                                  answer / metric
=========  ==========================  =====================================  ==================
``msa``    CMU-MOSEI, non-zero items   utterance text (+ text.minilm vector)  positive/negative; Acc-2 (non0)
``mer``    MELD                        utterance text (+ text.minilm vector)  7 emotions; weighted F1
``fer``    FER+ (majority test imgs)   vision.faceapi vector of the face      8 emotions; accuracy
``ecpe``   ECF 2.0                     numbered conversation (first turns)    ``5_surprised,2;…``; pair F1
``reason`` ECF 2.0                     conversation up to an emotion turn     "Because of utterance k: …";
                                                                              cause-utterance accuracy
``ser``    RAVDESS + EmoDB (speech,    audio.whisper mean half (512) of the   7 canonical emotions;
           speaker-disjoint split)     clip (no transcript: fixed sentences)  UA and accuracy
=========  ==========================  =====================================  ==================

Nothing here is selected on a test split: subsamples are drawn with a fixed seed from each
official split; ECF training conversations that contain a MELD test/valid utterance (ECF is
built from MELD's dialogues and 36 % of MELD's test utterances sit in ECF train) and MELD
training items that are ECF test utterances are left out (:func:`meld_ecf_overlap`); MOSEI (video), MELD/ECF (dialogue) and FER+ (image) splits are checked
disjoint in :func:`check_disjoint` (MELD/ECF share the sitcom's main characters across
splits, as every published result on them does — they are not speaker-independent). The voice
task is speaker-independent by construction: RAVDESS actors 1–18 train / 19–24 test, EmoDB
speakers 03–14 train / 15–16 test (:data:`SER_TEST_SPEAKERS`, checked in
:func:`check_disjoint`); RAVDESS ``calm`` → neutral (the taxonomy's opt-in map), EmoDB
``boredom`` (no canonical class) left out, as in ``affect bench generalise --modality audio``.
Features are read from the one FeatureStore and never computed here: an item without cached
features is left out and counted (``Examples.skipped``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affectkit.errors import DataError
from affectkit.types import Modality, Utterance

TASKS = ("msa", "mer", "fer", "ecpe", "reason", "ser")
MSA_LABELS = ["negative", "positive"]
MER_LABELS = ["neutral", "happy", "surprised", "angry", "sad", "disgusted", "fearful"]
FER_LABELS = ["neutral", "happy", "surprised", "sad", "angry", "disgusted", "fearful", "contempt"]
ECF_EMOTIONS = [e for e in MER_LABELS if e != "neutral"]
SER_LABELS = ["neutral", "happy", "surprised", "angry", "sad", "disgusted", "fearful"]
LABELS = {"msa": MSA_LABELS, "mer": MER_LABELS, "fer": FER_LABELS, "ser": SER_LABELS}
CORPUS = {"msa": "mosei", "mer": "meld", "fer": "ferplus", "ecpe": "ecf", "reason": "ecf",
          "ser": "ravdess+emodb"}
FEATURE = {"text": "text.minilm", "vision": "vision.faceapi", "audio": "audio.whisper"}
FACE_DIM = 263
VOICE_DIM = 512      # audio.whisper is mean ‖ std (1024); EmoVerse's voice projector takes the mean
SER_CORPORA = ("ravdess", "emodb")
# speaker-independent test speakers (the rest train): RAVDESS actors 19–24 (3 male, 3 female),
# EmoDB speakers 15 (male) and 16 (female)
SER_TEST_SPEAKERS = {"ravdess": {f"ravdess/{a:02d}" for a in range(19, 25)},
                     "emodb": {"emodb/15", "emodb/16"}}
ECPE_TURNS = 6       # ECPE prompts show the first 6 turns of a conversation …
REASON_TURNS = 5     # … reason prompts the last 5 turns up to the emotion turn
WORDS = 14           # each turn cut to 14 words (sequence length ≤ ~128 tokens)


@dataclass
class Example:
    """One instruction example: pooled features per modality, the text it shows, the answer."""

    task: str
    id: str
    split: str
    feats: dict[str, np.ndarray]
    text: str | None
    answer: str
    gold: dict[str, Any] = field(default_factory=dict)


@dataclass
class Examples:
    by_task: dict[str, dict[str, list[Example]]]   # task → split → examples
    skipped: Counter = field(default_factory=Counter)
    dialogues: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # ECF, per split

    def get(self, task: str, split: str) -> list[Example]:
        return self.by_task.get(task, {}).get(split, [])


def short(text: str, words: int = WORDS) -> str:
    w = (text or "").split()
    return " ".join(w[:words]) + (" …" if len(w) > words else "")


def _sample(items: list, n: int | None, seed: int) -> list:
    if n is None or len(items) <= n:
        return list(items)
    idx = sorted(np.random.default_rng(seed).choice(len(items), n, replace=False))
    return [items[i] for i in idx]


def _vec(store, ext: str, u: Utterance) -> np.ndarray | None:
    from affectkit.features.base import get_extractor

    e = get_extractor(ext)
    if not store.has(e, u):
        return None
    a = np.asarray(store.get(e, u), dtype=np.float32)
    if a.ndim > 1:
        a = a.mean(0)
    return a


def check_disjoint(groups: dict[str, set[str]], what: str) -> None:
    """The official splits never share a ``what`` (video, dialogue, image)."""
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = groups[a] & groups[b]
            if both:
                raise DataError(f"{what}s shared by the {a} and {b} splits "
                                f"(e.g. {sorted(both)[:2]}); the split is not {what}-disjoint")


def pairs_answer(pairs: list[tuple[int, str, int]]) -> str:
    """M2SE's ECPE format: ``emotion-turn_emotion,cause-turn`` joined by ``;`` (1-based)."""
    return ";".join(f"{i}_{e},{j}" for i, e, j in sorted(pairs)) or "none"


PAIR_RE = re.compile(r"(\d+)\s*_\s*([a-z]+)\s*,\s*(\d+)")
CAUSE_RE = re.compile(r"because of utterance\s+(\d+)", re.I)
ANY_UTT_RE = re.compile(r"(?<!speaker of )utterance\s+(\d+)", re.I)


def parse_pairs(text: str) -> set[tuple[int, str, int]]:
    """``"5_surprised,2;5_surprised,5"`` → {(5, 'surprised', 2), (5, 'surprised', 5)};
    malformed parts are ignored (they count as not predicted)."""
    return {(int(i), e, int(j)) for i, e, j in PAIR_RE.findall(text.lower())
            if e in ECF_EMOTIONS}


def parse_cause(text: str) -> int | None:
    """The cause turn a reason names: "Because of utterance k" (the trained format), else the
    first "utterance k" that is not "the speaker of utterance k" (the question's own words
    echoed back name no cause)."""
    m = CAUSE_RE.search(text) or ANY_UTT_RE.search(text)
    return int(m.group(1)) if m else None


def norm_text(t: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (t or "").lower())


def _long(t: str | None) -> bool:
    return len((t or "").split()) >= 5


def meld_ecf_overlap() -> tuple[set[str], set[str]]:
    """ECF 2.0 is built from MELD's Friends dialogues, and its official split does not follow
    MELD's: 36 % of MELD's test utterances (≥ 5 words) are in ECF *train*. Returns the
    normalised texts (≥ 5 words) of MELD test+valid and of ECF test, so that ECF training
    conversations containing a MELD test/valid utterance, and MELD training items that are ECF
    test utterances, are left out (text match; short turns like "Okay." are not matched)."""
    from affectkit.data.base import load_corpus

    meld_eval = {norm_text(u.text) for u in load_corpus("meld").utterances
                 if u.split in ("test", "valid") and _long(u.text)}
    ecf_test = {norm_text(u.text) for u in load_corpus("ecf").utterances
                if u.split == "test" and _long(u.text)}
    return meld_eval, ecf_test


def ecf_dialogues(utts: list[Utterance]) -> list[dict]:
    """ECF conversations: utterances in turn order, gold (i, emotion, j) pairs (0-based)."""
    by_d: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        by_d[u.dialogue_id].append(u)
    out = []
    for did, us in by_d.items():
        us = sorted(us, key=lambda u: u.turn)
        pos = {u.id: k for k, u in enumerate(us)}
        pairs = {(k, u.emotion, pos[c.cause_id]) for k, u in enumerate(us)
                 for c in u.causes if c.cause_id in pos and u.emotion != "neutral"}
        out.append({"id": did, "split": us[0].split, "utts": us, "pairs": pairs})
    return sorted(out, key=lambda d: d["id"])


def ser_split(u: Utterance) -> str:
    """``train`` or ``test`` for a RAVDESS/EmoDB clip, by speaker (see :data:`SER_TEST_SPEAKERS`)."""
    if u.speaker is None:
        raise DataError(f"{u.id}: no speaker id; the voice task's split is by speaker")
    return "test" if u.speaker in SER_TEST_SPEAKERS[u.corpus] else "train"


def ser_label(u: Utterance) -> str | None:
    """Canonical voice label (RAVDESS calm → neutral); ``None`` for EmoDB boredom and other
    labels without a canonical class."""
    from affectkit.taxonomy import map_to_canonical

    if u.emotion == "boredom":
        return None
    lab = map_to_canonical(u.emotion, u.corpus)
    return lab if lab in SER_LABELS else None


def load_examples(n_train: int | None = 300, n_test: int | None = 100, *, seed: int = 0,
                  tasks: tuple[str, ...] = TASKS, with_dialogue_feats: bool = False,
                  progress: bool = True) -> Examples:
    """Seeded subsamples (``n_train`` training, ``n_test`` test examples per task; ``None`` =
    all) of the five tasks. ``with_dialogue_feats`` also loads text.minilm for every turn of
    the sampled ECF conversations (for the shared-encoder model)."""
    from affectkit.data.base import load_corpus
    from affectkit.features.store import FeatureStore

    store = FeatureStore()
    ex = Examples({t: {} for t in tasks})
    if {"mer", "ecpe", "reason"} & set(tasks):
        meld_eval, ecf_test = meld_ecf_overlap()
    sizes = {"train": n_train, "test": n_test}

    if "msa" in tasks:
        us = [u for u in load_corpus("mosei").utterances
              if u.sentiment is not None and u.sentiment != 0 and u.text]
        check_disjoint({s: {u.meta["video"] for u in us if u.split == s}
                        for s in ("train", "valid", "test")}, "video")
        for split in ("train", "test"):
            out = []
            for u in _sample([u for u in us if u.split == split], sizes[split], seed):
                v = _vec(store, FEATURE["text"], u)
                if v is None:
                    ex.skipped[f"msa/{split}: no cached text.minilm"] += 1
                    continue
                out.append(Example("msa", u.id, split, {"text": v}, u.text,
                                   MSA_LABELS[int(u.sentiment > 0)]))
            ex.by_task["msa"][split] = out

    if "mer" in tasks:
        us = [u for u in load_corpus("meld").utterances if u.emotion in MER_LABELS and u.text]
        check_disjoint({s: {u.dialogue_id for u in us if u.split == s}
                        for s in ("train", "valid", "test")}, "dialogue")
        leak = [u for u in us if u.split == "train" and norm_text(u.text) in ecf_test]
        ex.skipped["mer/train: utterance is an ECF test utterance (left out)"] += len(leak)
        us = [u for u in us if not (u.split == "train" and norm_text(u.text) in ecf_test)]
        for split in ("train", "test"):
            out = []
            for u in _sample([u for u in us if u.split == split], sizes[split], seed):
                v = _vec(store, FEATURE["text"], u)
                if v is None:
                    ex.skipped[f"mer/{split}: no cached text.minilm"] += 1
                    continue
                out.append(Example("mer", u.id, split, {"text": v}, u.text, u.emotion))
            ex.by_task["mer"][split] = out

    if "fer" in tasks:
        fp = load_corpus("ferplus").utterances
        fer = {str(u.media[Modality.VISION]): u for u in load_corpus("fer2013").utterances}
        check_disjoint({s: {str(u.media[Modality.VISION]) for u in fp if u.split == s}
                        for s in ("train", "valid", "test")}, "image")
        for split in ("train", "test"):
            pool = [u for u in fp if u.split == split and u.emotion in FER_LABELS
                    and (split == "train" or u.meta.get("majority"))]
            out = []
            for u in _sample(pool, sizes[split], seed):
                src = fer.get(str(u.media[Modality.VISION]))
                v = _vec(store, FEATURE["vision"], src) if src is not None else None
                if v is None:
                    ex.skipped[f"fer/{split}: no cached vision.faceapi"] += 1
                    continue
                out.append(Example("fer", u.id, split, {"vision": v[:FACE_DIM]}, None, u.emotion))
            ex.by_task["fer"][split] = out

    if "ser" in tasks:
        us = []
        for c in SER_CORPORA:
            cu = load_corpus(c).utterances
            if not cu:
                raise DataError(f"corpus {c!r} has no utterances (is /work/shared/data present?)")
            us += cu
        left = [u for u in us if ser_label(u) is None]
        ex.skipped["ser: no canonical label (EmoDB boredom; left out)"] += len(left)
        us = [u for u in us if ser_label(u) is not None]
        check_disjoint({s: {u.speaker for u in us if ser_split(u) == s}
                        for s in ("train", "test")}, "speaker")
        for split in ("train", "test"):
            out = []
            for u in _sample([u for u in us if ser_split(u) == split], sizes[split], seed):
                v = _vec(store, FEATURE["audio"], u)
                if v is None:
                    ex.skipped[f"ser/{split}: no cached audio.whisper"] += 1
                    continue
                out.append(Example("ser", u.id, split, {"audio": v[:VOICE_DIM]}, None,
                                   ser_label(u), {"speaker": u.speaker, "corpus": u.corpus}))
            ex.by_task["ser"][split] = out

    if "ecpe" in tasks or "reason" in tasks:
        us = [u for u in load_corpus("ecf").utterances if u.text]
        dials = ecf_dialogues(us)
        leaky = {d["id"] for d in dials if d["split"] == "train" and any(
            _long(u.text) and norm_text(u.text) in meld_eval for u in d["utts"])}
        ex.skipped["ecf/train: conversation holds a MELD test/valid utterance (left out)"] += \
            len(leaky)
        dials = [d for d in dials if d["id"] not in leaky]
        check_disjoint({s: {d["id"] for d in dials if d["split"] == s}
                        for s in ("train", "test")}, "dialogue")
        for split in ("train", "test"):
            pool = [d for d in dials if d["split"] == split]
            ds = _sample(pool, sizes[split], seed)
            if "ecpe" in tasks:
                out = []
                for d in ds:
                    turns = d["utts"][:ECPE_TURNS]
                    conv = "\n".join(f"{k + 1}. {short(u.text)}" for k, u in enumerate(turns))
                    gold = sorted((i + 1, e, j + 1) for i, e, j in d["pairs"]
                                  if i < ECPE_TURNS and j < ECPE_TURNS)
                    out.append(Example("ecpe", d["id"], split, {}, conv, pairs_answer(gold),
                                       {"pairs": gold, "turns": len(turns)}))
                ex.by_task["ecpe"][split] = out
            if "reason" in tasks:
                cands = []
                for d in pool:
                    by_i: dict[int, set[int]] = defaultdict(set)
                    for i, _e, j in d["pairs"]:
                        if i - j < REASON_TURNS and j <= i:
                            by_i[i].add(j)
                    for i, js in sorted(by_i.items()):
                        cands.append((d, i, sorted(js)))
                out = []
                for d, i, js in _sample(cands, sizes[split], seed):
                    lo = max(0, i - REASON_TURNS + 1)
                    turns = d["utts"][lo:i + 1]
                    conv = "\n".join(f"{lo + k + 1}. {short(u.text)}" for k, u in enumerate(turns))
                    u = d["utts"][i]
                    j0 = js[-1]  # the nearest cause turn is the answer's grounding
                    span = next((c.span for c in u.causes if c.cause_id == d["utts"][j0].id),
                                d["utts"][j0].text)
                    ans = f"Because of utterance {j0 + 1}: {short(span, 10)}"
                    out.append(Example("reason", f"{d['id']}#{i + 1}", split, {}, conv, ans,
                                       {"target": i + 1, "emotion": u.emotion,
                                        "causes": [j + 1 for j in js]}))
                ex.by_task["reason"][split] = out
            if with_dialogue_feats:
                for d in ds:
                    vs = [_vec(store, FEATURE["text"], u) for u in d["utts"]]
                    if any(v is None for v in vs):
                        ex.skipped[f"ecf/{split}: turn without cached text.minilm"] += 1
                        continue
                    d["X"] = np.stack(vs)
                ex.dialogues[split] = [d for d in ds if "X" in d]
    for t in tasks:
        for split in ("train", "test"):
            if not ex.get(t, split):
                raise DataError(f"{t}/{split}: no usable examples (skipped: {dict(ex.skipped)}); "
                                f"extract the features with `affect extract {CORPUS[t]} …`")
    return ex


SER_VALID_SPEAKERS = {"ravdess/17", "ravdess/18", "emodb/14"}  # inside the training speakers


def dedicated_voice(test_ids: list[str] | None = None) -> dict:
    """The dedicated voice model on the voice task's split: standardisation + logistic
    regression on the full ``audio.whisper`` vector (mean ‖ std, 1024-d) with (corpus, class)
    balancing weights (``generalise_audio.LRHead``), C chosen on validation speakers *inside*
    the training speakers (:data:`SER_VALID_SPEAKERS`), refit on all training speakers, scored
    once on every test clip and on ``test_ids`` (e.g. the LLM's test subsample)."""
    from affectkit.data.base import load_corpus
    from affectkit.evaluation.generalise_audio import LRHead, cell_weights, ua
    from affectkit.features.store import FeatureStore

    store = FeatureStore()
    us = [u for c in SER_CORPORA for u in load_corpus(c).utterances if ser_label(u) is not None]
    rows = [(u, _vec(store, FEATURE["audio"], u)) for u in us]
    rows = [(u, v) for u, v in rows if v is not None]
    part = {"train": [], "valid": [], "test": []}
    for u, v in rows:
        s = ser_split(u)
        part["valid" if s == "train" and u.speaker in SER_VALID_SPEAKERS else s].append((u, v))
    check_disjoint({s: {u.speaker for u, _ in r} for s, r in part.items()}, "speaker")

    def arr(r):
        return (np.stack([v for _, v in r]), np.array([ser_label(u) for u, _ in r]),
                np.array([u.corpus for u, _ in r]))

    (X, y, c), (Xv, yv, cv), (Xt, yt, _) = arr(part["train"]), arr(part["valid"]), arr(part["test"])
    head = LRHead().fit(X, y, cell_weights(c, y), Xv, yv, cell_weights(cv, yv))
    pred = head.predict(Xt)
    out = {"model": "LR on audio.whisper (mean‖std 1024), C on validation speakers "
                    f"{sorted(SER_VALID_SPEAKERS)}, refit on all training speakers",
           "C": head.C, "n_train": len(X) + len(Xv), "n_test": len(Xt),
           "all_test_ua": 100 * ua(list(yt), list(pred)),
           "all_test_acc": 100 * float(np.mean(pred == yt))}
    if test_ids is not None:
        pos = {u.id: k for k, (u, _) in enumerate(part["test"])}
        missing = [i for i in test_ids if i not in pos]
        if missing:
            raise DataError(f"dedicated_voice: {len(missing)} test ids are not voice test clips "
                            f"(e.g. {missing[0]})")
        k = [pos[i] for i in test_ids]
        out |= {"items_ua": 100 * ua(list(yt[k]), list(pred[k])),
                "items_acc": 100 * float(np.mean(pred[k] == yt[k])), "n_items": len(k)}
    return out
