"""Cross-corpus generalisation: ``affect bench generalise --modality audio|text|vision``.

Each modality lives in its own module, ``affectkit.evaluation.generalise_<modality>``, which
exposes::

    def run(*, seeds: int = 3, quick: bool = False, progress: bool = True) -> dict

returning a JSON-able dict with at least

* ``"protocol"``: one paragraph — which corpora, which classes, train/validation/test rule
  (leave one corpus out: train on the others, select on *their* validation parts, score the
  held-out corpus once);
* ``"rows"``: one dict per (model, held-out corpus) with ``UA``, ``macro_f1`` (mean and sd over
  seeds), ``pred_shares`` (predicted-class shares on the held-out corpus) and ``gold_shares``;
* ``"markdown"``: the tables, rendered.

This module adds the date, the command and the machine, and writes
``benchmarks/results/generalise-<modality>.{json,md}``.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import platform
from pathlib import Path

from affectkit.errors import ConfigError

MODALITIES = ("audio", "text", "vision")


def module_for(modality: str):
    if modality not in MODALITIES:
        raise ConfigError(f"--modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    try:
        return importlib.import_module(f"affectkit.evaluation.generalise_{modality}")
    except ModuleNotFoundError as e:
        if e.name == f"affectkit.evaluation.generalise_{modality}":
            raise ConfigError(f"no cross-corpus benchmark for {modality!r} yet") from e
        raise


def run(modality: str, *, seeds: int = 3, quick: bool = False, progress: bool = True,
        out_dir: str | Path = "benchmarks/results", command: str = "", suffix: str = "",
        **options) -> dict:
    """Run one modality's leave-one-corpus-out benchmark and write its JSON and markdown.

    ``options`` go to the modality's ``run`` (e.g. audio: ``feature=``, ``corpora=``);
    ``suffix`` names the output ``generalise-<modality>-<suffix>.{json,md}``."""
    res = module_for(modality).run(seeds=seeds, quick=quick, progress=progress, **options)
    res = {"modality": modality, "date": _dt.date.today().isoformat(), "seeds": seeds,
           "quick": quick, "command": command or f"affect bench generalise --modality {modality}"
           + (f" --seeds {seeds}" if seeds != 3 else "") + (" --quick" if quick else ""),
           "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), **res}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"generalise-{modality}" + (f"-{suffix}" if suffix else "") + ("-quick" if quick else "")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1, default=float))
    md = (f"### Cross-corpus generalisation: {modality}\n\n`{res['command']}` — {res['date']}, "
          f"{seeds} seed(s)\n\n{res.get('protocol', '')}\n\n{res.get('markdown', '')}\n")
    (out / f"{stem}.md").write_text(md)
    return res
