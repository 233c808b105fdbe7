"""Run by tests/test_distributed.py, once plainly and once under torchrun (2 processes, gloo).

Fits the Trainer on a small synthetic 3-class problem (an MLP without dropout, so the only
difference between 1 and N processes is floating-point summation order) and a scikit-learn
baseline (closed form: rank 0 only), each with ``run_dir = OUT/rank<r>/…`` so the test can see
which ranks wrote a run folder; writes what every rank saw to ``OUT/result<r>.json``. With a
CONFIG it then runs ``affect train CONFIG --json -q --out OUT/cli`` in the same processes (one
torchrun start for both checks; rank 0 prints the JSON).

    python tests/_dist_script.py OUT [CONFIG]
    torchrun --standalone --nproc_per_node 2 tests/_dist_script.py OUT [CONFIG]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from affectkit.config import TrainerConfig
from affectkit.data.batch import Batch
from affectkit.models import create_model
from affectkit.tasks import make_task
from affectkit.errors import ConfigError
from affectkit.training import Strategy, Trainer
from affectkit.training import distributed as D
from affectkit.types import Modality

T, A = Modality.TEXT, Modality.AUDIO


def toy(n: int = 203, seed: int = 0, d: int = 8, k: int = 3) -> Batch:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    centers = torch.randn(k, d, generator=g) * 1.2
    xt = centers[y] + torch.randn(n, d, generator=g) * 1.5
    xa = torch.randn(n, 4, generator=g)
    return Batch({T: xt, A: xa}, y, [f"u{i}" for i in range(n)])


def main(out: Path, config: str | None = None) -> None:
    torch.set_num_threads(1)
    ctx = D.context()
    data = toy()
    # odd sizes on purpose: global batches of 16 split 8/8 and the last one 11 → 6/5
    tr, va, te = data.take(range(0, 139)), data.take(range(139, 171)), data.take(range(171, 203))
    labels = ["a", "b", "c"]
    res: dict = {"world": ctx.world, "rank": ctx.rank}

    torch.manual_seed(7)
    model = create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=16,
                         dropout=0.0, input_dropout=0.0)
    cfg = TrainerConfig(epochs=5, batch_size=16, lr=5e-3, patience=0, progress=False)
    run = out / f"rank{ctx.rank}" / "mlp"
    trainer = Trainer(model, make_task("emotion", labels), cfg, seed=7, run_dir=run,
                      resolved_config={"toy": 1, "seed": 7})
    fit = trainer.fit(tr, va)
    res["mlp"] = {"best_epoch": fit.best_epoch, "history": fit.history,
                  "valid": {k: v for k, v in fit.best_valid.items() if isinstance(v, float)},
                  "test": {k: v for k, v in trainer.evaluate(te).items() if isinstance(v, float)},
                  "n_test_predictions": len(trainer.predict(te)),
                  "weights_sum": float(sum(p.detach().double().sum() for p in model.parameters()))}

    sk = create_model("sk.logreg", input_dims={T: 8, A: 4}, n_outputs=3)
    sk_trainer = Trainer(sk, make_task("emotion", labels), cfg, seed=7,
                         run_dir=out / f"rank{ctx.rank}" / "sk")
    sk_fit = sk_trainer.fit(tr, va)
    res["sk"] = {"valid_ua": sk_fit.best_valid["ua"],
                 "test": {k: v for k, v in sk_trainer.evaluate(te).items() if isinstance(v, float)},
                 "predictions": sk_trainer.predict(te).tolist()}
    class PerRank(Strategy):  # a strategy that declares per-rank state: refused under DDP
        name = "per-rank"
        supports_distributed = False

    try:
        Trainer(create_model("mlp", input_dims={T: 8, A: 4}, n_outputs=3, hidden=4),
                make_task("emotion", labels), cfg, seed=7, strategy=PerRank()).fit(tr, va)
        res["per_rank_strategy"] = "trained"
    except ConfigError as e:
        res["per_rank_strategy"] = str(e)
    (out / f"result{ctx.rank}.json").write_text(json.dumps(res))
    if config:
        from affectkit.cli import app

        app(["train", config, "--json", "-q", "--out", str(out / "cli")], standalone_mode=False)
    D.shutdown()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
