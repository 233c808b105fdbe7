"""``affect analyze``: raw media, images and transcripts → per-utterance emotion and sentiment.

>>> from affectkit.analysis import Analyzer                 # doctest: +SKIP
>>> results = Analyzer(modalities=["text"]).analyze(["chat.csv"])   # doctest: +SKIP
"""

from affectkit.analysis.fusion import LateFusion, ModalityOutput
from affectkit.analysis.pipeline import Analyzer
from affectkit.analysis.results import FileResult, UtteranceResult

__all__ = ["Analyzer", "FileResult", "LateFusion", "ModalityOutput", "UtteranceResult"]
