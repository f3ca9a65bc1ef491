"""How many trio tasks are alive: what a test compares to find tasks left behind."""

from __future__ import annotations

import trio


def live_tasks() -> int:
    """Every task under the run's root task, the root included."""
    count, pending = 0, [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is not None:
            count += 1
            pending.extend(child for n in task.child_nurseries for child in n.child_tasks)
    return count
