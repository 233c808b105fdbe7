"""The M2SE effect on a cheap shared-encoder multi-head model over cached pooled features.

``python -m affectkit.evaluation.m2se_mlp [--seeds 3] [--regimes low,mid]`` writes
``benchmarks/results/m2se-mlp.{json,md}``.

One model: a per-modality input projection (text.minilm 384-d, vision.faceapi 263-d → 256),
a shared trunk (GELU MLP, 256) and one head per task — MOSEI polarity (2), MELD emotion (7),
FER+ expression (8), ECF turn emotion (7) and an ECF pair scorer on ``[p_i, p_j, p_i·p_j,
distance]`` (p = a 64-d projection of the trunk output). Three training schemes through :func:`affectkit.training.multistage.run_stages`,
identical epochs/learning rate, nothing selected on any split (fixed epochs, fixed 0.5 pair
threshold):

* **per-task**: a fresh model per task, trained on that task only;
* **single-stage multitask**: one model, one stage on the mixture of the four sources;
* **two-stage (M2SE)**: stage 1 on MOSEI sentiment, stage 2 on the mixture.

Regimes: ``low`` = 300 training items per task (300 ECF conversations), the LLM's budget;
``mid`` = 2000 per task (all ≈1,370 ECF training conversations). Test = the full official test
splits (MOSEI non-zero items, MELD, FER+ majority images, ECF).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import nn

from affectkit.evaluation.m2se_data import (ECF_EMOTIONS, FER_LABELS, MER_LABELS, MSA_LABELS,
                                            REASON_TURNS, Examples, load_examples)
from affectkit.tasks.emotion_cause import pair_scores
from affectkit.training.multistage import Source, Stage, StageSchedule, StageSource, run_stages

ECF_LABELS = MER_LABELS  # neutral + the six ECF emotions, same names
MAX_DIST = 8
PAIR_DIM = 64
KEYS = {"msa": "sentiment:mosei", "mer": "emotion:meld", "fer": "expression:ferplus",
        "ecpe": "ecpe:ecf"}
REGIMES = {"low": 300, "mid": 2000}


class SharedMultiHead(nn.Module):
    """Per-modality projection → shared trunk → per-task heads (see the module docstring)."""

    def __init__(self, dims: dict[str, int], hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.inp = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(d), nn.Dropout(0.1),
                                                   nn.Linear(d, hidden)) for m, d in dims.items()})
        self.trunk = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                   nn.GELU(), nn.Dropout(dropout))
        self.heads = nn.ModuleDict({"msa": nn.Linear(hidden, len(MSA_LABELS)),
                                    "mer": nn.Linear(hidden, len(MER_LABELS)),
                                    "fer": nn.Linear(hidden, len(FER_LABELS)),
                                    "ecf": nn.Linear(hidden, len(ECF_LABELS))})
        self.dist = nn.Embedding(MAX_DIST, 16)
        self.pair_in = nn.Linear(hidden, PAIR_DIM)
        self.pair = nn.Sequential(nn.Linear(3 * PAIR_DIM + 16, PAIR_DIM), nn.GELU(),
                                  nn.Dropout(dropout), nn.Linear(PAIR_DIM, 1))

    def encode(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.inp[modality](x))

    def classify(self, task: str, modality: str, x: torch.Tensor) -> torch.Tensor:
        return self.heads[task](self.encode(modality, x))

    def dialogue(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One conversation (T, D) → turn emotion logits (T, C), pair logits (T, T) (row i =
        emotion turn, column j = candidate cause; j > i is masked to −inf)."""
        lg, pl = self.dialogues(X[None])
        return lg[0], pl[0]

    def dialogues(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded conversations (B, T, D) → (B, T, C) emotion logits, (B, T, T) pair logits."""
        h = self.encode("text", X)
        B, T, _ = h.shape
        q = self.pair_in(h)
        hi, hj = q[:, :, None].expand(B, T, T, -1), q[:, None].expand(B, T, T, -1)
        d = (torch.arange(T)[:, None] - torch.arange(T)[None]).clamp(0, MAX_DIST - 1)
        z = torch.cat([hi, hj, hi * hj, self.dist(d).expand(B, T, T, -1)], -1)
        pl = self.pair(z).squeeze(-1)
        pl = pl.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        return self.heads["ecf"](h), pl


def _dialogue_tensors(d: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    T = len(d["utts"])
    y = torch.tensor([ECF_LABELS.index(u.emotion) for u in d["utts"]])
    P = torch.zeros(T, T)
    for i, _e, j in d["pairs"]:
        P[i, j] = 1.0
    return torch.from_numpy(d["X"]), y, P


def make_sources(ex: Examples) -> dict[str, Source]:
    def cls_source(task: str, modality: str, labels: list[str]) -> Source:
        items = ex.get(task, "train")
        X = torch.from_numpy(np.stack([e.feats[modality] for e in items]))
        y = torch.tensor([labels.index(e.answer) for e in items])

        def loss(model, idx):
            return nn.functional.cross_entropy(model.classify(task, modality, X[idx]), y[idx])
        return Source(len(items), loss)

    dials = [_dialogue_tensors(d) for d in ex.dialogues["train"]]

    def ecpe_loss(model, idx):
        T = max(dials[k][0].shape[0] for k in idx)
        B = len(idx)
        X = torch.zeros(B, T, dials[idx[0]][0].shape[1])
        y = torch.full((B, T), -100)
        P = torch.zeros(B, T, T)
        valid = torch.zeros(B, T, T, dtype=torch.bool)
        for b, k in enumerate(idx):
            x, yy, pp = dials[k]
            n = x.shape[0]
            X[b, :n], y[b, :n], P[b, :n, :n] = x, yy, pp
            valid[b, :n, :n] = torch.tril(torch.ones(n, n, dtype=torch.bool))
        lg, pl = model.dialogues(X)
        bce = nn.functional.binary_cross_entropy_with_logits(
            pl[valid], P[valid], pos_weight=torch.tensor(3.0))
        return nn.functional.cross_entropy(lg.reshape(B * T, -1), y.reshape(-1)) + bce

    return {KEYS["msa"]: cls_source("msa", "text", MSA_LABELS),
            KEYS["mer"]: cls_source("mer", "text", MER_LABELS),
            KEYS["fer"]: cls_source("fer", "vision", FER_LABELS),
            KEYS["ecpe"]: Source(len(dials), ecpe_loss)}


@torch.no_grad()
def evaluate(model: SharedMultiHead, ex: Examples, tasks: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    model.eval()
    out: dict[str, float] = {}
    for task, mod, labels in (("msa", "text", MSA_LABELS), ("mer", "text", MER_LABELS),
                              ("fer", "vision", FER_LABELS)):
        if task not in tasks:
            continue
        items = ex.get(task, "test")
        X = torch.from_numpy(np.stack([e.feats[mod] for e in items]))
        pred = model.classify(task, mod, X).argmax(-1).numpy()
        y = np.array([labels.index(e.answer) for e in items])
        if task == "mer":
            out["mer_wf1"] = 100 * f1_score(y, pred, average="weighted")
        else:
            out[f"{task}_acc"] = 100 * accuracy_score(y, pred)
    if "ecpe" in tasks:
        gold, predp, hit, n, selfc = set(), set(), 0, 0, 0
        for d in ex.dialogues["test"]:
            lg, pl = model.dialogue(torch.from_numpy(d["X"]))
            emo = lg.argmax(-1).tolist()
            prob = torch.sigmoid(pl)
            for i, e, j in d["pairs"]:
                gold.add((d["id"], i, j, e))
            for i in range(len(emo)):
                if ECF_LABELS[emo[i]] == "neutral":
                    continue
                for j in range(i + 1):
                    if prob[i, j] >= 0.5:
                        predp.add((d["id"], i, j, ECF_LABELS[emo[i]]))
            # cause-utterance accuracy: each gold emotion turn with a cause in its last
            # REASON_TURNS turns; the top-scored candidate there must be a gold cause
            causes: dict[int, set[int]] = {}
            for i, _e, j in d["pairs"]:
                if j <= i and i - j < REASON_TURNS:
                    causes.setdefault(i, set()).add(j)
            for i, js in causes.items():
                lo = max(0, i - REASON_TURNS + 1)
                top = lo + int(pl[i, lo:i + 1].argmax())
                hit += top in js
                selfc += i in js
                n += 1
        s = pair_scores(gold, predp)
        out["ecpe_pair_f1"] = 100 * s["pair_f1"]
        out["ecpe_pair_wf1"] = 100 * s["pair_wf1"]
        out["cause_acc"] = 100 * hit / max(n, 1)
        out["cause_self_baseline"] = 100 * selfc / max(n, 1)
    return out


def schedules(epochs: float, lr: float, batch: int, seed: int) -> dict[str, StageSchedule]:
    mix = [StageSource(*KEYS[t].split(":"), 1.0) for t in ("msa", "mer", "fer", "ecpe")]
    one = lambda t: StageSchedule([Stage(t, [StageSource(*KEYS[t].split(":"))], epochs, lr)],  # noqa: E731
                                  batch_size=batch, seed=seed)
    out = {f"per-task:{t}": one(t) for t in ("msa", "mer", "fer", "ecpe")}
    out["single-stage"] = StageSchedule([Stage("mixture", mix, epochs, lr)], batch_size=batch,
                                        seed=seed)
    out["two-stage"] = StageSchedule([Stage("sentiment", [mix[0]], epochs, lr),
                                      Stage("mixture", mix, epochs, lr)], batch_size=batch,
                                     seed=seed)
    return out


METRICS = ["msa_acc", "mer_wf1", "fer_acc", "ecpe_pair_f1", "ecpe_pair_wf1", "cause_acc"]


def run(seeds: int = 3, regimes: tuple[str, ...] = ("low", "mid"), epochs: float = 10,
        lr: float = 1e-3, batch: int = 32, out_dir: str | Path = "benchmarks/results",
        progress: bool = False) -> dict:
    torch.set_num_threads(1)
    results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                     "command": "python -m affectkit.evaluation.m2se_mlp --seeds "
                                f"{seeds} --regimes {','.join(regimes)}",
                     "epochs": epochs, "lr": lr, "batch": batch, "regimes": {}}
    for reg in regimes:
        t0 = time.perf_counter()
        ex = load_examples(REGIMES[reg], None, seed=0, tasks=("msa", "mer", "fer", "ecpe"),
                           with_dialogue_feats=True, progress=progress)
        sizes = {t: {s: len(ex.get(t, s)) for s in ("train", "test")}
                 for t in ("msa", "mer", "fer")}
        sizes["ecpe"] = {s: len(ex.dialogues[s]) for s in ("train", "test")}
        srcs = make_sources(ex)
        runs: dict[str, list[dict]] = {}
        for seed in range(seeds):
            per: dict[str, float] = {}
            for name, sch in schedules(epochs, lr, batch, seed).items():
                torch.manual_seed(seed)
                model = SharedMultiHead({"text": 384, "vision": 263})
                ts = time.perf_counter()
                run_stages(model, sch, srcs, progress=progress)
                secs = time.perf_counter() - ts
                if name.startswith("per-task:"):
                    t = name.split(":")[1]
                    per |= evaluate(model, ex, [t])
                    per["seconds"] = per.get("seconds", 0.0) + secs
                else:
                    runs.setdefault(name, []).append(evaluate(model, ex, ["msa", "mer", "fer",
                                                                          "ecpe"])
                                                     | {"seconds": secs})
            runs.setdefault("per-task", []).append(per)
        results["regimes"][reg] = {"sizes": sizes, "runs": runs,
                                   "skipped": dict(ex.skipped),
                                   "wall_s": round(time.perf_counter() - t0, 1)}
        _save(results, out_dir)
    return results


def _save(results: dict, out_dir) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "m2se-mlp.json").write_text(json.dumps(results, indent=2))
    (out / "m2se-mlp.md").write_text(markdown(results))


def _ms(vals: list[float]) -> str:
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{np.mean(vals):.1f} ± {np.std(vals, ddof=1):.1f}"


def markdown(res: dict) -> str:
    lines = ["## M2SE effect on a shared-encoder multi-head model (cached pooled features)", "",
             f"`{res['command']}` — {res['date']}; {res['epochs']} epochs per stage, lr "
             f"{res['lr']}, batch {res['batch']}, fixed (nothing selected on any split); "
             "mean ± sd over seeds.", ""]
    for reg, r in res["regimes"].items():
        sz = r["sizes"]
        lines += [f"### regime `{reg}` — train sizes: " + ", ".join(
            f"{t} {s['train']}" for t, s in sz.items()) + "; test sizes: " + ", ".join(
            f"{t} {s['test']}" for t, s in sz.items()) + " (ECF in conversations)", "",
            "| scheme | MOSEI Acc-2 | MELD wF1 | FER+ acc | ECF pair F1 | ECF pair wF1 | "
            "cause acc | seeds | train s |", "|---|---|---|---|---|---|---|---|---|"]
        for name in ("per-task", "single-stage", "two-stage"):
            rs = r["runs"][name]
            cells = [_ms([x[m] for x in rs]) for m in METRICS]
            lines.append(f"| {name} | " + " | ".join(cells) +
                         f" | {len(rs)} | {np.mean([x['seconds'] for x in rs]):.0f} |")
        base = r["runs"]["per-task"][0].get("cause_self_baseline")
        if base is not None:
            lines.append(f"\nReference: naming the emotion turn itself as its cause scores "
                         f"{base:.1f} cause-utterance accuracy on this test set.")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--regimes", default="low,mid")
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--out", default="benchmarks/results")
    a = ap.parse_args(argv)
    res = run(a.seeds, tuple(a.regimes.split(",")), a.epochs, out_dir=a.out)
    print(markdown(res))


if __name__ == "__main__":
    main()
