"""Text sentiment on frozen MiniLM: MOSEI alone vs MOSEI + SST-2 + XLM-T (English), scored on
MOSI test and mosi400 (neither ever trained on).

``python -m affectkit.evaluation.text_sentiment_union --seeds 3`` writes
``benchmarks/results/text-sentiment-union.{json,md}``.

Head: 384 → 256 → 1 score. MOSEI items train the score with an L1 loss on the −3…3 labels;
SST-2 (negative/positive) and XLM-T English (negative/neutral/positive) train the same score as a
logit: binary cross-entropy of ``sigmoid(score)`` for negative/positive, and an L1 pull to 0 for
XLM-T neutral. Each source has equal total weight. The epoch is chosen on the validation parts
only: the mean of MOSEI-valid Non0 Acc-2, SST-2-dev accuracy and XLM-T-en-val
negative/positive accuracy (the "mosei" setup is scored by the same rule, so selection does
not favour either). MOSI test (685) and all of mosi400 (400 segments of 16 MOSI videos) are
scored once: MMSA metrics (Has0/Non0 Acc-2, MAE, Corr; scores clipped to −3…3).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from affectkit.analysis.text_emotion import SentimentHead  # noqa: F401 (re-exported)
from affectkit.evaluation.generalise_text import features

SETUPS = {"mosei": ("mosei",), "mosei+sst2+xlmt-en": ("mosei", "sst2", "xlmt-en")}
EPOCHS = 15


def load() -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{source: {split: (X, y)}}`` with MiniLM features."""
    from affectkit.data import load_corpus

    spec = {"mosei": ("mosei", {}), "sst2": ("sst2", {}),
            "xlmt-en": ("xlmt-sentiment", {"langs": ["en"]}), "mosi": ("mosi", {}),
            "mosi400": ("mosi400", {})}
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for key, (name, kw) in spec.items():
        utts = [u for u in load_corpus(name, **kw).utterances
                if u.text and u.text.strip() and u.sentiment is not None]
        X = features(utts, "text.minilm", progress=False)
        y = np.asarray([u.sentiment for u in utts], dtype=np.float32)
        split = np.asarray([u.split or "all" for u in utts])
        out[key] = {p: (X[split == p], y[split == p]) for p in np.unique(split)}
    return out


def _binary_acc(score: np.ndarray, y: np.ndarray) -> float:
    m = y != 0
    return float(np.mean((score[m] > 0) == (y[m] > 0)))


def fit(data, sources: Sequence[str], seed: int):
    import copy

    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(384, 256),
                                torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(256, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    Xs, ys, src = [], [], []
    for i, s in enumerate(sources):
        X, y = data[s]["train"]
        Xs.append(X)
        ys.append(y)
        src.append(np.full(len(y), i))
    X, y, src = np.concatenate(Xs), np.concatenate(ys), np.concatenate(src)
    w = np.zeros(len(y), np.float32)
    for i in range(len(sources)):
        w[src == i] = 1.0 / np.sum(src == i)
    w *= len(y) / w.sum()
    Xt, yt, st, wt = (torch.from_numpy(a) for a in (X, y, src, w))
    is_reg = torch.tensor([s == "mosei" for s in sources])[st]

    def score(m):
        with torch.inference_mode():
            out = {}
            for s in ("mosei", "sst2", "xlmt-en"):
                Xv, yv = data[s]["valid"]
                out[s] = _binary_acc(m(torch.from_numpy(Xv)).squeeze(1).numpy(), yv)
            return float(np.mean(list(out.values()))), out

    best = (-1.0, None, None)
    for _ in range(EPOCHS):
        model.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        for b in range(0, len(order), 256):
            i = order[b:b + 256]
            s = model(Xt[i]).squeeze(1)
            reg = torch.abs(s - yt[i])
            pol = torch.nn.functional.binary_cross_entropy_with_logits(
                s, (yt[i] > 0).float(), reduction="none")
            aux = torch.where(yt[i] == 0, torch.abs(s), pol)
            loss = (torch.where(is_reg[i], reg, aux) * wt[i]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        v, parts = score(model)
        if v > best[0]:
            best = (v, copy.deepcopy(model.state_dict()), parts)
    model.load_state_dict(best[1])
    model.eval()
    return model, best[0], best[2]


def run(*, seeds: int = 3) -> dict:
    import torch

    from affectkit.metrics import sentiment_metrics

    torch.set_num_threads(1)
    data = load()
    targets = {"MOSI test": data["mosi"]["test"], "mosi400": data["mosi400"]["all"]}
    results: dict[str, dict] = {}
    for setup, sources in SETUPS.items():
        per: dict[str, list[dict]] = {t: [] for t in targets}
        valids = []
        for seed in range(seeds):
            model, v, parts = fit(data, sources, seed)
            valids.append({"score": v, **parts})
            with torch.inference_mode():
                for t, (X, y) in targets.items():
                    p = np.clip(model(torch.from_numpy(X)).squeeze(1).numpy(), -3, 3)
                    per[t].append(sentiment_metrics(y, p))
        results[setup] = {"valid": valids, **{t: _agg(rs) for t, rs in per.items()}}
    sizes = {k: {p: len(v[1]) for p, v in d.items()} for k, d in data.items()}
    return {"results": results, "sizes": sizes, "seeds": seeds, "markdown": markdown(results),
            "protocol": __doc__.split("\n\n", 2)[2].strip()}


def save(seed: int = 0) -> dict:
    """Train the union head (seed 0, epoch chosen on validation) and export it next to the
    package's other weights: ``head.safetensors`` + ``head.json`` (MOSI test / mosi400 scores
    of this very head recorded, never used for selection)."""
    import datetime as dt
    from pathlib import Path

    import torch
    from safetensors.torch import save_file

    from affectkit.metrics import sentiment_metrics

    torch.set_num_threads(1)
    data = load()
    sources = SETUPS["mosei+sst2+xlmt-en"]
    model, v, parts = fit(data, sources, seed)
    info = {"encoder": "text.minilm", "architecture": "Dropout(0.1)-Linear(384,256)-ReLU-"
            "Dropout(0.2)-Linear(256,1); score clipped to [-3, 3]", "training": list(sources),
            "seed": seed, "valid": {"score": v, **parts}, "built": dt.date.today().isoformat()}
    with torch.inference_mode():
        for t, (X, y) in {"MOSI test": data["mosi"]["test"],
                          "mosi400": data["mosi400"]["all"]}.items():
            p = np.clip(model(torch.from_numpy(X)).squeeze(1).numpy(), -3, 3)
            m = sentiment_metrics(y, p)
            info[t] = {k: m[k] for k in ("non0_acc2", "has0_acc2", "mae", "corr", "n")}
    out = Path(__file__).resolve().parents[1] / "weights" / "text_sentiment_union"
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / "head.safetensors"))
    (out / "head.json").write_text(json.dumps(info, indent=1, default=float))
    return info


def _agg(rs: list[dict]) -> dict:
    keys = ("non0_acc2", "has0_acc2", "mae", "corr")
    return {k: {"mean": float(np.mean([r[k] for r in rs])),
                "sd": float(np.std([r[k] for r in rs], ddof=1)) if len(rs) > 1 else 0.0}
            for k in keys} | {"n": rs[0]["n"]}


def markdown(results: dict) -> str:
    lines = ["| training data | scored on | n | Non0 Acc-2 | Has0 Acc-2 | MAE | Corr |",
             "|---|---|---|---|---|---|---|"]
    for setup, r in results.items():
        for t in ("MOSI test", "mosi400"):
            d = r[t]
            lines.append(f"| {setup} | {t} | {d['n']} | " + " | ".join(
                f"{d[k]['mean']:.3f} ± {d[k]['sd']:.3f}"
                for k in ("non0_acc2", "has0_acc2", "mae", "corr")) + " |")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - benchmark entry point
    import argparse
    import datetime as dt
    from pathlib import Path

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--save", action="store_true",
                    help="also train the union head with seed 0 and write it to "
                         "affectkit/weights/text_sentiment_union/")
    a = ap.parse_args()
    if a.save:
        print(json.dumps(save(), indent=1))
        return
    res = run(seeds=a.seeds)
    res["date"] = dt.date.today().isoformat()
    res["command"] = f"python -m affectkit.evaluation.text_sentiment_union --seeds {a.seeds}"
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "text-sentiment-union.json").write_text(json.dumps(res, indent=1, default=float))
    (out / "text-sentiment-union.md").write_text(
        f"### Text sentiment: MOSEI vs MOSEI + SST-2 + XLM-T-en\n\n`{res['command']}` — "
        f"{res['date']}, {a.seeds} seed(s)\n\n{res['protocol']}\n\n{res['markdown']}\n")
    print(res["markdown"])


if __name__ == "__main__":  # pragma: no cover
    main()
