"""The benchmark baseline still starts: it imports robolearn modules on plain asyncio."""

from __future__ import annotations

import subprocess
import sys

from robolearn.bench._process import BASELINE_SCRIPT


def test_the_baseline_imports_with_its_asyncio_only_bridge() -> None:
    # Its own process: the baseline must never see trio_asyncio, which this one has imported.
    result = subprocess.run(
        [sys.executable, str(BASELINE_SCRIPT), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--variant" in result.stdout
