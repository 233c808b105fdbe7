"""Benchmark suites: several experiments on one protocol → one table (markdown + JSON).

A suite is a YAML file (``configs/suites/<name>.yaml``)::

    name: emodb
    title: EmoDB 7-class, leave-one-speaker-out
    metrics: [ua, wa, macro_f1]          # table columns (the first is the headline)
    goal: {ua: 0.85}                     # optional targets, shown beside the result
    base:                                # shared experiment config (data, task, trainer)
      data: {corpus: emodb, split: loso}
      task: {kind: emotion, key_metric: ua}
    entries:                             # one row each; merged over `base`
      - {label: majority class, model: {name: sk.majority}, features: {audio: audio.functionals},
         deterministic: true}
      - {label: CRNN on log-mel, model: {name: voice.crnn}, features: {audio: audio.logmel}}

Each entry runs every fold × seed (a ``deterministic`` entry — scikit-learn baselines whose
fit does not depend on the seed — runs once). Results are mean ± sd over all fold × seed runs.
Finished runs are kept under ``runs/benchmarks/<suite>/`` and reused, so an interrupted
benchmark resumes.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.config import ExperimentConfig, config_signature, from_dict, merge, to_dict
from affectkit.errors import ConfigError

SUITE_KEYS = ("name", "title", "metrics", "goal", "base", "entries", "notes", "cost")
ENTRY_KEYS = ("label", "model", "features", "data", "task", "trainer", "deterministic", "seeds",
              "group", "name")


@dataclass
class Suite:
    name: str
    title: str
    metrics: list[str]
    base: dict
    entries: list[dict]
    goal: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    path: Path | None = None

    def experiments(self) -> list[tuple[dict, ExperimentConfig]]:
        out = []
        for i, e in enumerate(self.entries):
            raw = {k: v for k, v in e.items() if k in ("model", "features", "data", "task",
                                                          "trainer")}
            merged = merge(self.base, raw)
            merged["name"] = f"{self.name}/{e.get('name') or _slug(e['label'])}"
            where = f"{self.path or self.name}: entries[{i}] ({e['label']})"
            cfg = from_dict(ExperimentConfig, merged, where).validate()
            out.append((e, cfg))
        return out


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-").replace("--", "-")


def suite_dir() -> Path:
    """``configs/suites`` of the checkout (the package is installed editable)."""
    return Path(__file__).resolve().parents[3] / "configs" / "suites"


def load_suite(name_or_path: str | Path) -> Suite:
    import yaml

    p = Path(name_or_path)
    if not p.exists():
        p = suite_dir() / f"{name_or_path}.yaml"
    if not p.exists():
        known = sorted(q.stem for q in suite_dir().glob("*.yaml"))
        raise ConfigError(f"suite {name_or_path!r} not found; known suites: {', '.join(known)}")
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    bad = [k for k in raw if k not in SUITE_KEYS]
    if bad:
        raise ConfigError(f"{p}: unknown key {bad[0]!r}; allowed keys: {', '.join(SUITE_KEYS)}")
    for i, e in enumerate(raw.get("entries") or []):
        bad = [k for k in e if k not in ENTRY_KEYS]
        if bad:
            raise ConfigError(f"{p}: entries[{i}]: unknown key {bad[0]!r}; allowed keys: "
                              f"{', '.join(ENTRY_KEYS)}")
        if "label" not in e:
            raise ConfigError(f"{p}: entries[{i}] needs a label")
    if not raw.get("entries"):
        raise ConfigError(f"{p}: no entries")
    return Suite(raw.get("name", p.stem), raw.get("title", p.stem), list(raw.get("metrics") or []),
                 raw.get("base") or {}, raw["entries"], raw.get("goal") or {},
                 raw.get("notes", ""), p)


def aggregate(runs: list[dict], metric: str) -> dict:
    vals = [r["test"].get(metric) for r in runs]
    vals = [float(v) for v in vals if isinstance(v, int | float) and v == v]
    if not vals:
        return {"mean": None, "sd": None, "n": 0}
    by_seed: dict[int, list[float]] = {}
    for r in runs:
        v = r["test"].get(metric)
        if isinstance(v, int | float):
            by_seed.setdefault(r["seed"], []).append(float(v))
    seed_means = [float(np.mean(v)) for v in by_seed.values()]
    return {"mean": float(np.mean(vals)), "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            "sd_seeds": float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else 0.0,
            "n": len(vals), "values": vals}


def run_suite(suite: Suite, *, seeds: int = 3, run_root: str | Path = "runs/benchmarks",
              progress: bool = True, only: list[str] | None = None,
              skip: list[str] | None = None, console=None) -> dict:
    """Run every entry of ``suite``; returns the JSON-able result (also the table's source)."""
    from affectkit.experiment import prepare, run_fold, safe_name

    t_suite = time.perf_counter()
    rows = []
    prepared: dict[str, Any] = {}
    for entry, cfg in suite.experiments():
        names = {entry["label"], _slug(entry["label"]), entry.get("name"), cfg.model.name}
        if (only and not names & set(only)) or (skip and names & set(skip)):
            continue
        t0 = time.perf_counter()
        key = json.dumps([to_dict(cfg.data), cfg.features, cfg.task.kind], sort_keys=True)
        if key not in prepared:
            prepared[key] = prepare(cfg, progress=progress)
        prep = prepared[key].for_config(cfg)
        n_seeds = 1 if entry.get("deterministic") else int(entry.get("seeds", seeds))
        runs = []
        for seed in range(n_seeds):
            for fold in prep.split.folds:
                rd = (Path(run_root) / suite.name / _slug(entry.get("name") or entry["label"])
                      / f"seed{seed}" / safe_name(fold.name))
                done = rd / "test_metrics.json"
                if done.exists():
                    r = json.loads(done.read_text())
                    if "data_signature" not in r and (rd / "data.json").exists():
                        dj = json.loads((rd / "data.json").read_text())  # written by run_fold
                        r["data_signature"] = dj.get("data_signature")
                        r["feature_signatures"] = dj.get("feature_signatures")
                    # reuse only a run of the same config on the same data and features
                    if (r.get("config_sig") == _cfg_sig(cfg)
                            and r.get("data_signature") == prep.data_signature
                            and r.get("feature_signatures") == prep.feature_signatures):
                        runs.append(r)
                        continue
                if rd.exists():  # a stale or unfinished run of another config: start over
                    for f in ("last.json", "last.safetensors", "model.safetensors",
                              "test_metrics.json"):
                        (rd / f).unlink(missing_ok=True)
                r = run_fold(prep, fold, seed=seed, run_dir=rd, progress=progress)
                r["config_sig"] = _cfg_sig(cfg)
                r["data_signature"] = prep.data_signature
                r["feature_signatures"] = prep.feature_signatures
                done.write_text(json.dumps(r, indent=2, default=str))
                runs.append(r)
                if console is not None:
                    m0 = suite.metrics[0]
                    console.print(f"  {entry['label']} · seed {seed} · {fold.name}: "
                                  f"{m0} {r['test'].get(m0, float('nan')):.4f} "
                                  f"({r['seconds']:.0f} s)", highlight=False)
        row = {
            "label": entry["label"], "group": entry.get("group", ""),
            "model": cfg.model.name, "model_args": cfg.model.args, "features": cfg.features,
            "seeds": n_seeds, "folds": len(prep.split.folds),
            "metrics": {m: aggregate(runs, m) for m in suite.metrics},
            "protocol": prep.split.protocol, "n_items": len(prep.data.utterances),
            "labels": prep.data.labels, "skipped": dict(prep.data.skipped),
            "data_signature": prep.data_signature, "feature_signatures": prep.feature_signatures,
            "model_signature": _cfg_sig(cfg),
            "n_parameters": runs[0].get("n_parameters") if runs else None,
            "seconds": round(time.perf_counter() - t0, 1),
            "train_seconds": round(sum(r.get("seconds", 0) for r in runs), 1),
            "config": to_dict(cfg),
        }
        rows.append(row)
    return {
        "suite": suite.name, "title": suite.title, "metrics": suite.metrics, "goal": suite.goal,
        "notes": suite.notes, "rows": rows, "date": date.today().isoformat(),
        "machine": f"{platform.machine()} · torch threads {rows[0]['config']['trainer']['threads'] if rows else '?'}",
        "seconds": round(time.perf_counter() - t_suite, 1),
    }


def _cfg_sig(cfg: ExperimentConfig) -> str:
    return config_signature(cfg)


def _fmt(agg: dict, metric: str) -> str:
    if agg.get("mean") is None:
        return "–"
    raw = metric.startswith(("mae", "corr", "ccc"))  # regression scores: not percentages
    scale = 1.0 if raw else 100.0
    one = agg.get("n", 0) <= 1  # a single run has no spread to show
    if raw:
        return f"{agg['mean']:.3f}" + ("" if one else f" ± {agg['sd']:.3f}")
    return f"{agg['mean'] * scale:.1f}" + ("" if one else f" ± {agg['sd'] * scale:.1f}")


def to_markdown(res: dict, command: str = "") -> str:
    """The suite's section for docs/benchmarks.md."""
    ms = res["metrics"]
    lines = [f"## {res['title']}", ""]
    if command:
        lines += ["```", command, "```", ""]
    proto = res["rows"][0]["protocol"] if res["rows"] else ""
    total = sum(r.get("train_seconds", 0) for r in res["rows"])
    lines += [f"Protocol: {proto}. Model selection and early stopping on each fold's validation "
              f"part only; test scored once. Date {res['date']}, machine: 2-core CPU shared with "
              f"other jobs, 1 torch thread. Wall time: {total / 60:.1f} min summed over all fold "
              f"runs (column \"train s\"), plus feature extraction on first use.", ""]
    if res.get("notes"):
        lines += [res["notes"].strip(), ""]
    head = ["model", "features"] + [m for m in ms] + ["seeds × folds", "train s"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in res["rows"]:
        feats = ", ".join(r["features"].values())
        cells = [r["label"] + (f" ({r['group']})" if r.get("group") else ""), feats]
        cells += [_fmt(r["metrics"][m], m) for m in ms]
        cells += [f"{r['seeds']} × {r['folds']}", f"{r['train_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if res.get("goal"):
        goals = ", ".join(f"{k} ≥ {v}" if k not in ("mae",) else f"{k} ≤ {v}"
                          for k, v in res["goal"].items())
        lines.append(f"Goal: {goals}.")
    lines.append("Values: mean ± sd over all seed × fold runs (percent, except MAE/Corr). "
                 "Signatures (data / features / model config):")
    lines.append("")
    for r in res["rows"]:
        fs = ", ".join(f"{k}={v}" for k, v in r["feature_signatures"].items())
        lines.append(f"- {r['label']}: data `{r['data_signature']}` · {fs} · model "
                     f"`{r['model_signature']}` · {r['n_items']} items, labels "
                     f"{', '.join(r['labels'][:10])}{' …' if len(r['labels']) > 10 else ''}"
                     + (f"; left out: {r['skipped']}" if r["skipped"] else ""))
    lines.append("")
    return "\n".join(lines)


def write_results(res: dict, out_dir: str | Path, command: str = "") -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jp, mp = out / f"{res['suite']}.json", out / f"{res['suite']}.md"
    slim = json.loads(json.dumps(res, default=str))
    jp.write_text(json.dumps(slim | {"command": command}, indent=2), encoding="utf-8")
    mp.write_text(to_markdown(res, command), encoding="utf-8")
    return jp, mp


def update_docs(res: dict, docs: str | Path, command: str = "") -> Path:
    """Replace (or append) the suite's section in docs/benchmarks.md between markers."""
    docs = Path(docs)
    start, end = f"<!-- suite:{res['suite']} -->", f"<!-- /suite:{res['suite']} -->"
    block = f"{start}\n{to_markdown(res, command)}{end}\n"
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + block.rstrip("\n") + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text, encoding="utf-8")
    return docs


def cost_summary(results_dir: str | Path = "benchmarks/results") -> list[dict]:
    """Run time of every suite whose JSON is in ``results_dir``, from the per-run timings.

    ``train_seconds`` of a row is the sum of its runs' own timings (training + scoring, taken
    when each run was computed, even if this table reused it), so it does not depend on how
    often the suite was re-aggregated. Feature extraction is not included: features are cached
    once per corpus and shared by every suite (see ``affect bench extract``).
    """
    out = []
    for p in sorted(Path(results_dir).glob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(d, dict) or "suite" not in d or "rows" not in d:
            continue  # other benchmark outputs (extract, analyze …)
        rows = d["rows"]
        runs = sum(r.get("seeds", 1) * r.get("folds", 1) for r in rows)
        secs = sum(float(r.get("train_seconds") or 0) for r in rows)
        out.append({"suite": d["suite"], "rows": len(rows), "runs": runs,
                    "train_seconds": round(secs, 1), "date": d.get("date"),
                    "slowest": max(rows, key=lambda r: float(r.get("train_seconds") or 0))["label"]
                    if rows else None})
    return out
