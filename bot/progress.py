"""Progress on a terminal for long work; silent when stderr is not a terminal."""
from __future__ import annotations

import sys


class Progress:
    def __init__(self, total: int, label: str, stream=None):
        self.total, self.label, self.n = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, what: str = "") -> None:
        self.n += 1
        if self.enabled:
            self.stream.write(f"\r\x1b[2K{self.label} {self.n}/{self.total} {what[:50]}")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
