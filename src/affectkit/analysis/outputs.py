"""Writers: one row per utterance (CSV / JSON / Parquet), the failures table, the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

from affectkit.analysis.results import FileResult

FORMATS = ("csv", "json", "parquet", "html")


def parse_formats(spec: str) -> list[str]:
    fmts = [f.strip().lower() for f in spec.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        from affectkit.errors import ConfigError

        raise ConfigError(f"--format: unknown {bad or spec!r}; choose from {', '.join(FORMATS)}")
    return fmts


def write_outputs(results: list[FileResult], out_dir: Path, formats: list[str]) -> dict[str, Path]:
    """Write every requested format under ``out_dir``; returns {format: path}."""
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    rows = [u.to_row() for r in results for u in r.utterances]
    df = pd.DataFrame(rows)
    if "csv" in formats:
        written["csv"] = out_dir / "utterances.csv"
        df.to_csv(written["csv"], index=False)
    if "parquet" in formats:
        written["parquet"] = out_dir / "utterances.parquet"
        df.to_parquet(written["parquet"], index=False)
    if "json" in formats:
        written["json"] = out_dir / "results.json"
        doc = {"files": [{**r.summary(), "utterances": [u.to_json() for u in r.utterances]}
                         for r in results]}
        written["json"].write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    if "html" in formats:
        from affectkit.analysis.report import render_report

        written["html"] = out_dir / "report.html"
        written["html"].write_text(render_report(results), encoding="utf-8")
    failed = [r for r in results if not r.ok]
    fail_path = out_dir / "failures.csv"
    if failed:
        pd.DataFrame([{"file": r.file, "kind": r.kind, "error": r.error} for r in failed]).to_csv(
            fail_path, index=False)
        written["failures"] = fail_path
    elif fail_path.exists():
        fail_path.unlink()  # stale from an earlier run into the same folder
    return written
