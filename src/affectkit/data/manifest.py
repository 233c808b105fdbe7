"""Manifests: the common schema as JSONL or Parquet, and back."""

from __future__ import annotations

import json
from pathlib import Path

from affectkit.errors import DataError
from affectkit.types import Utterance


def write_manifest(utterances: list[Utterance], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [u.to_record() for u in utterances]
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif path.suffix == ".parquet":
        import pandas as pd

        df = pd.DataFrame(records)
        # nested columns as JSON strings: portable across readers
        for col in ("media", "meta", "causes", "emotions"):
            df[col] = [json.dumps(v, ensure_ascii=False, default=str) for v in df[col]]
        df.to_parquet(path, index=False)
    else:
        raise DataError(f"{path}: unsupported manifest format; use .jsonl or .parquet")
    return path


def read_manifest(path: str | Path) -> list[Utterance]:
    path = Path(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            return [Utterance.from_record(json.loads(line)) for line in f if line.strip()]
    if path.suffix == ".parquet":
        import pandas as pd

        df = pd.read_parquet(path)
        out = []
        for r in df.to_dict("records"):
            for col in ("media", "meta", "causes", "emotions"):
                r[col] = json.loads(r[col])
            for k, v in list(r.items()):
                if isinstance(v, float) and v != v:
                    r[k] = None
            out.append(Utterance.from_record(r))
        return out
    raise DataError(f"{path}: unsupported manifest format; use .jsonl or .parquet")
