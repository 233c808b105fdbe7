"""The M2SE effect on a cheap shared-encoder multi-head model over cached pooled features.

``python -m affectkit.evaluation.m2se_mlp [--seeds 3] [--regimes low,mid]`` writes
``benchmarks/results/m2se-mlp.{json,md}``.

One model: a per-modality input projection (text.minilm 384-d, vision.faceapi 263-d,
audio.whisper mean half 512-d → 256), a shared trunk (GELU MLP, 256) and one head per task —
MOSEI polarity (2), MELD emotion (7), FER+ expression (8), RAVDESS+EmoDB voice emotion (7,
speaker-independent split), ECF turn emotion (7) and an ECF pair scorer on ``[p_i, p_j,
p_i·p_j, distance]`` (p = a 64-d projection of the trunk output). Three training schemes through :func:`affectkit.training.multistage.run_stages`,
identical epochs/learning rate, nothing selected on any split (fixed epochs, fixed 0.5 pair
threshold):

* **per-task**: a fresh model per task, trained on that task only;
* **single-stage multitask**: one model, one stage on the mixture of the five sources;
* **two-stage (M2SE)**: stage 1 on MOSEI sentiment, stage 2 on the mixture.

Regimes: ``low`` = 300 training items per task (300 ECF conversations), the LLM's budget;
``mid`` = 2000 per task (all ≈1,370 ECF training conversations, all 1,430 voice clips). Test =
the full official test splits (MOSEI non-zero items, MELD, FER+ majority images, ECF) and all
464 clips of the voice test speakers. ``--no-voice`` reproduces the earlier four-source runs.
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
                                            REASON_TURNS, SER_LABELS, VOICE_DIM, Examples,
                                            load_examples)
from affectkit.tasks.emotion_cause import pair_scores
from affectkit.training.multistage import Source, Stage, StageSchedule, StageSource, run_stages

ECF_LABELS = MER_LABELS  # neutral + the six ECF emotions, same names
MAX_DIST = 8
PAIR_DIM = 64
KEYS = {"msa": "sentiment:mosei", "mer": "emotion:meld", "fer": "expression:ferplus",
        "ecpe": "ecpe:ecf", "ser": "voice:ravdess+emodb"}
CLS = (("msa", "text", MSA_LABELS), ("mer", "text", MER_LABELS), ("fer", "vision", FER_LABELS),
       ("ser", "audio", SER_LABELS))
DIMS = {"text": 384, "vision": 263, "audio": VOICE_DIM}
REGIMES = {"low": 300, "mid": 2000}


class SharedMultiHead(nn.Module):
    """Per-modality projection → shared trunk → per-task heads (see the module docstring)."""

    def __init__(self, dims: dict[str, int], hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.inp = nn.ModuleDict({m: nn.Sequential(nn.LayerNorm(d), nn.Dropout(0.1),
                                                   nn.Linear(d, hidden)) for m, d in dims.items()})
        self.trunk = nn.Sequential(nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                   nn.GELU(), nn.Dropout(dropout))
        # the voice head exists only with a voice input (without one the model, and its seeded
        # initialisation, is the earlier four-source model)
        heads = {"msa": nn.Linear(hidden, len(MSA_LABELS)),
                 "mer": nn.Linear(hidden, len(MER_LABELS)),
                 "fer": nn.Linear(hidden, len(FER_LABELS))}
        if "audio" in dims:
            heads["ser"] = nn.Linear(hidden, len(SER_LABELS))
        heads["ecf"] = nn.Linear(hidden, len(ECF_LABELS))
        self.heads = nn.ModuleDict(heads)
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


def make_sources(ex: Examples, voice: bool = True) -> dict[str, Source]:
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

    out = {KEYS["msa"]: cls_source("msa", "text", MSA_LABELS),
           KEYS["mer"]: cls_source("mer", "text", MER_LABELS),
           KEYS["fer"]: cls_source("fer", "vision", FER_LABELS),
           KEYS["ecpe"]: Source(len(dials), ecpe_loss)}
    if voice:
        out[KEYS["ser"]] = cls_source("ser", "audio", SER_LABELS)
    return out


@torch.no_grad()
def evaluate(model: SharedMultiHead, ex: Examples, tasks: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    model.eval()
    out: dict[str, float] = {}
    for task, mod, labels in CLS:
        if task not in tasks:
            continue
        items = ex.get(task, "test")
        X = torch.from_numpy(np.stack([e.feats[mod] for e in items]))
        pred = model.classify(task, mod, X).argmax(-1).numpy()
        y = np.array([labels.index(e.answer) for e in items])
        if task == "mer":
            out["mer_wf1"] = 100 * f1_score(y, pred, average="weighted")
        elif task == "ser":
            out["ser_ua"] = 100 * recall_score(y, pred, labels=list(range(len(labels))),
                                               average="macro", zero_division=0)
            out["ser_acc"] = 100 * accuracy_score(y, pred)
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


def schedules(epochs: float, lr: float, batch: int, seed: int,
              tasks: tuple[str, ...] = ("msa", "mer", "fer", "ecpe", "ser")
              ) -> dict[str, StageSchedule]:
    mix = [StageSource(*KEYS[t].split(":"), 1.0) for t in tasks]
    one = lambda t: StageSchedule([Stage(t, [StageSource(*KEYS[t].split(":"))], epochs, lr)],  # noqa: E731
                                  batch_size=batch, seed=seed)
    out = {f"per-task:{t}": one(t) for t in tasks}
    out["single-stage"] = StageSchedule([Stage("mixture", mix, epochs, lr)], batch_size=batch,
                                        seed=seed)
    out["two-stage"] = StageSchedule([Stage("sentiment", [mix[0]], epochs, lr),
                                      Stage("mixture", mix, epochs, lr)], batch_size=batch,
                                     seed=seed)
    return out


METRICS = ["msa_acc", "mer_wf1", "fer_acc", "ecpe_pair_f1", "ecpe_pair_wf1", "cause_acc",
           "ser_ua", "ser_acc"]
HEAD = ["MOSEI Acc-2", "MELD wF1", "FER+ acc", "ECF pair F1", "ECF pair wF1", "cause acc",
        "voice UA", "voice acc"]


def run(seeds: int = 3, regimes: tuple[str, ...] = ("low", "mid"), epochs: float = 10,
        lr: float = 1e-3, batch: int = 32, out_dir: str | Path = "benchmarks/results",
        progress: bool = False, voice: bool = True, name: str | None = None) -> dict:
    torch.set_num_threads(1)
    name = name or ("m2se-mlp-voice" if voice else "m2se-mlp")
    tasks = ("msa", "mer", "fer", "ecpe") + (("ser",) if voice else ())
    results: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                     "command": "python -m affectkit.evaluation.m2se_mlp --seeds "
                                f"{seeds} --regimes {','.join(regimes)}"
                                + ("" if voice else " --no-voice")
                                + (f" --epochs {epochs:g}" if epochs != 10 else ""),
                     "epochs": epochs, "lr": lr, "batch": batch, "tasks": list(tasks),
                     "regimes": {}}
    for reg in regimes:
        t0 = time.perf_counter()
        ex = load_examples(REGIMES[reg], None, seed=0, tasks=tasks,
                           with_dialogue_feats=True, progress=progress)
        sizes = {t: {s: len(ex.get(t, s)) for s in ("train", "test")}
                 for t in tasks if t != "ecpe"}
        sizes["ecpe"] = {s: len(ex.dialogues[s]) for s in ("train", "test")}
        srcs = make_sources(ex, voice=voice)
        runs: dict[str, list[dict]] = {}
        for seed in range(seeds):
            per: dict[str, float] = {}
            for name_, sch in schedules(epochs, lr, batch, seed, tasks).items():
                torch.manual_seed(seed)
                model = SharedMultiHead(DIMS if voice else
                                        {m: d for m, d in DIMS.items() if m != "audio"})
                ts = time.perf_counter()
                run_stages(model, sch, srcs, progress=progress)
                secs = time.perf_counter() - ts
                if name_.startswith("per-task:"):
                    t = name_.split(":")[1]
                    per |= evaluate(model, ex, [t])
                    per["seconds"] = per.get("seconds", 0.0) + secs
                else:
                    runs.setdefault(name_, []).append(evaluate(model, ex, list(tasks))
                                                      | {"seconds": secs})
            runs.setdefault("per-task", []).append(per)
        results["regimes"][reg] = {"sizes": sizes, "runs": runs,
                                   "paired": paired_diffs(runs),
                                   "skipped": dict(ex.skipped),
                                   "wall_s": round(time.perf_counter() - t0, 1)}
        _save(results, out_dir, name)
    return results


PAIRS = (("single-stage", "per-task"), ("two-stage", "per-task"), ("two-stage", "single-stage"))


def paired_diffs(runs: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
    """Per-seed differences ``a − b`` (same seed, same data) for each metric: mean, sd, the
    per-seed values and a verdict by the project's paired rule
    (:mod:`affectkit.evaluation.paired`): gain / loss when |mean| > sd, else tie."""
    out: dict[str, dict[str, dict]] = {}
    for a, b in PAIRS:
        if a not in runs or b not in runs:
            continue
        row = {}
        for m in METRICS:
            d = [x[m] - y[m] for x, y in zip(runs[a], runs[b]) if m in x and m in y]
            if not d:
                continue
            mu = float(np.mean(d))
            sd = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
            verdict = "tie" if not abs(mu) > sd else ("gain" if mu > 0 else "loss")
            row[m] = {"mean": round(mu, 2), "sd": round(sd, 2),
                      "per_seed": [round(v, 2) for v in d], "verdict": verdict}
        out[f"{a} - {b}"] = row
    return out


def _save(results: dict, out_dir, name: str = "m2se-mlp") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    (out / f"{name}.md").write_text(markdown(results))


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
        mets = [m for m in METRICS if m in r["runs"]["per-task"][0]]
        lines += [f"### regime `{reg}` — train sizes: " + ", ".join(
            f"{t} {s['train']}" for t, s in sz.items()) + "; test sizes: " + ", ".join(
            f"{t} {s['test']}" for t, s in sz.items()) + " (ECF in conversations)", "",
            "| scheme | " + " | ".join(h for m, h in zip(METRICS, HEAD) if m in mets)
            + " | seeds | train s |", "|---|" + "---|" * (len(mets) + 2)]
        for name in ("per-task", "single-stage", "two-stage"):
            rs = r["runs"][name]
            cells = [_ms([x[m] for x in rs]) for m in mets]
            lines.append(f"| {name} | " + " | ".join(cells) +
                         f" | {len(rs)} | {np.mean([x['seconds'] for x in rs]):.0f} |")
        if r.get("paired"):
            lines += ["", "Paired differences (same seed, same data; mean ± sd over seeds; "
                      "verdict: gain/loss when |mean| > sd, else tie):", "",
                      "| difference | " + " | ".join(h for m, h in zip(METRICS, HEAD)
                                                      if m in mets) + " |",
                      "|---|" + "---|" * len(mets)]
            for pair, row in r["paired"].items():
                lines.append(f"| {pair} | " + " | ".join(
                    f"{row[m]['mean']:+.1f} ± {row[m]['sd']:.1f} ({row[m]['verdict']})"
                    if m in row else "–" for m in mets) + " |")
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
    ap.add_argument("--no-voice", action="store_true",
                    help="leave the RAVDESS+EmoDB voice task out (the earlier four-source runs)")
    ap.add_argument("--name", default=None,
                    help="output file stem (default m2se-mlp-voice, or m2se-mlp with --no-voice)")
    a = ap.parse_args(argv)
    res = run(a.seeds, tuple(a.regimes.split(",")), a.epochs, out_dir=a.out,
              voice=not a.no_voice, name=a.name)
    print(markdown(res))


if __name__ == "__main__":
    main()
