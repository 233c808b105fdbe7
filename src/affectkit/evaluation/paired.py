"""Paired comparison of two suite entries trained on the same (seed, fold) runs.

A plug-in (a training strategy such as ``suci``) is judged against the same model without it:
both entries of a suite are trained on identical folds with identical seeds, so the
difference per (seed, fold) removes the fold-to-fold spread that dominates the unpaired
mean ± sd. Verdict (the rule of :func:`affectkit.evaluation.counterfactual.paired_table`):
**gain** / **loss** when the mean paired difference is larger than its sd, else **tie**.

Usage (after ``affect bench suite SUITE --runs RUNS``)::

    python -m affectkit.evaluation.paired RUNS/SUITE --base plain --other suci \\
        --metrics ua wa macro_f1 --out benchmarks/results/SUITE-paired

reads ``RUNS/SUITE/<entry>/seed<k>/<fold>/test_metrics.json`` and writes ``OUT.json`` and
``OUT.md``. Only (seed, fold) pairs present in both entries count; a missing partner is
reported, never silently dropped.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from affectkit.errors import ConfigError

LOWER_IS_BETTER = ("mae", "loss")


def read_runs(entry_dir: Path) -> dict[tuple[str, str], dict]:
    """(seed folder, fold folder) → test metrics of every finished run under ``entry_dir``."""
    if not entry_dir.is_dir():
        raise ConfigError(f"{entry_dir}: no such entry folder; run the suite with --runs first")
    out = {}
    for f in sorted(entry_dir.glob("seed*/*/test_metrics.json")):
        out[(f.parent.parent.name, f.parent.name)] = json.loads(f.read_text())["test"]
    if not out:
        raise ConfigError(f"{entry_dir}: no finished runs (seed*/<fold>/test_metrics.json)")
    return out


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else 0.0


def paired(base: dict[tuple[str, str], dict], other: dict[tuple[str, str], dict],
           metrics: list[str]) -> dict:
    """Per metric: base and other mean ± sd over the shared runs, the paired difference
    (other − base) mean ± sd, its sd over seeds (fold-averaged per seed) and the verdict."""
    keys = sorted(set(base) & set(other))
    if not keys:
        raise ConfigError("the two entries share no (seed, fold) run")
    rows = []
    for m in metrics:
        b = np.array([float(base[k].get(m, np.nan)) for k in keys])
        o = np.array([float(other[k].get(m, np.nan)) for k in keys])
        ok = ~(np.isnan(b) | np.isnan(o))
        if not ok.any():
            continue
        d = (o - b)[ok]
        seeds = sorted({k[0] for k, good in zip(keys, ok) if good})
        per_seed = [float(np.mean([o[i] - b[i] for i, k in enumerate(keys) if ok[i] and k[0] == s]))
                    for s in seeds]
        md, sd = float(d.mean()), _sd(d)
        lower = m.startswith(LOWER_IS_BETTER)
        good = -md if lower else md
        verdict = "tie" if abs(md) <= max(sd, 1e-12) else ("gain" if good > 0 else "loss")
        rows.append({"metric": m, "base": float(b[ok].mean()), "base_sd": _sd(b[ok]),
                     "other": float(o[ok].mean()), "other_sd": _sd(o[ok]),
                     "diff": md, "diff_sd": sd, "diff_sd_seeds": _sd(np.array(per_seed)),
                     "n_pairs": int(ok.sum()), "wins": int((d * (-1 if lower else 1) > 0).sum()),
                     "lower_is_better": lower, "verdict": verdict})
    return {"pairs": [list(k) for k in keys], "rows": rows,
            "unpaired": {"base_only": [list(k) for k in sorted(set(base) - set(other))],
                         "other_only": [list(k) for k in sorted(set(other) - set(base))]}}


def markdown(res: dict, base: str, other: str) -> str:
    lines = [f"| metric | {base} | {other} | paired diff ({other} − {base}) | sd over seeds | "
             "wins | verdict |", "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['metric']} | {r['base']:.3f} ± {r['base_sd']:.3f} | "
                     f"{r['other']:.3f} ± {r['other_sd']:.3f} | {r['diff']:+.3f} ± {r['diff_sd']:.3f} | "
                     f"{r['diff_sd_seeds']:.3f} | {r['wins']}/{r['n_pairs']} | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("suite_runs", type=Path, help="RUNS/SUITE (the --runs folder of the suite)")
    ap.add_argument("--base", required=True, help="entry folder of the plain model")
    ap.add_argument("--other", required=True, help="entry folder of the model with the plug-in")
    ap.add_argument("--metrics", nargs="+", required=True)
    ap.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    a = ap.parse_args(argv)
    res = paired(read_runs(a.suite_runs / a.base), read_runs(a.suite_runs / a.other), a.metrics)
    res |= {"suite_runs": str(a.suite_runs), "base": a.base, "other": a.other,
            "date": date.today().isoformat(),
            "command": "python -m affectkit.evaluation.paired " + " ".join(argv or []) if argv
            else None}
    md = markdown(res, a.base, a.other)
    print(md, end="")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
        a.out.with_suffix(".md").write_text(md)
    return res


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
