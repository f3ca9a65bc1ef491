"""A plain-text progress bar for long CLI steps (ingest), without a dependency."""

from __future__ import annotations

import threading
from typing import TextIO

import attrs

__all__ = ["TextProgress"]


@attrs.define(eq=False)
class TextProgress:
    """Draws ``label [#####.....] 12/65 current item`` on ``stream``.

    On a terminal the bar is redrawn in place; otherwise (logs, CI) a line is written at
    every tenth of the way, so a captured log stays short. Callable from any thread.
    """

    stream: TextIO
    label: str
    width: int = 30
    _last_tenth: int = attrs.field(default=-1, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def __call__(self, done: int, total: int, item: str) -> None:
        with self._lock:
            fraction = done / total if total else 1.0
            filled = round(self.width * fraction)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{self.label} [{bar}] {done}/{total} {item}"
            if self.stream.isatty():
                self.stream.write("\r\x1b[K" + line[:160])
                if done >= total:
                    self.stream.write("\n")
            elif (tenth := int(fraction * 10)) != self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(line + "\n")
            self.stream.flush()
