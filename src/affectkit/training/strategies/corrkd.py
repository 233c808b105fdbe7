"""``corrkd`` — Correlation-decoupled Knowledge Distillation (Li et al., CVPR 2024, "Correlation-
    Decoupled Knowledge Distillation for Multimodal Sentiment Analysis with Incomplete
    Modalities"). A teacher trained on complete modalities sees each *complete* batch; the
    student sees the same batch under ``random_missing`` and is trained with the task loss plus

    * **SCD**, sample-level contrastive distillation: InfoNCE between the student's and the
      teacher's embeddings (the same sample is the positive, the other samples of the batch the
      negatives), plus matching the student's cross-sample similarity distribution to the
      teacher's (the cross-sample correlations);
    * **CPD**, category-guided prototype distillation: teacher category prototypes (EMA of
      class means of normalised teacher embeddings; for sentiment the categories are negative /
      neutral / positive); the student's sample-to-prototype distribution is matched to the
      teacher's (KL), and the student's batch category means are pulled to the prototypes;
    * **RCD**, response-disentangled consistency distillation: the response is split into parts
      that are matched separately — for classes, the target-class vs rest probability and the
      distribution over non-target classes (decoupled KD); for a sentiment score, polarity
      (sigmoid of score/τ) and intensity (|score|) — plus a mutual-information term, maximised
      through its Gaussian surrogate (1 − Pearson r between teacher and student responses over
      the batch, since I(s; t) = −½ log(1 − r²) grows with |r|).

    Deviations: the paper's student and teacher share an architecture with modality-specific
    reconstruction, and its MI term uses a learned estimator; here any ``fusion.*`` model works
    as either (their embedding widths must match), the MI term is the Gaussian surrogate, and the
    loss weights are fixed defaults, not tuned per data set.

The teacher is a model object or a run folder written by ``affect train`` (``config.json`` +
``model.safetensors``); ``{seed}``, ``{fold}`` and ``{run_dir}`` in the path are filled from the
student's run (its seed, run-folder name and run folder), so one config trains a student per
fold against the teacher of the same fold, e.g. ``{run_dir}/../../../mult/seed{seed}/{fold}`` in a
benchmark suite whose runs live in ``<runs>/<suite>/<entry>/seed<k>/<fold>``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from affectkit.errors import ConfigError
from affectkit.training.strategies.base import STRATEGIES
from affectkit.training.strategies.random_missing import RandomMissing

@STRATEGIES.register("corrkd")
class CorrKD(RandomMissing):
    """Complete-modality teacher → student under random missingness (see the module docstring).

    Args:
        teacher: a model, or a run folder (``{seed}``/``{fold}``/``{run_dir}`` placeholders).
        p_full, frame_drop: the student's missingness (as :class:`RandomMissing`).
        temperature: τ of the contrastive and prototype similarities.
        w_scd, w_cpd, w_rcd: weights of the three distillation losses.
        polarity_temperature: τ of the polarity sigmoid for score responses.
        momentum: EMA momentum of the teacher prototypes.
    """

    name = "corrkd"

    def __init__(self, teacher: str | torch.nn.Module, p_full: float = 0.3,
                 frame_drop: float = 0.0, temperature: float = 0.2, w_scd: float = 0.1,
                 w_cpd: float = 0.1, w_rcd: float = 0.5, polarity_temperature: float = 0.5,
                 momentum: float = 0.9) -> None:
        super().__init__(p_full=p_full, frame_drop=frame_drop)
        self.teacher_spec = teacher
        self.teacher: torch.nn.Module | None = teacher if isinstance(teacher, torch.nn.Module) else None
        self.tau = float(temperature)
        self.w = {"scd": float(w_scd), "cpd": float(w_cpd), "rcd": float(w_rcd)}
        self.tau_pol = float(polarity_temperature)
        self.momentum = float(momentum)
        self.prototypes: torch.Tensor | None = None  # (K, E), normalised
        self.proto_seen: torch.Tensor | None = None  # (K,) bool
        self._t: dict[str, torch.Tensor] | None = None
        self.last_terms: dict[str, float] = {}

    # -- teacher ------------------------------------------------------------------------------
    def resolve_teacher_path(self, trainer) -> Path:
        spec = str(self.teacher_spec)
        rd = trainer.run_dir
        if ("{fold}" in spec or "{run_dir}" in spec) and rd is None:
            raise ConfigError("corrkd teacher path uses {fold}/{run_dir} but the student has no "
                              "run folder")
        try:
            p = spec.format(seed=trainer.seed, fold=rd.name if rd else "", run_dir=rd or "")
        except (KeyError, IndexError) as e:
            raise ConfigError(f"corrkd teacher {spec!r}: unknown placeholder {e}; allowed: "
                              "{seed}, {fold}, {run_dir}") from None
        return Path(p).resolve() if "{run_dir}" in spec else Path(p)

    def load_teacher(self, trainer) -> torch.nn.Module:
        """The teacher run, reloaded like every other run (:class:`RunDir`), with the
        student's input dims."""
        from affectkit.training.checkpoint import RunDir

        path = self.resolve_teacher_path(trainer)
        rd = RunDir(path)
        rd.require("config.json", "task.json", "model.safetensors",
                   hint="corrkd expected config.json and model.safetensors (a run folder of "
                        "`affect train` with a complete-modality model); train the teacher first")
        teacher, _ = rd.load_model(input_dims=dict(trainer.model.input_dims))
        if teacher.n_outputs != trainer.model.n_outputs:
            raise ConfigError(f"corrkd teacher {path}: {teacher.n_outputs} outputs, the student "
                              f"has {trainer.model.n_outputs}")
        return teacher

    def on_fit_start(self, trainer):
        super().on_fit_start(trainer)
        if self.teacher is None:
            self.teacher = self.load_teacher(trainer)
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def transform_batch(self, trainer, batch):
        with torch.no_grad():
            self.teacher.eval()
            self._t = self.teacher(batch.inputs, lengths=batch.lengths or None,
                                   masks=batch.masks or None)
        return self.sample(batch)

    # -- losses -------------------------------------------------------------------------------
    def loss(self, trainer, model, batch, outputs):
        task_loss = trainer.task.loss(outputs, batch.target)
        t = self._t
        if t is None:
            return task_loss
        s_emb, t_emb = outputs["embedding"], t["embedding"]
        if s_emb.shape[1] != t_emb.shape[1]:
            raise ConfigError(f"corrkd: student embedding width {s_emb.shape[1]} ≠ teacher's "
                              f"{t_emb.shape[1]}; use the same model/hidden size for both")
        zs, zt = F.normalize(s_emb, dim=-1), F.normalize(t_emb, dim=-1)
        terms = {
            "scd": self.scd(zs, zt),
            "cpd": self.cpd(zs, zt, self.categories(trainer, batch.target)),
            "rcd": self.rcd(outputs, t, batch.target),
        }
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        return task_loss + sum(self.w[k] * v for k, v in terms.items())

    def scd(self, zs: torch.Tensor, zt: torch.Tensor) -> torch.Tensor:
        B = zs.shape[0]
        if B < 2:
            return zs.new_zeros(())
        idx = torch.arange(B)
        logits = zs @ zt.T / self.tau
        nce = 0.5 * (F.cross_entropy(logits, idx) + F.cross_entropy(logits.T, idx))
        off = ~torch.eye(B, dtype=torch.bool)
        st = (zs @ zs.T / self.tau)[off].view(B, B - 1)
        tt = (zt @ zt.T / self.tau)[off].view(B, B - 1)
        rel = F.kl_div(st.log_softmax(-1), tt.log_softmax(-1), log_target=True, reduction="batchmean")
        return nce + rel

    def categories(self, trainer, target: torch.Tensor) -> torch.Tensor | None:
        """Coarse categories of the targets, as the task defines them."""
        return trainer.task.categories(target)

    def cpd(self, zs: torch.Tensor, zt: torch.Tensor, cat: torch.Tensor | None) -> torch.Tensor:
        if cat is None:
            return zs.new_zeros(())
        K = int(cat.max()) + 1
        if self.prototypes is None or self.prototypes.shape[0] < K:
            E = zt.shape[1]
            old_p, old_s = self.prototypes, self.proto_seen
            self.prototypes = torch.zeros(K, E)
            self.proto_seen = torch.zeros(K, dtype=torch.bool)
            if old_p is not None:
                self.prototypes[:old_p.shape[0]] = old_p
                self.proto_seen[:old_s.shape[0]] = old_s
        with torch.no_grad():  # EMA of the teacher's category means
            for k in cat.unique().tolist():
                mean = F.normalize(zt[cat == k].mean(0), dim=-1)
                if self.proto_seen[k]:
                    mean = F.normalize(self.momentum * self.prototypes[k] + (1 - self.momentum) * mean, dim=-1)
                self.prototypes[k] = mean
                self.proto_seen[k] = True
        P = self.prototypes[self.proto_seen]
        if P.shape[0] < 2:
            align = zs.new_zeros(())
        else:
            ps = (zs @ P.T / self.tau).log_softmax(-1)
            pt = (zt @ P.T / self.tau).log_softmax(-1)
            align = F.kl_div(ps, pt, log_target=True, reduction="batchmean")
        pull = []
        for k in cat.unique().tolist():
            pull.append(1 - F.cosine_similarity(zs[cat == k].mean(0), self.prototypes[k], dim=0))
        return align + torch.stack(pull).mean()

    def rcd(self, s: dict, t: dict, target: torch.Tensor) -> torch.Tensor:
        if s["logits"].shape[1] == 1:  # a score: polarity + intensity + MI surrogate
            ys, yt = s["logits"][:, 0], t["logits"][:, 0]
            pol = F.binary_cross_entropy_with_logits(ys / self.tau_pol, torch.sigmoid(yt / self.tau_pol))
            inten = F.smooth_l1_loss(ys.abs(), yt.abs())
            return pol + inten + (1 - _pearson(ys, yt))
        ls, lt = s["logits"], t["logits"]
        y = target.long()
        ps, pt = ls.softmax(-1), lt.softmax(-1)
        gs, gt = ps.gather(1, y[:, None]), pt.gather(1, y[:, None])
        bs = torch.cat([gs, 1 - gs], 1).clamp(min=1e-8)
        bt = torch.cat([gt, 1 - gt], 1).clamp(min=1e-8)
        tckd = F.kl_div(bs.log(), bt.log(), log_target=True, reduction="batchmean")
        nt_mask = F.one_hot(y, ls.shape[1]).bool()
        nts = ls.masked_fill(nt_mask, -1e4).log_softmax(-1)
        ntt = lt.masked_fill(nt_mask, -1e4).log_softmax(-1)
        nckd = F.kl_div(nts, ntt, log_target=True, reduction="batchmean")
        return tckd + nckd + (1 - _pearson(gs[:, 0], gt[:, 0]))

    def state(self):
        spec = self.teacher_spec if isinstance(self.teacher_spec, str) else "<model object>"
        return {"name": self.name, "teacher": spec, "p_full": self.p_full,
                "frame_drop": self.frame_drop, "temperature": self.tau, **{f"w_{k}": v for k, v in self.w.items()},
                "polarity_temperature": self.tau_pol, "momentum": self.momentum}


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).clamp(min=1e-8)
    return (a * b).sum() / denom
