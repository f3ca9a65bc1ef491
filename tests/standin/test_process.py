"""The stand-in as a process: the listening line, the CLI, and no process left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from functools import partial

import httpx
import pytest
import trio

from robolearn.standin import (
    ConfigError,
    HangAfter,
    StandInConfig,
    connect_standin,
    open_standin,
    serve_standin,
)

from ._sse import hang_up_after


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_cli_prints_one_line_and_exits_cleanly_on_sigterm() -> None:
    argv = [sys.executable, "-m", "robolearn.standin", "--host", "127.0.0.1", "--port", "0"]
    async with trio.open_nursery() as nursery:
        # run_process kills the child if the test fails or is cancelled half-way.
        process: trio.Process = await nursery.start(
            partial(trio.run_process, argv, stdout=subprocess.PIPE, check=False)
        )
        assert process.stdout is not None
        async with process.stdout:
            out = b""
            with trio.fail_after(30):
                while b"\n" not in out:
                    chunk = await process.stdout.receive_some()
                    assert chunk, "the stand-in exited before listening"
                    out += chunk
            process.terminate()
            with trio.fail_after(10):
                while chunk := await process.stdout.receive_some():
                    out += chunk
                assert await process.wait() == 0
    assert re.fullmatch(rb"standin listening on http://127\.0\.0\.1:\d+\n", out), out


async def test_cli_flags_become_the_start_config() -> None:
    async with open_standin(tokens=3, delay_ms=0, tool_calls="always", usage="always") as s:
        assert await s.configure() == StandInConfig(
            tokens=3, delay_ms=0, tool_calls="always", usage="always"
        )
        await s.configure(tokens=9)
        await s.reset()
        assert (await s.configure()).tokens == 3


async def test_cli_refuses_a_bad_setting() -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "robolearn.standin", "--tokens", "0"],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert result.returncode == 2
    assert b"tokens must be an int >= 1" in result.stderr
    assert result.stdout == b""
    with pytest.raises(ConfigError, match="delay_ms"):
        async with open_standin(delay_ms=-1):
            pass  # pragma: no cover


async def test_process_is_gone_after_the_block() -> None:
    async with open_standin() as standin:
        pid = standin.pid
        assert pid is not None
        assert not gone(pid)
    assert gone(pid)


async def test_process_is_gone_after_an_error_or_a_cancel() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with open_standin() as standin:
            failed = standin.pid
            raise RuntimeError("boom")
    with trio.CancelScope() as scope:
        async with open_standin() as standin:
            cancelled = standin.pid
            scope.cancel()
            await trio.sleep_forever()
    assert failed is not None and gone(failed)
    assert cancelled is not None and gone(cancelled)


async def test_a_hung_stream_does_not_hold_up_the_stop() -> None:
    async with open_standin(delay_ms=0) as standin:
        await standin.inject(HangAfter(1))
        body = {"input": "hi", "stream": True}
        async with trio.open_nursery() as nursery:
            # Hold the hung stream open (never hang up) while the stand-in stops.
            nursery.start_soon(hang_up_after, f"{standin.base_url}/responses", body, 10**6)
            await standin.wait_requests(1)
            before = time.monotonic()
            pid = standin.pid
            nursery.cancel_scope.cancel()
    assert pid is not None and gone(pid)
    assert time.monotonic() - before < 5


async def test_serve_in_the_calling_trio_loop() -> None:
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_standin, StandInConfig(tokens=2, delay_ms=0))
        async with connect_standin(url) as standin:
            assert standin.pid is None
            async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
                response = await http.post("/responses", json={"input": "hi"})
            assert response.json()["output"][0]["content"][0]["text"] == "answer to: hi t1"
            assert [r.path for r in await standin.requests()] == ["/v1/responses"]
        nursery.cancel_scope.cancel()
