"""Installing the library patches: one call, idempotent, version-checked, and an escape hatch
that runs every library (or the named patches) stock."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import chatkit.agents
import httpx
import pytest
import trio_asyncio
from hypercorn.trio.tcp_server import TCPServer

from robolearn import _aio
from robolearn._aio._merge import merge_in_step
from robolearn._aio._scheduler import CallbackQueue
from robolearn._patches import PATCH_NAMES, PatchError, Patches, install
from robolearn._patches import _core as core
from robolearn.bench import free_port, robolearn_server
from robolearn.config import ConfigError, Settings, declared_settings
from robolearn.workers import WorkerSpec

EVERY = Settings()


def _unpatched(*names: str) -> Settings:
    return attrs.evolve(EVERY, unpatched=frozenset(names))


@pytest.fixture
def reinstall(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every patch installed again afterwards, as the session has them (tests/conftest.py),
    once the test's monkeypatching is undone."""
    yield
    monkeypatch.undo()
    install(EVERY)


def _merge_is_patched() -> bool:
    return getattr(chatkit.agents._merge_generators, "__wrapped__", None) is merge_in_step


def _open_loop_is_patched() -> bool:
    return core.stock(trio_asyncio, "open_loop") is not trio_asyncio.open_loop


async def _loop_is_patched() -> tuple[bool, bool]:
    """(the callback queue is ours, call_soon is asyncio's own) in a loop opened now."""
    async with _aio.open_asyncio_loop():
        loop = asyncio.get_event_loop()
        ran: list[int] = []
        loop.call_soon(ran.append, 1)
        await trio_asyncio.aio_as_trio(asyncio.sleep)(0)
        assert ran == [1]  # either way, callbacks run
        return (
            type(loop._q_send) is CallbackQueue,  # type: ignore[attr-defined]
            "schedule_without_checks" in loop.call_soon.__qualname__,
        )


async def test_install_is_idempotent(reinstall: None) -> None:
    own_merge = core.stock(chatkit.agents, "_merge_generators")
    own_open_loop = core.stock(trio_asyncio, "open_loop")
    assert install(EVERY) == install(EVERY) == Patches(frozenset(PATCH_NAMES))
    # Installed once, not wrapped twice: the library's own is still one step away.
    assert _merge_is_patched()
    assert chatkit.agents._merge_generators.__robolearn_stock__ is own_merge  # type: ignore[attr-defined]
    assert own_merge.__module__ == "chatkit.agents"
    assert trio_asyncio.open_loop.__robolearn_stock__ is own_open_loop  # type: ignore[attr-defined]
    assert own_open_loop.__module__.startswith("trio_asyncio")
    assert await _loop_is_patched() == (True, True)


@pytest.mark.parametrize("hatch", ["1", "all"])
async def test_the_escape_hatch_runs_every_library_stock_and_checks_nothing(
    hatch: str, monkeypatch: pytest.MonkeyPatch, reinstall: None
) -> None:
    monkeypatch.setattr(core, "installed_version", lambda package: "99.0")
    assert install(_unpatched(hatch)) == Patches(frozenset())
    assert chatkit.agents._merge_generators is core.stock(chatkit.agents, "_merge_generators")
    assert chatkit.agents._merge_generators.__module__ == "chatkit.agents"
    assert not _open_loop_is_patched()
    assert await _loop_is_patched() == (False, False)


async def test_the_escape_hatch_can_leave_out_single_patches(reinstall: None) -> None:
    installed = install(_unpatched("merge", "scheduler"))
    assert "merge" not in installed and "scheduler" not in installed and "call-soon" in installed
    assert not _merge_is_patched()
    # call-soon without the callback queue: asyncio's scheduling onto trio-asyncio's channel.
    assert await _loop_is_patched() == (False, True)
    install(_unpatched("call-soon"))
    assert _merge_is_patched()
    assert await _loop_is_patched() == (True, False)


def test_an_unknown_patch_name_fails_naming_the_variable_and_the_known_ones() -> None:
    with pytest.raises(PatchError, match="ROBOLEARN_UNPATCHED names no patch 'mrege'") as error:
        install(_unpatched("mrege"))
    assert all(name in str(error.value) for name in PATCH_NAMES)


@pytest.mark.parametrize(
    ("package", "version", "verified", "patches"),
    [
        ("trio-asyncio", "0.17.0", ">=0.16,<0.17", "scheduler,call-soon"),
        ("openai-chatkit", "1.7.0", ">=1.6.5,<1.7", "merge"),
        ("openai-chatkit", "1.6.4", ">=1.6.5,<1.7", "merge"),
        ("hypercorn", "0.19.1", ">=0.18,<0.19", "worker"),
    ],
)
def test_a_version_outside_the_verified_range_fails_startup_naming_the_package(
    package: str,
    version: str,
    verified: str,
    patches: str,
    monkeypatch: pytest.MonkeyPatch,
    reinstall: None,
) -> None:
    real = core.installed_version
    monkeypatch.setattr(core, "installed_version", lambda p: version if p == package else real(p))
    with pytest.raises(PatchError) as error:
        install(EVERY)
    message = str(error.value)
    assert f"{package} {version} is installed" in message
    assert f"verified for {package}{verified}" in message
    assert f"ROBOLEARN_UNPATCHED={patches}" in message
    assert isinstance(error.value, ConfigError)  # `robolearn serve` exits 2 on it
    # Leaving that library's patches out is enough to start.
    install(_unpatched(*patches.split(",")))


def _defining(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


@pytest.mark.parametrize(
    ("owner", "name", "package"),
    [
        (_defining(trio_asyncio.TrioEventLoop, "_main_loop_one"), "_main_loop_one", "trio-asyncio"),
        (chatkit.agents, "_merge_generators", "openai-chatkit"),
        (TCPServer, "_read_data", "hypercorn"),
    ],
)
def test_a_missing_internal_fails_startup_like_a_version(
    owner: object, name: str, package: str, monkeypatch: pytest.MonkeyPatch, reinstall: None
) -> None:
    monkeypatch.delattr(owner, name)
    with pytest.raises(PatchError, match=f"{package} .* has no .*{name}.*ROBOLEARN_UNPATCHED="):
        install(EVERY)


def test_the_setting_reads_names_and_documents_every_patch() -> None:
    env = {"ROBOLEARN_UNPATCHED": " Merge, scheduler ,"}
    assert Settings.from_env(env).unpatched == {"merge", "scheduler"}
    assert Settings.from_env({"ROBOLEARN_UNPATCHED": "0"}).unpatched == frozenset()
    assert Settings.from_env({}).unpatched == frozenset()
    (doc,) = [d.doc for _, d in declared_settings() if d.env == "ROBOLEARN_UNPATCHED"]
    assert all(f"`{name}`" in doc for name in PATCH_NAMES)


# One fresh interpreter answers the three questions below that need one (importing the
# server in a process of its own takes seconds): first, whether importing the server patches
# anything; then, with every version reported as unverified, how `robolearn serve` and a
# worker of `serve --workers` end (each run's status and what it wrote to descriptor 2).
_FRESH_PROCESS = """
import json, os, sys, tempfile, traceback
import chatkit.agents, trio_asyncio
merge, open_loop = chatkit.agents._merge_generators, trio_asyncio.open_loop
import robolearn._patches, robolearn.serve, robolearn.http, robolearn.chat
report = {
    "import patches nothing": (
        chatkit.agents._merge_generators is merge and trio_asyncio.open_loop is open_loop
    ),
}
import robolearn._patches._core as core
core.installed_version = lambda package: "0.99.0"
from robolearn.__main__ import main
for name, argv in json.loads(sys.argv[2]).items():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
        except BaseException:
            traceback.print_exc()
            status = None
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        captured.seek(0)
        report[name] = {"status": status, "stderr": captured.read().decode(errors="replace")}
with open(sys.argv[1], "w") as out:
    json.dump(report, out)
"""


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # As `robolearn serve --workers` starts each worker; the control descriptor is never
    # reached: the check comes first.
    spec = WorkerSpec(name="worker-1", control=-1).encode()
    runs = {
        "serve": ["serve", "--bind", "127.0.0.1:0"],
        "worker": ["serve", "--worker", spec],
    }
    out = tmp_path_factory.mktemp("fresh-process") / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, str(out), json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_server_env(), "ROBOLEARN_AUTH": "dev"},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_importing_the_server_patches_nothing(fresh_process: dict[str, Any]) -> None:
    assert fresh_process["import patches nothing"] is True


def test_a_server_with_an_unverified_version_does_not_start(
    fresh_process: dict[str, Any],
) -> None:
    run = fresh_process["serve"]
    assert run["status"] == 2, run["stderr"]
    assert "configuration error: trio-asyncio 0.99.0 is installed" in run["stderr"]
    assert "ROBOLEARN_UNPATCHED=" in run["stderr"]


def _server_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "ROBOLEARN_UNPATCHED"}


def test_a_server_with_every_library_stock_still_streams_an_answer(
    database_url: str, tmp_path: Path
) -> None:
    server = robolearn_server(
        free_port(),
        tmp_path,
        {
            "DATABASE_URL": database_url,
            "ROBOLEARN_UNPATCHED": "1",
            "ROBOLEARN_SCRIPTED_TOKENS": "5",
            "ROBOLEARN_SCRIPTED_DELAY_MS": "1",
        },
    )
    server.start()
    try:
        body = {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "hello"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        }
        with (
            httpx.Client(base_url=server.base_url, timeout=30) as client,
            client.stream("POST", "/chatkit", json=body, headers={"X-User-ID": "u"}) as response,
        ):
            assert response.status_code == 200
            text = "".join(response.iter_text())
    finally:
        server.stop()
    events = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]
    answers = [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    ]
    assert [answer["content"][0]["text"] for answer in answers] == ["answer to: hello t1 t2 t3 t4"]
    log = server.log_path.read_text()
    assert "library patches left out (ROBOLEARN_UNPATCHED)" in log
    assert all(name in log for name in PATCH_NAMES)


async def test_trio_runs_the_patched_loop_after_the_hatch_was_undone(reinstall: None) -> None:
    # The fixture's install puts back what the hatch took away (so test order cannot leak).
    install(_unpatched("1"))
    install(EVERY)
    assert await _loop_is_patched() == (True, True)


def test_a_worker_with_an_unverified_version_exits_as_a_configuration_error(
    fresh_process: dict[str, Any],
) -> None:
    run = fresh_process["worker"]
    assert run["status"] == 2, run["stderr"]
    assert "configuration error: trio-asyncio 0.99.0 is installed" in run["stderr"]
    assert "Traceback" not in run["stderr"]
