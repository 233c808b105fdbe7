"""`POST /v1/text` throughput, before vs after a change, measured in one session (A/B, alternating).

    python benchmarks/serve_text_ab.py --before COMMIT [--after COMMIT] --rounds 2 --seconds 30

"before" is the package source of a git commit (``git archive`` into a temporary folder, put
first on ``PYTHONPATH`` for the server process); "after" likewise, or this working tree. Each round runs
``benchmarks/load_serve.py --text-only --text-seconds SECONDS`` (4 clients × 50 utterances per
request, the command docs/serve.md quotes) once for each side, alternating, so both see the same
machine load. On a shared machine the comparable number is utterances per server CPU-second;
utterances/s follows whatever CPU share the server got. Writes
``benchmarks/results/serve_text_ab.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEYS = ("utterances_per_s", "utterances_per_cpu_s", "server_cpu_share", "request_p50_s")


def export(commit: str, dest: Path) -> Path:
    tar = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(dest, filter="data")
    return dest / "src"


def blocker(dest: Path, modules: list[str]) -> Path:
    """A folder of stand-in packages whose import fails: the server runs as if ``modules`` were
    not installed (uvicorn then falls back to h11 / asyncio)."""
    for m in modules:
        (dest / m).mkdir(parents=True, exist_ok=True)
        (dest / m / "__init__.py").write_text(f"raise ImportError('{m} blocked for the A/B run')\n")
    return dest


def once(src: Path | None, seconds: float, out: Path, block: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    paths = [str(p) for p in (block, src) if p is not None]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    check = subprocess.run([sys.executable, "-c", "import affectkit; print(affectkit.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "load_serve.py"), "--text-only",
                    "--text-seconds", str(seconds), "--out", str(out)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    res = json.loads(out.read_text())["text"]
    return {"package": check, **{k: res.get(k) for k in KEYS},
            "load_average_after": res.get("load_average_after")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="git commit of the 'before' code")
    ap.add_argument("--after", default=None, help="git commit of the 'after' code (default: "
                    "this working tree, other uncommitted edits included)")
    ap.add_argument("--before-without", default="", help="comma-separated modules the 'before' "
                    "server must not see (e.g. httptools,uvloop: as if not installed)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serve_text_ab.json")
    a = ap.parse_args()
    runs = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="serve_ab_") as tmp:
        src = export(a.before, Path(tmp) / "before")
        src_after = export(a.after, Path(tmp) / "after") if a.after else None
        block = (blocker(Path(tmp) / "blocked", a.before_without.split(","))
                 if a.before_without else None)
        for r in range(a.rounds):
            for side, path in (("before", src), ("after", src_after)):
                res = once(path, a.seconds, Path(tmp) / f"{side}{r}.json",
                           block if side == "before" else None)
                runs[side].append(res)
                print(f"round {r} {side}: " + ", ".join(f"{k} {res[k]}" for k in KEYS),
                      file=sys.stderr)
    summary = {side: {k: {"mean": round(statistics.mean(x[k] for x in v), 1),
                          "values": [x[k] for x in v]} for k in KEYS}
               for side, v in runs.items()}
    out = {"benchmark": "serve_text_ab", "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "before": a.before,
           "after": a.after or (subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                             capture_output=True, text=True).stdout.strip()
                                + " + working tree"),
           "before_without": a.before_without or None,
           "command": f"python benchmarks/serve_text_ab.py --before {a.before} "
                      + (f"--after {a.after} " if a.after else "")
                      + (f"--before-without {a.before_without} " if a.before_without else "")
                      + f"--rounds {a.rounds} --seconds {a.seconds:g}",
           "protocol": "load_serve.py --text-only: 4 clients x 50 utterances per request, "
                       f"{a.seconds:g} s per run, sides alternating",
           "cpus": os.cpu_count(), "summary": summary, "runs": runs}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    for side in ("before", "after"):
        s = summary[side]
        print(f"{side}: {s['utterances_per_s']['mean']} utt/s, {s['utterances_per_cpu_s']['mean']} "
              f"utt per server CPU-s, CPU share {s['server_cpu_share']['mean']}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
