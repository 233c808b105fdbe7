"""ShEMO: Sharif Emotional Speech Database, Persian (Mohamad Nezami et al., LRE 2019).

3,000 semi-natural utterances from online radio plays, 87 speakers (31 female, 56 male),
labelled by majority vote of twelve annotators.

Supported layout (the release's ``female.zip`` and ``male.zip`` unpacked, any extension)::

    ROOT/female/F01A01.wav     <G><SS><E><NN>: gender F/M, speaker number (per gender),
    ROOT/male/M01N05.wav       emotion letter, utterance number
    ROOT/shemo.json            optional: labels & transcripts (``[{"id", "gender",
                               "emotion", "transcript", "ipa"}, ...]`` or a dict keyed by id)

Emotion letters (release README): A anger, H happiness, N neutral, S sadness, W surprise,
F fear. The speaker is ``<G><SS>`` (F01 and M01 are different people). ``text`` is the
orthographic transcript from ``shemo.json`` when present (IPA in ``meta["ipa"]``).
A file whose gender letter disagrees with its female/male folder is reported.

Splits: none official; ``speaker_kfold`` over the 87 speakers (5 or 10 folds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {
    "A": "anger", "H": "happiness", "N": "neutral",
    "S": "sadness", "W": "surprise", "F": "fear",
}
NAME_RE = re.compile(r"^([FM])(\d\d)([A-Z])(\d\d)$")
GENDERS = {"F": "female", "M": "male"}


@CORPORA.register()
class Shemo(Corpus):
    name = "shemo"
    title = "ShEMO"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=tuple(EMOTIONS.values()))
    layout = ("ROOT/{female,male}/<G><SS><E><NN>.{wav,...} (e.g. female/F01A01.wav) "
              "+ optional ROOT/shemo.json")
    shared_subdir = None
    language = "fa"
    licence = "free for academic use (shemodb.com)"

    def _transcripts(self) -> tuple[dict[str, dict], list[Issue]]:
        path = self.root / "shemo.json"
        if not path.is_file():
            return {}, []
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return {}, [Issue(str(path), f"not valid JSON ({e}); transcripts not read", "file")]
        if isinstance(data, dict):  # some copies key the records by file id
            data = [{"id": k, **v} for k, v in data.items() if isinstance(v, dict)]
        return {str(r["id"]): r for r in data if isinstance(r, dict) and "id" in r}, []

    def scan(self) -> Iterator[Utterance | Issue]:
        records, issues = self._transcripts()
        yield from issues
        for p in audio_files(self.root):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <G><SS><E><NN> (e.g. F01A01)", "name")
                continue
            g, spk_no, letter, num = m.groups()
            if letter not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion letter {letter!r} (expected one of "
                                    f"{' '.join(EMOTIONS)})", "emotion")
                continue
            folder = p.parent.name.lower()
            if folder in GENDERS.values() and folder != GENDERS[g]:
                yield Issue(str(p), f"gender letter {g} disagrees with folder {p.parent.name}",
                            "gender")
                continue
            label = EMOTIONS[letter]
            rec = records.get(p.stem, {})
            meta = {"gender": GENDERS[g], "number": int(num)}
            if rec.get("ipa"):
                meta["ipa"] = rec["ipa"]
            text = (rec.get("transcript") or "").replace("\ufeff", "").strip() or None
            yield Utterance(
                id=self.uid(p.stem),
                corpus=self.name,
                speaker=f"shemo/{g}{spk_no}",
                text=text,
                media={Modality.AUDIO: p},
                emotion=canonical(label),
                emotion_original=label,
                meta=meta,
            )
