"""MetaSER: few-shot cross-lingual speech emotion with first-order MAML over languages.

``affect bench metaser`` — after MetaSER (Chopra et al., 2021: "Meta-learning for low-resource
speech emotion recognition"): learn an initialisation on high-resource languages that adapts
to a new language from a few labelled clips, compared with transfer and multitask learning.

Protocol (all numbers are UA on the target test speakers, percent, mean ± sd over seeds):

* **features**: ``audio.whisper`` (Whisper base encoder, mean ‖ std, 1024-d) from the feature
  store; standardised with the source data's mean/sd.
* **classes**: the four shared by every corpus (neutral / happy / sad / angry, canonical map).
* **sources**: English (RAVDESS + TESS) and German (EmoDB) — one meta-learning *task* per
  language. **targets**: Italian (EMOVO) and Urdu (URDU).
* **target split** (per seed): the target's speakers are shuffled and halved — adaptation
  speakers give the k labelled clips per class (k = 1, 5, 10, 20), the other half is the test
  set. Speaker-disjointness is asserted. The same support set is given to every method.
* **model**: MLP 1024 → 256 (GELU, dropout off) → 4.
* **methods**:

  - ``target only``: the MLP from a random init, trained on the support set only;
  - ``pooled transfer + fine-tune``: trained on all source clips (class-and-language balanced
    sampling), then fine-tuned on the support set;
  - ``multitask``: shared body with one head per source language trained jointly; the target
    head starts as the mean of the source heads, then everything is fine-tuned on the support
    set;
  - ``MetaSER (FO-MAML)``: first-order MAML — episodes draw one source language, a support
    and a query set (``shots`` + ``queries`` clips per class); the inner loop takes
    ``inner_steps`` SGD steps on the support; the outer (Adam) step applies the query-loss
    gradient at the adapted weights to the initialisation. Target adaptation is the same inner
    loop with ``adapt_steps`` steps.
  - k = 0 rows for the transfer and multitask models (no fine-tuning) as a reference.

* **hyper-parameters** are fixed in :class:`MetaSERConfig` before seeing any target data (there
  is no target validation set in a k-shot setting; choosing them on the target test speakers
  would leak). Every method fine-tunes with the same steps and learning rate.

Deviations from the paper: Whisper-encoder utterance vectors and an MLP instead of the paper's
wav2vec/CNN-LSTM; first-order MAML (no second derivatives); the source languages are the ones
in the shared data (English, German), not the paper's; Persian is not available.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from affectkit.errors import DataError

SOURCES = {"english": ("ravdess", "tess"), "german": ("emodb",)}
TARGETS = {"italian": "emovo", "urdu": "urdu"}
FOUR = ("neutral", "happy", "sad", "angry")
KS = (1, 5, 10, 20)


@dataclass
class MetaSERConfig:
    """Fixed hyper-parameters (chosen a priori, identical for every target and k)."""

    hidden: int = 256
    # source training (transfer, multitask)
    source_steps: int = 1500
    source_lr: float = 1e-3
    batch_size: int = 64
    # MAML
    meta_steps: int = 1500
    meta_batch: int = 4
    meta_lr: float = 1e-3
    shots: int = 5
    queries: int = 10
    inner_steps: int = 5
    inner_lr: float = 0.05
    # target adaptation (all methods)
    adapt_steps: int = 20
    adapt_lr: float = 0.05
    target_only_steps: int = 100
    target_only_lr: float = 1e-2


# -- a functional MLP (weights as a list, so MAML can adapt copies) ---------------------------

def init_mlp(d_in: int, hidden: int, n_out: int, seed: int) -> list:
    import torch

    g = torch.Generator().manual_seed(seed)

    def lin(i, o):
        w = torch.empty(o, i)
        bound = 1 / np.sqrt(i)
        w.uniform_(-bound, bound, generator=g)
        return [w.requires_grad_(), torch.zeros(o, requires_grad=True)]

    return lin(d_in, hidden) + lin(hidden, n_out)


def mlp_forward(params: Sequence, x):
    import torch.nn.functional as F

    h = F.gelu(F.linear(x, params[0], params[1]))
    return F.linear(h, params[2], params[3])


def sgd_adapt(params: Sequence, loss_fn: Callable, steps: int, lr: float) -> list:
    """Inner loop: ``steps`` plain SGD steps from ``params`` (copies; first order: the adapted
    weights are detached from the initialisation)."""
    import torch

    fast = [p.detach().clone().requires_grad_() for p in params]
    for _ in range(steps):
        grads = torch.autograd.grad(loss_fn(fast), fast)
        fast = [(p - lr * g).detach().requires_grad_() for p, g in zip(fast, grads)]
    return fast


def fomaml_step(params: Sequence, tasks: Sequence[tuple[Callable, Callable]], opt,
                inner_steps: int, inner_lr: float) -> float:
    """One first-order MAML outer step over ``tasks`` (support loss, query loss) pairs: adapt
    on each support, take the query-loss gradient at the adapted weights, average, step
    ``opt`` (which holds ``params``). Returns the mean query loss."""
    import torch

    acc = [torch.zeros_like(p) for p in params]
    total = 0.0
    for support, query in tasks:
        fast = sgd_adapt(params, support, inner_steps, inner_lr)
        q = query(fast)
        for a, g in zip(acc, torch.autograd.grad(q, fast)):
            a += g / len(tasks)
        total += float(q.detach()) / len(tasks)
    opt.zero_grad()
    for p, a in zip(params, acc):
        p.grad = a.clone()
    opt.step()
    return total


# -- data ------------------------------------------------------------------------------------

@dataclass
class _Lang:
    X: np.ndarray
    y: np.ndarray
    speaker: np.ndarray


def _load(progress: bool, quick: bool) -> dict[str, _Lang]:
    from affectkit.evaluation.generalise_audio import load

    corpora = [c for cs in SOURCES.values() for c in cs] + list(TARGETS.values())
    d = load(corpora, progress=progress, quick=quick)
    keep = np.isin(d.canon, FOUR)
    idx = {c: i for i, c in enumerate(FOUR)}
    out = {}
    for lang, cs in list(SOURCES.items()) + [(k, (v,)) for k, v in TARGETS.items()]:
        m = keep & np.isin(d.corpus, cs)
        if not m.any():
            raise DataError(f"MetaSER: no {'/'.join(cs)} clips with labels {FOUR}")
        out[lang] = _Lang(d.X[m], np.array([idx[c] for c in d.canon[m]]), d.speaker[m])
    return out


def _sample(rng, y: np.ndarray, per_class: int, pool: np.ndarray | None = None) -> np.ndarray:
    idx = np.arange(len(y)) if pool is None else pool
    out = []
    for c in range(len(FOUR)):
        cand = idx[y[idx] == c]
        if len(cand) == 0:
            continue
        out.extend(rng.choice(cand, per_class, replace=len(cand) < per_class))
    return np.array(out)


def target_split(lang: _Lang, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(adaptation pool, test) item indices from disjoint speaker halves."""
    rng = np.random.default_rng(1000 + seed)
    spk = np.array(sorted(set(lang.speaker)))
    rng.shuffle(spk)
    adapt_spk = set(spk[: len(spk) // 2])
    adapt = np.array([i for i, s in enumerate(lang.speaker) if s in adapt_spk])
    test = np.array([i for i, s in enumerate(lang.speaker) if s not in adapt_spk])
    assert not set(lang.speaker[adapt]) & set(lang.speaker[test]), "speaker leak"
    return adapt, test


# -- methods ---------------------------------------------------------------------------------

def _ce(params, X, y, forward=mlp_forward):
    import torch.nn.functional as F

    return F.cross_entropy(forward(params, X), y)


def _ua(params, X, y) -> float:
    import torch

    from affectkit.metrics import unweighted_accuracy

    with torch.no_grad():
        pred = mlp_forward(params, X).argmax(1).numpy()
    return float(unweighted_accuracy(y.numpy(), pred, len(FOUR)))


def _train_sources(src: dict, cfg: MetaSERConfig, seed: int, d: int) -> list:
    """Pooled transfer: minibatches balanced over (language, class)."""
    import torch

    rng = np.random.default_rng(seed)
    params = init_mlp(d, cfg.hidden, len(FOUR), seed)
    opt = torch.optim.Adam(params, lr=cfg.source_lr)
    langs = list(src)
    per = max(1, cfg.batch_size // (len(langs) * len(FOUR)))
    for _ in range(cfg.source_steps):
        xs, ys = [], []
        for lang in langs:
            X, y = src[lang]
            i = _sample(rng, y.numpy(), per)
            xs.append(X[i])
            ys.append(y[i])
        loss = _ce(params, torch.cat(xs), torch.cat(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return params


def _train_multitask(src: dict, cfg: MetaSERConfig, seed: int, d: int) -> list:
    """Shared body, one head per source language; returns body + mean head."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    base = init_mlp(d, cfg.hidden, len(FOUR), seed)
    body = base[:2]
    heads = {lang: [p.detach().clone().requires_grad_() for p in base[2:]] for lang in src}
    opt = torch.optim.Adam(body + [p for h in heads.values() for p in h], lr=cfg.source_lr)
    per = max(1, cfg.batch_size // (len(src) * len(FOUR)))
    for _ in range(cfg.source_steps):
        loss = 0.0
        for lang, (X, y) in src.items():
            i = _sample(rng, y.numpy(), per)
            loss = loss + F.cross_entropy(mlp_forward(body + heads[lang], X[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    head = [torch.stack([heads[k][j].detach() for k in heads]).mean(0).requires_grad_()
            for j in range(2)]
    return [p.detach().requires_grad_() for p in body] + head


def _train_maml(src: dict, cfg: MetaSERConfig, seed: int, d: int) -> list:
    import torch

    rng = np.random.default_rng(seed)
    params = init_mlp(d, cfg.hidden, len(FOUR), seed)
    opt = torch.optim.Adam(params, lr=cfg.meta_lr)
    langs = list(src)
    for _ in range(cfg.meta_steps):
        tasks = []
        for _ in range(cfg.meta_batch):
            X, y = src[langs[rng.integers(len(langs))]]
            s = _sample(rng, y.numpy(), cfg.shots)
            q = _sample(rng, y.numpy(), cfg.queries)
            tasks.append((lambda p, X=X, y=y, s=s: _ce(p, X[s], y[s]),
                          lambda p, X=X, y=y, q=q: _ce(p, X[q], y[q])))
        fomaml_step(params, tasks, opt, cfg.inner_steps, cfg.inner_lr)
    return params


def run(*, seeds: int = 3, ks: Sequence[int] = KS, quick: bool = False,
        progress: bool = True, cfg: MetaSERConfig | None = None) -> dict:
    """The UA-vs-k table for both targets and all methods (see the module docstring)."""
    import torch

    from affectkit.progress import progress as _progress

    torch.set_num_threads(1)
    cfg = cfg or MetaSERConfig()
    if quick:
        cfg = MetaSERConfig(**{**asdict(cfg), "source_steps": 100, "meta_steps": 100})
    t0 = time.perf_counter()
    data = _load(progress, quick)
    src_X = np.concatenate([data[k].X for k in SOURCES])
    mu, sd = src_X.mean(0), src_X.std(0) + 1e-6

    def tens(lang):
        return (torch.as_tensor((lang.X - mu) / sd, dtype=torch.float32),
                torch.as_tensor(lang.y, dtype=torch.long))

    src = {k: tens(data[k]) for k in SOURCES}
    d = src_X.shape[1]
    methods = ("target only", "pooled transfer + fine-tune", "multitask + fine-tune",
               "MetaSER (FO-MAML)")
    scores: dict[tuple[str, str, int], list[float]] = {}
    with _progress(progress) as bar:
        tid = bar.add_task("MetaSER seeds", total=seeds, status="")
        for seed in range(seeds):
            torch.manual_seed(seed)
            bar.update(tid, status="pooled")
            pooled = _train_sources(src, cfg, seed, d)
            bar.update(tid, status="multitask")
            multi = _train_multitask(src, cfg, seed, d)
            bar.update(tid, status="maml")
            meta = _train_maml(src, cfg, seed, d)
            bar.update(tid, status="adapt")
            for tname in TARGETS:
                X, y = tens(data[tname])
                adapt, test = target_split(data[tname], seed)
                Xt, yt = X[test], y[test]
                scores.setdefault((tname, "pooled transfer + fine-tune", 0), []).append(
                    _ua(pooled, Xt, yt))
                scores.setdefault((tname, "multitask + fine-tune", 0), []).append(
                    _ua(multi, Xt, yt))
                for k in ks:
                    rng = np.random.default_rng(10_000 * seed + k)
                    s = _sample(rng, data[tname].y, k, adapt)
                    sup = (lambda p, s=s: _ce(p, X[s], y[s]))
                    scratch = init_mlp(d, cfg.hidden, len(FOUR), 100 + seed)
                    res = {
                        "target only": sgd_adapt_adam(scratch, sup, cfg.target_only_steps,
                                                      cfg.target_only_lr),
                        "pooled transfer + fine-tune": sgd_adapt(pooled, sup, cfg.adapt_steps,
                                                                 cfg.adapt_lr),
                        "multitask + fine-tune": sgd_adapt(multi, sup, cfg.adapt_steps,
                                                           cfg.adapt_lr),
                        "MetaSER (FO-MAML)": sgd_adapt(meta, sup, cfg.adapt_steps, cfg.adapt_lr),
                    }
                    for mname, p in res.items():
                        scores.setdefault((tname, mname, k), []).append(_ua(p, Xt, yt))
            bar.advance(tid)
    rows = []
    for (tname, mname, k), v in sorted(scores.items(), key=lambda t: (t[0][0], methods.index(
            t[0][1]), t[0][2])):
        rows.append({"target": tname, "corpus": TARGETS[tname], "method": mname, "k": k,
                     "ua": 100 * float(np.mean(v)),
                     "ua_sd": 100 * float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                     "values": [100 * x for x in v]})
    md = _markdown(rows, ks, methods)
    return {"protocol": "MetaSER: sources English (RAVDESS+TESS) + German (EmoDB), targets "
            "Italian (EMOVO) and Urdu (URDU); 4 classes; k labelled clips per class from half "
            "of the target speakers, UA on the other half (speaker-disjoint); fixed "
            "hyper-parameters; mean ± sd over seeds (speaker halves, support draws and inits)",
            "feature": "audio.whisper", "seeds": seeds, "ks": list(ks), "config": asdict(cfg),
            "quick": quick, "rows": rows, "markdown": md,
            "seconds": round(time.perf_counter() - t0, 1)}


def sgd_adapt_adam(params: Sequence, loss_fn: Callable, steps: int, lr: float) -> list:
    """Training from scratch on the support set (Adam; what a target-only model would use)."""
    import torch

    fast = [p.detach().clone().requires_grad_() for p in params]
    opt = torch.optim.Adam(fast, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(fast).backward()
        opt.step()
    return fast


def _markdown(rows: list[dict], ks: Sequence[int], methods: Sequence[str]) -> str:
    out = []
    for tname in TARGETS:
        out.append(f"**{tname} ({TARGETS[tname]})**, UA % on held-out speakers\n")
        out.append("| method | " + " | ".join(f"k={k}" for k in (0, *ks)) + " |")
        out.append("|---|" + "---|" * (len(ks) + 1))
        for m in methods:
            cells = []
            for k in (0, *ks):
                r = next((r for r in rows if r["target"] == tname and r["method"] == m
                          and r["k"] == k), None)
                cells.append(f"{r['ua']:.1f} ± {r['ua_sd']:.1f}" if r else "–")
            out.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def write(res: dict, out_dir: str = "benchmarks/results") -> None:
    import json
    from pathlib import Path

    p = Path(out_dir)
    p.mkdir(parents=True, exist_ok=True)
    (p / "metaser.json").write_text(json.dumps(res, indent=1))
    (p / "metaser.md").write_text(res["markdown"] + "\n")
