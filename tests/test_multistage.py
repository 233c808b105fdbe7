"""Stage schedule (training/multistage.py): config round trip, mixture sampling, stage checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from affectkit.errors import ConfigError
from affectkit.training.multistage import (Source, StageSchedule, digest, run_stages,
                                           trainable_tensors)

YAML = """
stages:
  - name: sentiment
    sources: [{task: sentiment, corpus: mosei, weight: 1.0}]
    epochs: 2
    lr: 0.01
  - name: mixture
    sources:
      - {task: sentiment, corpus: mosei, weight: 1.0}
      - {task: emotion, corpus: meld, weight: 3}
    epochs: 1
    lr: 5e-3
batch_size: 4
sampling: weight
seed: 3
"""


def test_round_trip_yaml_and_dict(tmp_path):
    s = StageSchedule.from_yaml(YAML)
    assert [st.name for st in s.stages] == ["sentiment", "mixture"]
    assert s.stages[1].sources[1].weight == 3.0 and s.stages[1].lr == 0.005
    p = tmp_path / "s.yaml"
    s.to_yaml(p)
    again = StageSchedule.from_yaml(p)
    assert again == s
    assert StageSchedule.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.source_keys == ["sentiment:mosei", "emotion:meld"]


@pytest.mark.parametrize("bad, msg", [
    ({"stages": []}, "at least one stage"),
    ({"stages": [{"name": "a", "sources": []}]}, "sources is empty"),
    ({"stages": [{"name": "a", "sources": [{"task": "x", "corpus": "y", "weight": 0}]}]}, "weight"),
    ({"stages": [{"name": "a", "sourcez": []}]}, "unknown key 'sourcez'"),
    ({"stages": [{"name": "a", "sources": [{"task": "x", "corpus": "y"}]}], "sampling": "z"},
     "sampling"),
])
def test_bad_schedules_name_the_field(bad, msg):
    with pytest.raises(ConfigError, match=msg):
        StageSchedule.from_dict(bad)


class Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = torch.nn.Linear(3, 4)
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 1), "b": torch.nn.Linear(4, 1)})
        self.frozen = torch.nn.Linear(3, 3).requires_grad_(False)

    def forward(self, x, head):
        return self.heads[head](torch.tanh(self.trunk(x))).squeeze(-1)


def _sources(calls):
    g = torch.Generator().manual_seed(0)
    xa, xb = torch.randn(40, 3, generator=g), torch.randn(10, 3, generator=g)
    ya, yb = xa.sum(1), -xb[:, 0]

    def mk(x, y, head, key):
        def loss(model, idx):
            calls.append((key, len(idx)))
            return torch.nn.functional.mse_loss(model(x[idx], head), y[idx])
        return Source(len(x), loss)
    return {"sentiment:mosei": mk(xa, ya, "a", "sentiment:mosei"),
            "emotion:meld": mk(xb, yb, "b", "emotion:meld")}


def test_two_stage_run_checkpoints_and_continues(tmp_path):
    s = StageSchedule.from_yaml(YAML)
    torch.manual_seed(0)
    model = Toy()
    calls: list = []
    res = run_stages(model, s, _sources(calls), run_dir=tmp_path / "run", progress=False)
    d1, d2 = tmp_path / "run/stage1-sentiment", tmp_path / "run/stage2-mixture"
    for d in (d1, d2):
        assert (d / "model.safetensors").exists() and (d / "stage.json").exists()
    # stage 1: 2 epochs × 40 / 4 = 20 steps, sentiment only
    assert res[0].steps == 20 and res[0].draws == {"sentiment:mosei": 20}
    # stage 2 starts from exactly the weights stage 1 ended with
    assert res[1].start_digest == res[0].end_digest != res[0].start_digest
    # weight sampling 1:3 over ceil(50/4)=13 steps: both sources drawn, emotion more often
    assert res[1].steps == 13 and sum(res[1].draws.values()) == 13
    assert res[1].draws["emotion:meld"] > res[1].draws["sentiment:mosei"] > 0
    # the frozen layer is not in the checkpoint
    from safetensors.torch import load_file
    assert not any(k.startswith("frozen") for k in load_file(str(d1 / "model.safetensors")))
    assert json.loads((tmp_path / "run/schedule.json").read_text())["seed"] == 3
    # a rerun loads the finished stages instead of training again
    fresh = Toy()
    calls2: list = []
    res2 = run_stages(fresh, s, _sources(calls2), run_dir=tmp_path / "run", progress=False)
    assert calls2 == [] and all(r.resumed for r in res2)
    assert digest(trainable_tensors(fresh)) == res[1].end_digest


def test_missing_source_is_a_clear_error():
    s = StageSchedule.from_yaml(YAML)
    srcs = _sources([])
    srcs.pop("emotion:meld")
    with pytest.raises(ConfigError, match="emotion:meld"):
        run_stages(Toy(), s, srcs, progress=False)
