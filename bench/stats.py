"""Timing helpers: percentiles, a result record, and cProfile dumps for missed targets."""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path

PROFILES = Path(__file__).resolve().parent / "profiles"
PREFIX = {"backend": "sqlite"}  # set by the runner: profiles are per backend


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(ms), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
        "mean": round(statistics.fmean(ms), 3),
    }


def timed(fn: Callable[[], object], samples: int, warmup: int = 3) -> list[float]:
    """Run fn ``samples`` times (after warm-up) and return wall times in milliseconds."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def result(value: float | None, unit: str, target: float | None, *, samples: int,
           better: str = "lower", measure: str = "p50", **extra) -> dict:
    """One scenario's JSON record; ``met`` is None when there is no value yet."""
    if value is None or target is None:
        met = None
    elif better == "lower":
        met = value <= target
    else:
        met = value >= target
    record = {"value": None if value is None else round(value, 3), "unit": unit,
              "target": target, "met": met, "samples": samples, "measure": measure}
    record.update(extra)
    return record


def profile(name: str, fn: Callable[[], object], repeat: int = 20) -> str:
    """cProfile ``fn`` and write bench/profiles/<name>.prof and a top-30 text summary."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX['backend']}-{name}"
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeat):
        fn()
    prof.disable()
    prof.dump_stats(PROFILES / f"{name}.prof")
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(30)
    path = PROFILES / f"{name}.txt"
    path.write_text(text.getvalue())
    return str(path.relative_to(PROFILES.parent.parent))


class SqlTimer:
    """Time spent inside the database driver (cursor.execute), per call of the measured code."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.engine, self.event = engine, event
        self.total = 0.0

    def _before(self, conn, *_args) -> None:
        conn.info["bench_t"] = time.perf_counter()

    def _after(self, conn, *_args) -> None:
        self.total += (time.perf_counter() - conn.info.pop("bench_t", time.perf_counter())) * 1000

    def __enter__(self) -> SqlTimer:
        self.event.listen(self.engine, "before_cursor_execute", self._before)
        self.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        self.event.remove(self.engine, "before_cursor_execute", self._before)
        self.event.remove(self.engine, "after_cursor_execute", self._after)
