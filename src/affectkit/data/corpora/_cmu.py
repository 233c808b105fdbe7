"""Readers shared by the CMU corpora (MOSI, MOSEI, mosi400): CMU-SDK ``.csd`` files, raw
transcripts, and the standard MOSI folds.

Not a corpus module (the leading underscore keeps it out of registry discovery).
"""

from __future__ import annotations

import re
from pathlib import Path

from affectkit.errors import DataError

# The CMU-MultimodalSDK standard MOSI folds (``cmu_mosi_std_folds``), by video: 52 train,
# 10 valid, 31 test videos. They are the same folds as the ``mode`` column of MMSA's
# label.csv (checked by tests/test_corpora_text_face.py against the shared copy). Needed to
# give the raw CMU layout, which carries no split, its official split.
_MOSI_TRAIN = """
03bSnISJMiM 0h-zjBukYpk 1DmNV9C1hbY 1iG0909rllw 2WGyTLYerpo 2iD-tVS8NPw 5W7Z1C_fDaE
6Egk_28TtTM 6_0THN4chvY 73jzhE8R1TQ 7JsX8y1ysxY 8OtFthrtaJM 8d-gEyoeBzc 8qrpnFRGt2A
9J25DZhivz8 9T9Hf74oK10 9c67fiY0wGQ 9qR7uwkblbs Af8D0E4ZXaw BI97DNYfe5I BXuRRbG0Ugk
Bfr499ggo-0 BioHAh1qJAQ BvYR0L6f2Ig Ci-AH39fi3Y Clx4VXItLTE Dg_0XKD0Mf4 G-xst2euQUc
G6GlGvlkxAQ GWuJjcEuzt8 HEsqda8_d0Q I5y0__X72p0 Iu2PFX3z_1s IumbAb8q2dM Jkswaaud0hk
LSi-o-IrDMs MLal-t_vJPM Njd1F0vZSm4 Nzq88NnDkEk OQvJTdtJ2H4 OtBXNcAL_lE Oz06ZWiO20M
POKffnXeBds PZ-lDQFboO8 QN9ZIUWUXsY Qr1Ca94K55A Sqr0AcuoNnk TvyZBvOMOTc VCslbP0mgZI
VbQk4H8hgr0 Vj1wYRQjB-o W8NXH0Djyww
"""
_MOSI_VALID = """
WKA5OygbEKI X3j2zQgwYgE ZAIRrfG22O0 ZUXBRvtny7o _dI--eQ6qVU aiEXnCPZubE atnd_PF-Lbs
bOL9jKpeJRs bvLlb-M3UXU c5xsKMxpXnc
"""
_MOSI_TEST = """
c7UH_rxdZv4 cM3Yna7AavY cW1FSBF59ik cXypl4FnoZo d3_k5Xpfmik d6hH302o4v8 dq3Nf_lMPnE
etzxEpPuc6I f9O3YtZ2VfI f_pcplsH_V0 fvVhgmXxadc iiK8YX8oH1E jUzDDGyPkXU k5Y_838nuGo
lXPQBPVc5Cw nbWiPyCm4g0 nzpVDcQ0ywM ob23OKe5a9Q pLTX3ipuDJI phBUpBr1hSo rnaNMUZpvvg
tIrG4oNLFzE tStelxIAHjw tmZoasNr4rU v0zCBqDeKcE vvZ4IcEtiZc vyB00TXsimI wMbj6ajWbic
yDtzw_Y-7RU yvsjCA6Y5Fc zhpQhgha_KU
"""
MOSI_FOLDS: dict[str, str] = {
    **{v: "train" for v in _MOSI_TRAIN.split()},
    **{v: "valid" for v in _MOSI_VALID.split()},
    **{v: "test" for v in _MOSI_TEST.split()},
}

# MMSA writes "dev" for MOSI and "valid" for MOSEI.
MODES = {"train": "train", "valid": "valid", "dev": "valid", "val": "valid", "test": "test"}

_SEG_KEY = re.compile(r"^(.*)\[(\d+)\]$")


def read_csd(path: str | Path) -> dict[str, list[tuple[int | None, float, float, list[float]]]]:
    """Read a CMU-MultimodalSDK computational sequence (``.csd``, HDF5).

    The file holds one top-level group (the sequence name) with ``data/<key>/features``
    (``(N, D)`` float) and ``data/<key>/intervals`` (``(N, 2)`` start/end seconds), where
    ``<key>`` is a video id or, after SDK alignment, ``<video>[<i>]`` (segment ``i``, 0-based).

    Returns:
        ``{video_id: [(segment_index_or_None, start, end, features_row), ...]}``, each list
        sorted by start time. ``segment_index`` is the 0-based ``[i]`` of aligned keys, else
        ``None`` (the caller numbers segments by order).

    Raises:
        DataError: not HDF5, or no ``data`` group anywhere at the top level.
    """
    import h5py

    path = Path(path)
    out: dict[str, list[tuple[int | None, float, float, list[float]]]] = {}
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable CMU-SDK .csd (HDF5) file ({e})") from None
    with f:
        groups = [g for g in f.values() if isinstance(g, h5py.Group) and "data" in g]
        if not groups:
            raise DataError(f"{path}: no '<sequence>/data' group; is this a CMU-SDK .csd file?")
        for key, item in groups[0]["data"].items():
            if "features" not in item or "intervals" not in item:
                raise DataError(f"{path}: data/{key} lacks 'features' or 'intervals'")
            feats, ivs = item["features"][()], item["intervals"][()]
            if feats.ndim == 1:
                feats = feats[:, None]
            if len(feats) != len(ivs) or ivs.ndim != 2 or ivs.shape[1] != 2:
                raise DataError(f"{path}: data/{key}: {len(feats)} feature rows vs "
                                f"intervals of shape {ivs.shape}")
            m = _SEG_KEY.match(key)
            video, seg = (m.group(1), int(m.group(2))) if m else (key, None)
            for row, (s, e) in zip(feats, ivs):
                out.setdefault(video, []).append(
                    (seg, float(s), float(e), [float(x) for x in row]))
    for rows in out.values():
        rows.sort(key=lambda r: (r[1], r[0] if r[0] is not None else -1))
    return out


def read_annotprocessed(path: Path) -> dict[int, str]:
    """MOSI raw segmented transcript: lines ``<n>_DELIM_<TEXT>`` → ``{n: text}``.

    Lines that do not parse are returned under negative keys (``-line_no``) so the caller can
    report them instead of dropping them.
    """
    out: dict[int, str] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        n, sep, text = line.partition("_DELIM_")
        if sep and n.strip().isdigit():
            out[int(n)] = text.strip()
        else:
            out[-no] = line
    return out


def read_mosei_transcript(path: Path) -> tuple[list[tuple[int, float, float, str]], list[int]]:
    """MOSEI raw transcript ``Transcript/Segmented/Combined/<video>.txt``: lines
    ``<video>___<n>___<start>___<end>___<text>``.

    Returns:
        ``([(n, start, end, text)], [line numbers that did not parse])``.
    """
    out, bad = [], []
    for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split("___", 4)
        try:
            out.append((int(parts[1]), float(parts[2]), float(parts[3]), parts[4].strip()))
        except (ValueError, IndexError):
            bad.append(no)
    return out, bad


def find_label_csd(root: Path) -> Path | None:
    """The labels ``.csd`` under ``root`` (or ``root/Labels``): the one whose name mentions
    labels, else the only ``.csd`` there."""
    cands = sorted(root.glob("*.csd")) + sorted(root.glob("*/*.csd"))
    labelled = [p for p in cands if "label" in p.name.lower()]
    if labelled:
        return labelled[0]
    return cands[0] if len(cands) == 1 else None


def parse_score(value: str) -> float | None:
    """A sentiment score in [-3, 3], or ``None`` if it is not one."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if -3.0 <= x <= 3.0 else None
