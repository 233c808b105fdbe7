"""torch.distributed for the one Trainer: process group, sharding, gathering (gloo on CPU).

``affect train`` under ``torchrun`` (or ``affect train --nproc N``) runs one process per rank;
:func:`context` reads ``WORLD_SIZE`` / ``RANK`` from the environment torchrun sets and opens the
process group on first use: ``gloo`` (the Trainer runs on CPU; ``AFFECTKIT_DIST_BACKEND``
overrides the backend name).
With one process every helper here is a no-op, so single-process code paths are unchanged.

Batch semantics (see docs/scaling.md): ``trainer.batch_size`` is the **global** batch. Every
rank draws the same permutation (seeded from ``(seed, epoch)``), cuts the same global batches
and takes a strided shard ``batch[rank::world]`` of each (:func:`shard`) — the sharding a
``DistributedSampler`` does, applied per global batch, so the optimizer sees the same batches,
the same number of steps and the same learning-rate schedule as one process. Each rank's loss
is scaled by ``n_local · world / n_global`` (:func:`loss_scale`), so DDP's gradient average is
the gradient of the global-batch mean loss.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["DistContext", "all_gather_objects", "all_reduce_sum", "barrier", "broadcast_object",
           "broadcast_module", "context", "is_main_process", "loss_scale", "shard",
           "note", "shard_range", "shutdown"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``world`` processes, this one is ``rank``."""

    world: int = 1
    rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_world() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def context() -> DistContext:
    """The distributed context; opens the process group when ``WORLD_SIZE`` > 1 (idempotent)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_world_size(), dist.get_rank())
    world = _env_world()
    if world <= 1:
        return DistContext()
    if not dist.is_available():
        from affectkit.errors import ConfigError

        raise ConfigError(f"WORLD_SIZE={world} but this torch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        from affectkit.errors import ConfigError

        raise ConfigError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; start the "
                          "processes with `torchrun --nproc_per_node N -m affectkit.cli train …` "
                          "or `affect train --nproc N …`")
    backend = os.environ.get("AFFECTKIT_DIST_BACKEND", "gloo")
    dist.init_process_group(backend=backend)
    return DistContext(dist.get_world_size(), dist.get_rank())


def is_main_process() -> bool:
    """True on rank 0 (and without torch.distributed): the process that writes files/prints."""
    if _env_world() <= 1:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return True
    return context().is_main


def shutdown() -> None:
    """Close the process group (end of ``affect train`` under torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if context().enabled:
        import torch.distributed as dist

        dist.barrier()


# --- sharding ----------------------------------------------------------------------------------


def shard(idx: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's part of one global batch: ``idx[rank::world]`` (may be empty)."""
    return idx[ctx.rank::ctx.world] if ctx.enabled else idx


def shard_range(n: int, ctx: DistContext) -> range:
    """A contiguous block of ``range(n)`` for this rank (evaluation: gathered back in order)."""
    if not ctx.enabled:
        return range(n)
    per = -(-n // ctx.world)
    return range(min(n, ctx.rank * per), min(n, (ctx.rank + 1) * per))


def loss_scale(n_local: int, n_global: int, ctx: DistContext) -> float:
    """Factor on a rank's mean loss so that DDP's gradient *average* over ranks equals the
    gradient of the mean loss over the whole global batch."""
    if not ctx.enabled:
        return 1.0
    return n_local * ctx.world / max(1, n_global)


# --- collectives (no-ops with one process) -----------------------------------------------------


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    if not ctx.enabled:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    if not ctx.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (in-memory transfer between ranks, no file)."""
    if not ctx.enabled:
        return obj
    import torch.distributed as dist

    box = [obj if ctx.rank == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


@torch.no_grad()
def broadcast_module(module: torch.nn.Module, ctx: DistContext, *, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (and buffers: BatchNorm statistics) into every rank's module."""
    if not ctx.enabled:
        return
    import torch.distributed as dist

    tensors = list(module.buffers()) if buffers_only else [*module.parameters(), *module.buffers()]
    for t in tensors:
        if t.is_floating_point() or t.dtype in (torch.int64, torch.int32, torch.bool):
            if t.dtype == torch.bool:
                tmp = t.to(torch.uint8)
                dist.broadcast(tmp, src=0)
                t.copy_(tmp.bool())
            else:
                dist.broadcast(t.data, src=0)


def note(msg: str, ctx: DistContext) -> None:
    """One line on stderr from rank 0 only."""
    if ctx.is_main:
        sys.stderr.write(f"affectkit: {msg}\n")
        sys.stderr.flush()
