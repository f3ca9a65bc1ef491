"""``robolearn serve --workers N``: a supervisor process and N worker processes.

The supervisor (`serve_workers`) binds the listening sockets once, starts and migrates the
database once, and keeps N workers running (`WorkerSupervisor`); each worker (`run_worker`) is
a whole single-process server on the inherited sockets. ``docs/scaling.md`` has the design.
"""

from ._serve import serve_workers
from ._supervisor import RestartPolicy, WorkerStatistics, WorkerSupervisor
from ._worker import READY, WorkerSpec, run_worker

__all__ = [
    "READY",
    "RestartPolicy",
    "WorkerSpec",
    "WorkerStatistics",
    "WorkerSupervisor",
    "run_worker",
    "serve_workers",
]
