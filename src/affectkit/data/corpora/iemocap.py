"""IEMOCAP: the Interactive Emotional Dyadic Motion Capture database (Busso et al., 2008).

Two layouts are read, detected automatically:

* **erc-json** — ``iemocap_text.json``: ``{"label_names": [...], "dialogues": [{"id":
  "Ses01F_impro01", "split": "train|valid|test", "utterances": [{"speaker": "F|M", "text",
  "label"}]}]}``, the 6-class text split used in the ERC literature (happy, sad, neutral,
  angry, excited, frustrated; 151 dialogues, 7,433 utterances: 108/12/31 dialogues =
  5,163/647/1,623 utterances; validation dialogues come from sessions 1–4, test is session 5).
  Utterances carry no turn names, so ids are ``<dialogue>/<index>``.
* **release** — ``Session1..5/dialog/EmoEvaluation/<dialog>.txt`` (lines
  ``[start - end]\\tTURN_NAME\\temo\\t[V, A, D]``), ``Session*/dialog/transcriptions/<dialog>.txt``
  (lines ``TURN_NAME [start-end]: text``) and ``Session*/sentences/wav/<dialog>/<turn>.wav``
  (any audio extension), possibly under an ``IEMOCAP_full_release/`` folder. Every evaluated
  turn is loaded with its majority label code (ang, hap, exc, sad, fru, fea, sur, neu, dis,
  oth, xxx), valence/arousal from the ``[V, A, D]`` triple (the release's 1–5 scale, kept
  as is; dominance in ``meta``). ``xxx`` (no majority among annotators) is kept with
  ``emotion=None``; tasks that need a label skip it. The default split is the usual one:
  sessions 1–4 train, session 5 test (``test_session``), no validation part — speaker
  independent, since each session has its own two actors.

Speaker = session + the gender letter of the turn (``Ses01F_impro01_M003`` → ``iemocap/Ses01M``),
so the two layouts name speakers the same way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from affectkit.data.base import AUDIO_EXTS, CORPORA, Corpus, Issue
from affectkit.errors import DataError
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

# Release codes → the names the ERC json (and OPTIONAL_MAPS) use. ``xxx`` = no agreement.
CODES: dict[str, str | None] = {
    "ang": "angry", "hap": "happy", "exc": "excited", "sad": "sad", "fru": "frustrated",
    "fea": "fearful", "sur": "surprised", "neu": "neutral", "dis": "disgusted", "oth": "other",
    "xxx": None,
}
JSON_LABELS = ("happy", "sad", "neutral", "angry", "excited", "frustrated")
EVAL_RE = re.compile(
    r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+"
    r"\[\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\]"
)
TRANS_RE = re.compile(r"^(\S+)\s+\[([\d.]+)-([\d.]+)\]:\s?(.*)$")
TURN_RE = re.compile(r"^(Ses(\d\d)[FM]_.+)_([FM])[A-Z0-9]*\d+$")
SPLITS = ("train", "valid", "test")


@CORPORA.register()
class Iemocap(Corpus):
    name = "iemocap"
    title = "IEMOCAP"
    modalities = (Modality.TEXT, Modality.AUDIO)
    label_space = LabelSpace(
        emotions=("angry", "happy", "excited", "sad", "frustrated", "fearful", "surprised",
                  "neutral", "disgusted", "other"),
        dimensional=("valence", "arousal"),
    )
    layout = (
        "ROOT/iemocap_text.json (ERC 6-class json) or the release: "
        "ROOT/Session1..5/dialog/{EmoEvaluation,transcriptions}/<dialog>.txt + "
        "ROOT/Session*/sentences/wav/<dialog>/<turn>.wav"
    )
    shared_subdir = "text/iemocap"
    official_split = True
    # erc-json: valid dialogues share sessions (speakers) with train; test (session 5) is
    # speaker-disjoint. release: session split, speaker independent.
    speaker_independent_split = False
    licence = "USC IEMOCAP release agreement (research only)"

    def __init__(self, root, *, strict: bool = False, test_session: int = 5) -> None:
        """
        Args:
            root: folder holding ``iemocap_text.json`` or the release's ``Session*`` folders.
            strict: raise on the first bad line instead of reporting it.
            test_session: release layout only; the session used as test (1–5).
        """
        super().__init__(root, strict=strict)
        if test_session not in (1, 2, 3, 4, 5):
            raise DataError(f"IEMOCAP: test_session must be 1..5, got {test_session!r}")
        self.test_session = test_session

    def scan(self) -> Iterator[Utterance | Issue]:
        js = self.root / "iemocap_text.json"
        if self.root.is_file() and self.root.suffix == ".json":
            js = self.root
        if js.is_file():
            yield from self._scan_json(js)
            return
        sessions = sorted(self.root.glob("Session[1-5]")) or sorted(
            self.root.glob("*/Session[1-5]"))
        if not sessions:
            raise DataError(f"IEMOCAP: neither iemocap_text.json nor Session1..5/ under "
                            f"{self.root}; expected layout: {self.layout}")
        for s in sessions:
            yield from self._scan_session(s)

    # -- ERC json ------------------------------------------------------------------------
    def _scan_json(self, js: Path) -> Iterator[Utterance | Issue]:
        try:
            data = json.loads(js.read_text(encoding="utf-8"))
            dialogues = data["dialogues"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"IEMOCAP: {js} is not the ERC json ({e}); expected layout: "
                            f"{self.layout}") from None
        labels = tuple(data.get("label_names") or JSON_LABELS)
        for d_no, dlg in enumerate(dialogues):
            did = str(dlg.get("id", ""))
            where = f"{js}:dialogues[{d_no}]"
            if dlg.get("split") not in SPLITS or not re.match(r"^Ses\d\d[FM]_", did):
                yield Issue(where, f"dialogue id {did!r} / split {dlg.get('split')!r} invalid",
                            "split" if dlg.get("split") not in SPLITS else "id")
                continue
            for t, u in enumerate(dlg.get("utterances") or []):
                w = f"{where}.utterances[{t}]"
                label, spk, text = u.get("label"), u.get("speaker"), u.get("text")
                if label not in labels:
                    yield Issue(w, f"unknown label {label!r} (expected {', '.join(labels)})",
                                "label")
                    continue
                if spk not in ("F", "M"):
                    yield Issue(w, f"speaker {spk!r} is not F or M", "speaker")
                    continue
                if not isinstance(text, str):
                    yield Issue(w, "no text", "text")
                    continue
                yield Utterance(
                    id=self.uid(f"{did}/{t:03d}"),
                    corpus=self.name,
                    split=dlg["split"],
                    speaker=f"iemocap/{did[:5]}{spk}",
                    text=text.strip(),
                    dialogue_id=f"iemocap/{did}",
                    turn=t,
                    emotion=canonical(label),
                    emotion_original=label,
                    meta={"session": int(did[3:5]), "layout": "erc-json"},
                )

    # -- the release ---------------------------------------------------------------------
    def _scan_session(self, session: Path) -> Iterator[Utterance | Issue]:
        evals = session / "dialog" / "EmoEvaluation"
        if not evals.is_dir():
            yield Issue(str(evals), "EmoEvaluation folder missing", "file")
            return
        for ef in sorted(evals.glob("*.txt")):
            if ef.name.startswith("."):
                continue
            dialog = ef.stem
            texts = _read_transcription(session / "dialog" / "transcriptions" / f"{dialog}.txt")
            wav_dir = session / "sentences" / "wav" / dialog
            audio: dict[str, Path] = {}
            if wav_dir.is_dir():
                with os.scandir(wav_dir) as it:
                    for e in it:
                        stem, ext = os.path.splitext(e.name)
                        if ext.lower() in AUDIO_EXTS and not e.name.startswith("."):
                            audio[stem] = Path(e.path)
            rows = []
            for line_no, line in enumerate(ef.read_text(encoding="utf-8", errors="replace")
                                           .splitlines(), start=1):
                if not line.startswith("["):
                    continue
                where = f"{ef}:{line_no}"
                m = EVAL_RE.match(line)
                if not m:
                    yield Issue(where, "not '[start - end]\\tTURN\\temo\\t[V, A, D]'", "line")
                    continue
                start, end, turn, code, v, a, dom = m.groups()
                tm = TURN_RE.match(turn)
                if not tm or tm.group(1) != dialog:
                    yield Issue(where, f"turn name {turn!r} does not belong to {dialog}", "turn")
                    continue
                if code not in CODES:
                    yield Issue(where, f"unknown emotion code {code!r} (expected "
                                f"{', '.join(CODES)})", "emotion")
                    continue
                rows.append((float(start), float(end), turn, code, float(v), float(a),
                             float(dom), tm.group(2), tm.group(3)))
            rows.sort(key=lambda r: (r[0], r[2]))
            for t, (start, end, turn, code, v, a, dom, sess, gender) in enumerate(rows):
                media = {Modality.AUDIO: audio[turn]} if turn in audio else {}
                yield Utterance(
                    id=self.uid(turn),
                    corpus=self.name,
                    split="test" if int(sess) == self.test_session else "train",
                    speaker=f"iemocap/Ses{sess}{gender}",
                    text=texts.get(turn),
                    media=media,
                    dialogue_id=f"iemocap/{dialog}",
                    turn=t,
                    emotion=canonical(CODES[code]) if CODES[code] else None,
                    emotion_original=code,
                    valence=v,
                    arousal=a,
                    meta={"session": int(sess), "dominance": dom, "dialog_start": start,
                          "dialog_end": end, "layout": "release",
                          "improvised": "_impro" in dialog},
                )


def _read_transcription(path: Path) -> dict[str, str]:
    """Turn name → text from a release transcription file (missing file → empty)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = TRANS_RE.match(line.strip())
        if m:
            out[m.group(1)] = m.group(4).strip()
    return out
