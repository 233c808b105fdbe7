"""`affect train` in 1 process vs N processes (torchrun, DDP, gloo on CPU): time and metrics.

    python benchmarks/train_ddp.py configs/mosi-mlp.yaml --set trainer.epochs=20 \\
        --set trainer.patience=0 --seeds 0 1 --nproc 2

For every seed it runs ``affect train CONFIG --json -q --seed S`` once plainly and once with
``--nproc N`` (alternating, each in fresh processes, ``OMP_NUM_THREADS=1`` so each process uses
one core), records the wall-clock time of the whole command (interpreter start-up, corpus and
feature loading, training, evaluation) and the training time the runs report (``seconds`` per
fold: fit + test scoring), and compares the per-fold test metrics of the two. Writes
``benchmarks/results/train_ddp_<config name>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(config: str, seed: int, nproc: int, sets: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "affectkit.cli", "train", config, "--json", "-q",
           "--seed", str(seed), "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    res = json.loads(p.stdout)
    return {"nproc": nproc, "seed": seed, "wall_s": round(wall, 2),
            "train_s": round(sum(r["seconds"] for r in res["runs"]), 2),
            "runs": [{"fold": r["fold"], "best_epoch": r["best_epoch"],
                      "test": {k: v for k, v in r["test"].items() if isinstance(v, float)}}
                     for r in res["runs"]],
            "command": " ".join(cmd[1:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="train_ddp_") as tmp:
        for seed in a.seeds:
            for n in (1, a.nproc):
                r = run(a.config, seed, n, a.sets, Path(tmp) / f"n{n}_s{seed}")
                print(f"seed {seed} nproc {n}: wall {r['wall_s']} s, train {r['train_s']} s",
                      file=sys.stderr)
                rows.append(r)
    diffs = []
    for seed in a.seeds:
        one = next(r for r in rows if r["seed"] == seed and r["nproc"] == 1)
        many = next(r for r in rows if r["seed"] == seed and r["nproc"] == a.nproc)
        for f1, f2 in zip(one["runs"], many["runs"], strict=True):
            diffs.append({"seed": seed, "fold": f1["fold"],
                          "best_epoch": [f1["best_epoch"], f2["best_epoch"]],
                          "max_abs_metric_diff": max(abs(f1["test"][k] - f2["test"][k])
                                                     for k in f1["test"])})

    def agg(n: int, key: str) -> dict:
        v = [r[key] for r in rows if r["nproc"] == n]
        return {"mean": round(statistics.mean(v), 2),
                "sd": round(statistics.stdev(v), 2) if len(v) > 1 else 0.0, "n": len(v)}

    out = {
        "benchmark": "train_ddp", "config": a.config, "sets": a.sets, "seeds": a.seeds,
        "nproc": a.nproc, "date": dt.date.today().isoformat(),
        "command": "python benchmarks/train_ddp.py " + " ".join(
            [a.config] + [f"--set {s}" for s in a.sets]
            + ["--seeds", *map(str, a.seeds), "--nproc", str(a.nproc)]
            + (["--tag", a.tag] if a.tag else [])),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_end": os.getloadavg()},
        "wall_s": {"1": agg(1, "wall_s"), str(a.nproc): agg(a.nproc, "wall_s")},
        "train_s": {"1": agg(1, "train_s"), str(a.nproc): agg(a.nproc, "train_s")},
        "test_mean_sd": {str(n): {k: {"mean": round(statistics.mean(v), 4),
                                          "sd": round(statistics.stdev(v), 4) if len(v) > 1 else 0.0}
                                      for k in rows[0]["runs"][0]["test"]
                                      for v in [[f["test"][k] for r in rows if r["nproc"] == n
                                                 for f in r["runs"]]]}
                         for n in (1, a.nproc)},
        "metric_diffs": diffs, "runs": rows,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    name = Path(a.config).stem + (f"_{a.tag}" if a.tag else "")
    path = a.out / f"train_ddp_{name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("| processes | wall s (mean ± sd) | train s (mean ± sd) |\n|---|---|---|")
    for n in ("1", str(a.nproc)):
        w, t = out["wall_s"][n], out["train_s"][n]
        print(f"| {n} | {w['mean']} ± {w['sd']} | {t['mean']} ± {t['sd']} |")
    for k in ("mae", "corr", "non0_acc2", "ua", "macro_f1"):
        if k in out["test_mean_sd"]["1"]:
            print(f"test {k}: " + " vs ".join(
                f"{n} proc {out['test_mean_sd'][n][k]['mean']} ± {out['test_mean_sd'][n][k]['sd']}"
                for n in ("1", str(a.nproc))))
    print(f"max |Δ test metric| over folds × seeds: "
          f"{max(d['max_abs_metric_diff'] for d in diffs):.2e}; wrote {path}")


if __name__ == "__main__":
    main()
