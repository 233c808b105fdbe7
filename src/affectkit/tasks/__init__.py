"""Tasks: what is predicted, its labels, targets, unit, loss and metrics (one file each).

Registry :data:`TASKS` (discovered from this package): ``emotion``, ``sentiment``,
``multilabel``, ``dimensional`` and the dialogue-unit ``dialogue_emotion``. The contract is
:class:`~affectkit.tasks.base.Task`.
"""

from affectkit.tasks.base import (LABEL_READERS, LOWER_IS_BETTER, TASKS, Task, ccc_torch,
                                  make_task, read_label)

__all__ = ["LABEL_READERS", "LOWER_IS_BETTER", "TASKS", "Task", "ccc_torch", "make_task",
           "read_label"]
