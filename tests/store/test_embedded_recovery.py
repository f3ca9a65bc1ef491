"""Starting the embedded PostgreSQL again after its postmaster was killed (``kill -9``).

The dead postmaster leaves its lock files, stays a zombie until its parent reaps it, and its
children hold its shared memory until they notice and exit; a start must get past all three
and never start a second server while any of them still runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import trio

from robolearn.store import EmbeddedPostgres, PostgresSupervisor
from robolearn.store._embedded import PostmasterRecord, StalePostgresBusy
from robolearn.store._supervisor import EmbeddedPostmaster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="zombies and pidfds as Linux has them"),
]

# Becomes the "child subreaper" of what it starts: pg_ctl's postmaster, orphaned when pg_ctl
# exits, is then its child rather than PID 1's, and it never reaps it, so a killed
# postmaster stays a zombie for as long as this runs (PID 1 reaps one within a second or two
# here, too soon to test with).
_KEEPER = """
import ctypes, sys
from pathlib import Path
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
from robolearn.store import EmbeddedPostgres
print(EmbeddedPostgres.start(Path(sys.argv[1])).pid, flush=True)
sys.stdin.read()
"""


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll a state of other processes (nothing to wait on) until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.01)


def _status(pid: int) -> str:
    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"


def _answers(server: EmbeddedPostgres) -> bool:
    with psycopg.connect(server.uri, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """Outside pytest's basetemp: another pytest session starting meanwhile makes that 0700
    again, and the server (run as another user when we are root) could no longer enter it."""
    path = Path(tempfile.mkdtemp(prefix="robolearn-test-recovery-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stopper(pg_dir: Path) -> Iterator[list[EmbeddedPostgres]]:
    """Servers a test started; stopped at its end (before ``pg_dir`` goes)."""
    started: list[EmbeddedPostgres] = []
    yield started
    for server in started:
        server.stop()


def test_a_killed_postmaster_left_as_a_zombie_is_replaced(
    pg_dir: Path, stopper: list[EmbeddedPostgres]
) -> None:
    keeper = subprocess.Popen(
        [sys.executable, "-c", _KEEPER, str(pg_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert keeper.stdout is not None
        dead = int(keeper.stdout.readline())
        os.kill(dead, signal.SIGKILL)
        _wait(lambda: _status(dead) == psutil.STATUS_ZOMBIE, 10, "the postmaster to be a zombie")
        record = PostmasterRecord.read(pg_dir / "pgdata")
        assert record is not None and record.pid == dead  # its lock file is still there
        _wait(lambda: not record.attached(), 10, "its children to let go of shared memory")

        server = EmbeddedPostgres.start(pg_dir)
        stopper.append(server)
        # The library alone takes the zombie for a running server and "reuses" it.
        assert server.pid != dead
        assert not server.adopted
        assert _status(dead) == psutil.STATUS_ZOMBIE  # still unreaped: it was not waited for
        assert _answers(server)
    finally:
        keeper.communicate("", timeout=30)  # exits; its zombie goes to PID 1


def test_no_start_while_the_dead_servers_processes_hold_its_memory(
    pg_dir: Path, stopper: list[EmbeddedPostgres]
) -> None:
    first = EmbeddedPostgres.start(pg_dir)
    stopper.append(first)
    postmaster = psutil.Process(first.pid)
    # A stopped child cannot notice its parent's death, so it stays attached.
    child = next(c for c in postmaster.children() if "checkpointer" in " ".join(c.cmdline()))
    child.suspend()
    try:
        postmaster.kill()
        _wait(lambda: _status(first.pid) in ("zombie", "gone"), 10, "the postmaster to die")
        with pytest.raises(StalePostgresBusy, match="attached to its shared memory"):
            EmbeddedPostgres.start(pg_dir)
        record = PostmasterRecord.read(pg_dir / "pgdata")
        assert record is not None and record.pid == first.pid  # nothing was removed
    finally:
        child.resume()
    _wait(lambda: not record.attached(), 10, "the child to exit")

    again = EmbeddedPostgres.start(pg_dir)
    stopper.append(again)
    assert again.pid != first.pid and not again.adopted
    assert _answers(again)


def test_a_running_server_is_adopted_not_started_twice(
    pg_dir: Path, stopper: list[EmbeddedPostgres]
) -> None:
    first = EmbeddedPostgres.start(pg_dir)
    stopper.append(first)
    second = EmbeddedPostgres.start(pg_dir)
    assert second.adopted and second.pid == first.pid
    assert second.uri == first.uri


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
async def test_two_supervisors_of_one_data_dir_start_one_server(
    pg_dir: Path, stopper: list[EmbeddedPostgres], monkeypatch: pytest.MonkeyPatch, pidfd: bool
) -> None:
    """Two processes sharing a data dir (here two supervisors in one) both see the death;
    one starts the server again, the other finds it running and adopts it."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open")  # as on a system without pidfds
    server = await trio.to_thread.run_sync(EmbeddedPostgres.start, pg_dir)
    stopper.append(server)
    supervisors = [PostgresSupervisor(), PostgresSupervisor()]
    done = [trio.Event(), trio.Event()]
    async with trio.open_nursery() as nursery:
        for supervisor, event in zip(supervisors, done, strict=True):

            async def on_restart(event: trio.Event = event) -> None:
                event.set()

            await nursery.start(supervisor.run, EmbeddedPostmaster(pg_dir), server.pid, on_restart)
        os.kill(server.pid, signal.SIGKILL)
        with trio.fail_after(30):
            for event in done:
                await event.wait()
        nursery.cancel_scope.cancel()

    stats = [supervisor.statistics() for supervisor in supervisors]
    assert sorted((s.restarts, s.adoptions) for s in stats) == [(0, 1), (1, 0)]
    record = PostmasterRecord.read(pg_dir / "pgdata")
    assert record is not None and record.running()
    assert stats[0].pid == stats[1].pid == record.pid != server.pid
    postmasters = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres"
        and "-D" in (p.info["cmdline"] or [])
        and str(pg_dir) in " ".join(p.info["cmdline"])
    ]
    assert [p.pid for p in postmasters] == [record.pid]
