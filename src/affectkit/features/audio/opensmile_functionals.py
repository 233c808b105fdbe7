"""eGeMAPS v02 and ComParE 2016 functionals through openSMILE (optional extra).

``pip install 'affectkit[opensmile]'`` (or ``pip install opensmile``) enables them. They are
not installed by default because the openSMILE binary bundled in the ``opensmile`` wheel is
licensed for research and education only (audEERING's licence; the MIT tag on PyPI covers
the Python wrapper alone). The notice is printed once per process when one is first used.

* ``audio.egemaps``: 88 functionals of the Geneva Minimalistic Acoustic Parameter Set.
* ``audio.compare``: 6,373 functionals of the INTERSPEECH 2016 ComParE set.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from typing import ClassVar

import numpy as np

from affectkit.errors import FeatureError
from affectkit.features.base import EXTRACTORS, AudioExtractor

INSTALL = "pip install 'affectkit[opensmile]'  (or: pip install opensmile)"
LICENCE_NOTICE = (
    "affectkit: openSMILE (used by audio.egemaps / audio.compare) is licensed for research and "
    "education only; commercial use needs a licence from audEERING (https://audeering.com)."
)
_noticed = False


def _notice_once() -> None:
    global _noticed
    if not _noticed:
        _noticed = True
        print(LICENCE_NOTICE, file=sys.stderr)


@functools.lru_cache(maxsize=4)
def _smile(feature_set: str):
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


class _OpenSmile(AudioExtractor):
    level = "utterance"
    extra = "opensmile"
    feature_set: ClassVar[str]
    n_features: ClassVar[int]

    def __init__(self) -> None:
        pass

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("opensmile") is None:
            return False, f"{cls.name} needs the optional openSMILE package: {INSTALL}"
        return True, ""

    def _require(self):
        ok, why = self.available()
        if not ok:
            raise FeatureError(why)
        _notice_once()
        return _smile(self.feature_set)

    @property
    def dim(self) -> int:
        return self.n_features

    @property
    def model_version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"opensmile=={version('opensmile')}/{self.feature_set}"
        except PackageNotFoundError:
            return f"opensmile==?/{self.feature_set}"

    @property
    def feature_names(self) -> list[str]:
        return list(self._require().feature_names)

    def _compute(self, x: np.ndarray) -> np.ndarray:
        smile = self._require()
        df = smile.process_signal(x, self.sample_rate)
        return df.to_numpy(dtype=np.float32).reshape(-1)


@EXTRACTORS.register()
class EGeMAPS(_OpenSmile):
    """88 eGeMAPS v02 functionals per utterance (openSMILE, research-only licence)."""

    name = "audio.egemaps"
    description = "eGeMAPS v02 functionals via openSMILE (optional extra, research licence)"
    feature_set = "eGeMAPSv02"
    n_features = 88


@EXTRACTORS.register()
class ComParE(_OpenSmile):
    """6,373 ComParE 2016 functionals per utterance (openSMILE, research-only licence)."""

    name = "audio.compare"
    description = "ComParE 2016 functionals via openSMILE (optional extra, research licence)"
    feature_set = "ComParE_2016"
    n_features = 6373
