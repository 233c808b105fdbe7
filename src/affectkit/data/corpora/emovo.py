"""EMOVO: Italian emotional speech (Costantini et al., LREC 2014).

Six actors (f1..f3, m1..m3) read 14 sentences in seven emotions: 588 clips.

Supported layout (the release archive, any audio extension)::

    ROOT/<spk>/<emo>-<spk>-<sent>.wav     e.g. f1/gio-f1-b1.wav

``<emo>`` is the corpus's Italian code, kept as ``emotion_original``: dis (disgusto),
gio (gioia, joy), neu (neutro), pau (paura, fear), rab (rabbia, anger), sor (sorpresa),
tri (tristezza, sadness). ``<sent>`` is b1..b3 (short), l1..l4 (long), d1..d2 (questions),
n1..n5 (nonsense); ``text`` is its Italian sentence (the corpus documentation's list).
A file whose name names another speaker than its folder is reported, not loaded.

Splits: none official; ``leave_one_speaker_out`` (6 folds) or ``speaker_kfold``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from affectkit.data.base import CORPORA, Corpus, Issue
from affectkit.data.corpora._audio import audio_files
from affectkit.taxonomy import canonical
from affectkit.types import LabelSpace, Modality, Utterance

EMOTIONS = {
    "dis": "disgusto", "gio": "gioia", "neu": "neutro", "pau": "paura",
    "rab": "rabbia", "sor": "sorpresa", "tri": "tristezza",
}
SENTENCES = {
    "b1": "Gli operai si alzano presto.",
    "b2": "I vigili sono muniti di pistola.",
    "b3": "La cascata fa molto rumore.",
    "l1": "L'autunno prossimo Tony partirà per la Spagna nella prima metà di ottobre.",
    "l2": "Ora prendo la felpa di là ed esco per fare una passeggiata.",
    "l3": "Un attimo dopo s'è incamminato... ed è inciampato.",
    "l4": "Vorrei il numero telefonico del Signor Piatti.",
    "n1": "La casa forte vuole col pane.",
    "n2": "La forza trova il passo e l'aglio rosso.",
    "n3": "Il gatto sta scorrendo nella pera.",
    "n4": "Insalata pastasciutta coscia d'agnello limoncello.",
    "n5": "Uno quarantatré dieci mille cinquantasette venti.",
    "d1": "Sabato sera cosa farà?",
    "d2": "Porti con te quella cosa?",
}
SENTENCE_TYPES = {"b": "short", "l": "long", "d": "question", "n": "nonsense"}
NAME_RE = re.compile(r"^([a-z]{3})-([fm]\d)-([bldn]\d)$", re.IGNORECASE)
SPK_RE = re.compile(r"^[fm]\d$", re.IGNORECASE)


@CORPORA.register()
class Emovo(Corpus):
    name = "emovo"
    title = "EMOVO"
    modalities = (Modality.AUDIO, Modality.TEXT)
    label_space = LabelSpace(emotions=tuple(EMOTIONS))
    layout = "ROOT/<spk>/<emo>-<spk>-<sent>.{wav,opus,...}, e.g. f1/gio-f1-b1.wav"
    shared_subdir = "speech/emovo"
    language = "it"
    licence = "research use (Fondazione Ugo Bordoni)"

    def scan(self) -> Iterator[Utterance | Issue]:
        for p in audio_files(self.root):
            m = NAME_RE.match(p.stem)
            if not m:
                yield Issue(str(p), "file name is not <emo>-<spk>-<sent> (e.g. gio-f1-b1)",
                            "name")
                continue
            emo, spk, sent = (g.lower() for g in m.groups())
            if emo not in EMOTIONS:
                yield Issue(str(p), f"unknown emotion code {emo!r} (expected one of "
                                    f"{' '.join(EMOTIONS)})", "emotion")
                continue
            folder = p.parent.name.lower()
            if SPK_RE.match(folder) and folder != spk:
                yield Issue(str(p), f"file names speaker {spk} but sits in folder {folder}",
                            "speaker")
                continue
            yield Utterance(
                id=self.uid(p.stem.lower()),
                corpus=self.name,
                speaker=f"emovo/{spk}",
                text=SENTENCES.get(sent),
                media={Modality.AUDIO: p},
                emotion=canonical(emo),
                emotion_original=emo,
                meta={
                    "italian": EMOTIONS[emo],
                    "sentence": sent,
                    "sentence_type": SENTENCE_TYPES[sent[0]],
                    "gender": "female" if spk[0] == "f" else "male",
                },
            )
