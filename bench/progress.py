"""A terminal progress bar (no dependency): rate and ETA, redrawn in place."""

from __future__ import annotations

import sys
import time


class Bar:
    def __init__(self, label: str, total: int, width: int = 30) -> None:
        self.label, self.total, self.width = label, max(1, total), width
        self.count = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self.tty = sys.stdout.isatty()

    def advance(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if now - self._last_draw >= (0.2 if self.tty else 5.0):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(1.0, self.count / self.total)
        elapsed = now - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate else 0.0
        filled = int(frac * self.width)
        line = (f"  {self.label:9} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{frac * 100:5.1f}% {self.count:,}/{self.total:,} "
                f"{rate:,.0f}/s eta {eta:4.0f}s")
        end = "\r" if self.tty else "\n"
        sys.stdout.write(line + end)
        sys.stdout.flush()

    def done(self) -> None:
        self._draw(time.monotonic())
        if self.tty:
            sys.stdout.write("\n")
        sys.stdout.flush()
