"""Cross-corpus row of the shipped cause model: ``python -m affectkit.evaluation.cause_transfer``.

The shipped ``conversation_causes`` model (trained on ECF, Friends) scores RECCON-DD test
(DailyDialog, never seen in training) as causal emotion entailment: for each non-neutral target
utterance and each utterance of its history (itself included), cause or not, macro F1 of the
two classes (:class:`affectkit.tasks.emotion_cause.CauseEntailmentTask`). The pair threshold is
the one chosen on ECF validation; nothing is fitted on RECCON. Writes
``benchmarks/results/cause-transfer.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path



def run() -> dict:
    import torch

    from affectkit.analysis.predictors import DEFAULTS_DIR
    from affectkit.config import DataConfig
    from affectkit.data.batch import collate
    from affectkit.experiment import load_labelled
    from affectkit.features.provider import get_features
    from affectkit.tasks import make_task
    from affectkit.training.checkpoint import RunDir
    from affectkit.types import Modality

    torch.set_num_threads(1)
    rd = RunDir(DEFAULTS_DIR / "conversation_causes")
    model, shipped = rd.load_model()
    data = load_labelled(DataConfig(corpus="reccon", label="emotion_cause"), "cause_entailment")
    test = [u.id for u in data.utterances if u.split == "test"]
    feats = get_features("text.minilm", [u for u in data.utterances if u.split == "test"],
                         progress=False).values
    task = make_task("cause_entailment", data.labels)
    task.threshold = float(shipped.threshold)
    dids, groups = data.dialogues([i for i in test if i in feats])
    y = task.encode_dialogues(groups, data.targets)
    b = collate(dids, {Modality.TEXT: feats}, {Modality.TEXT: "sequence"}, y, unit="dialogue",
                groups=groups, pad_value=task.pad_value)
    with torch.no_grad():
        out = model(b.inputs, lengths=b.lengths)
    pred = task.predict({"logits": torch.zeros(*out["pair_logits"].shape[:2], len(data.labels)),
                         "pair_logits": out["pair_logits"]})
    m = task.metrics(b.target.numpy(), pred)
    return {"command": "python -m affectkit.evaluation.cause_transfer",
            "date": dt.date.today().isoformat(), "model": "conversation_causes (ECF train)",
            "scored_on": "RECCON-DD test (causal emotion entailment)",
            "n_dialogues": len(dids), **{k: (round(v, 4) if isinstance(v, float) else v)
                                         for k, v in m.items()},
            "in_domain_reference": "benchmarks/results/reccon.md (RECCON-trained, same task)"}


def main() -> None:  # pragma: no cover - benchmark entry point
    res = run()
    p = Path("benchmarks/results/cause-transfer.json")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(res, indent=1, default=float))
    print(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":  # pragma: no cover
    main()
