"""``python -m bench run``: build the data set, start the app, run every scenario, write results.

Options:
  --scaleout        also run on PostgreSQL (+ Redis for the app's state manager), beside SQLite
  --scaleout-only   only the scale-out half (for iterating; combine with --only and --out)
  --only NAMES      comma-separated scenario names (default: all)
  --quick           fewer samples (a smoke run; results are marked quick)
  --frontend        serve the built frontend (``reflex run --env prod --single-port``) so the
                    browser scenario can run; otherwise the production backend alone (Granian,
                    one worker) serves the protocol-level scenarios
  --reseed          rebuild the cached data set
  --messages N      data set size (default 1,000,000)
  --pg-url URL      server for --scaleout (default postgresql://postgres@127.0.0.1:5432/test;
                    the bench creates its own database ``care_bench_v<KEY>_<n>`` there)
  --redis-url URL   default redis://127.0.0.1:6379/12, a database of the bench's own: it is
                    emptied before each server starts (bench/server.py: empty_redis)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
QUERY = ("conversation_list_query", "unread_and_stats", "search", "thread_first_page")
LIVE = ("harness_check", "memory", "delivery_latency", "sustained_sends", "login_storm",
        "cpu_per_message", "browser_delivery", "browser_list_load", "browser_thread_open")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("command", choices=["run", "seed"])
    parser.add_argument("--scaleout", action="store_true")
    # While working on the scale-out path: its scenarios alone (results are partial).
    parser.add_argument("--scaleout-only", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frontend", action="store_true")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--out", default=str(BENCH / "results.json"))
    return parser.parse_args(argv)


def _wanted(args, name: str) -> bool:
    return not args.only or name in args.only.split(",")


def _run_copy(plan, dataset) -> str:
    """A per-run copy of the cached SQLite file, so scenarios never change the cache."""
    run_db = dataset.DATA_DIR / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{run_db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(plan.path, run_db)
    return f"sqlite:///{run_db}"


def _database(args, backend: str, *, reseed: bool = False):
    """The data set for ``backend`` (built or cached), the URL of a database holding it (a
    fresh copy on SQLite) and Redis (scale-out); the bench process's own settings point at
    them from here on (the scenarios' helpers write through the app's services)."""
    from bench import dataset

    os.environ.setdefault("CARE_ENV", "test")
    messages = args.messages or dataset.MESSAGES
    if backend == "sqlite":
        plan = dataset.build(messages=messages, force=reseed)
        url = _run_copy(plan, dataset)
        redis_url = None
    else:
        pg_db = f"care_bench_v{dataset.SCHEMA_VERSION.replace('-', '_')}_{messages}"
        url = args.pg_url.rsplit("/", 1)[0] + f"/{pg_db}"
        plan = dataset.build(messages=messages, scaleout_url=url, force=reseed)
        redis_url = args.redis_url
    dataset._set_env(url, plan.key_text, dataset.DATA_DIR)
    from bench.stats import PREFIX

    PREFIX["backend"] = backend
    return plan, url, redis_url


def _suite(args, backend: str) -> dict:
    plan, url, redis_url = _database(args, backend, reseed=args.reseed)
    results: dict[str, dict] = {}
    from bench import scenarios_query

    print(f"[{backend}] query scenarios", flush=True)
    for name, rec in scenarios_query.run_all(plan, quick=args.quick,
                                             only=[n for n in QUERY if _wanted(args, n)]).items():
        results[name] = rec
    live = [n for n in LIVE if _wanted(args, n)]
    if live:
        results.update(_live(args, plan, url, redis_url, live, backend))
    return {"database": url.split("@")[-1], "redis": redis_url, "plan": {
        "messages": plan.messages, "visible_conversations": plan.conversations_visible,
        "big_thread_conversation_id": plan.big_conversation_id,
        "provider": plan.provider_email}, "scenarios": results}


def _live(args, plan, url, redis_url, names, backend) -> dict[str, dict]:
    """SQLite: one server (the production single-port app with --frontend). Scale-out: the
    protocol scenarios on two backend workers sharing PostgreSQL + Redis; the browser
    scenarios on the single-port app (one process) against the same PostgreSQL + Redis."""
    out: dict[str, dict] = {}
    if "cpu_per_message" in names:
        names = [n for n in names if n != "cpu_per_message"]
        out["cpu_per_message"] = _cpu_per_message(args, plan, url, redis_url, backend)
    if backend == "sqlite":
        out.update(_live_on(args, plan, url, redis_url, names, backend, args.frontend, 1))
        return out
    browser = [n for n in names if n.startswith("browser_")]
    protocol = [n for n in names if n not in browser]
    if protocol:
        out.update(_live_on(args, plan, url, redis_url, protocol, backend, False, 2))
    if browser:
        out.update(_live_on(args, plan, url, redis_url, browser, backend, args.frontend, 1))
    return out


# Scaled out, the 1-, 2- and 4-worker runs are interleaved in this many rounds: run one after
# the other, a VM slowing down during the suite (seen: SQLite's own figure 5.5 -> 7.0 ms within
# ten minutes) made the later, larger worker counts look like contention.
WORKER_ROUNDS = 2


def _cpu_per_message(args, plan, url, redis_url, backend) -> dict:
    """Server CPU per delivered message: one worker on SQLite; 1, 2 and 4 workers scaled out
    (more workers must add capacity, not contention), interleaved in ``WORKER_ROUNDS`` rounds.
    The value is the 1-worker SQLite figure or the 2-worker scale-out one (the scale-out setup
    of the other scenarios), the mean of its rounds."""
    counts = (1,) if backend == "sqlite" else (1, 2, 4)
    rounds = 1 if backend == "sqlite" else WORKER_ROUNDS
    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for _ in range(rounds):
        for workers in counts:
            runs[workers].append(_live_on(args, plan, url, redis_url, ["cpu_per_message"],
                                          backend, False, workers)["cpu_per_message"])

    def mean(recs: list[dict]) -> float | None:
        values = [r["value"] for r in recs if r.get("value") is not None]
        return round(sum(values) / len(values), 2) if values else None

    main = runs[1 if backend == "sqlite" else 2]
    rec = dict(main[0])
    rec["value"] = mean(main)
    if backend != "sqlite":
        rec["by_workers"] = {str(w): {"value": mean(r), "runs": [x.get("value") for x in r],
                                      "lost": sum(x.get("lost") or 0 for x in r),
                                      "server_cpu_pct": [x.get("server_cpu_pct") for x in r]}
                             for w, r in runs.items()}
        per = " / ".join(str(v["value"]) for v in rec["by_workers"].values())
        rec["note"] = (f"{rec.get('note', '')}; {per} ms at 1 / 2 / 4 workers (interleaved in "
                       f"{rounds} rounds, the mean of each)")
    return rec


def _live_on(args, plan, url, redis_url, names, backend, frontend: bool,
             workers: int) -> dict[str, dict]:
    from bench import dataset, hooks, scenario_login_storm, scenarios_live
    from bench.server import Server

    hooks.preload()

    kind = "full single-port app" if frontend else f"backend, {workers} worker(s)"
    print(f"[{backend}] starting the app ({kind})", flush=True)
    server = Server(database_url=url, key_text=plan.key_text, data_dir=dataset.DATA_DIR,
                    frontend=frontend, redis_url=redis_url, workers=workers)
    t = time.monotonic()
    server.start()
    print(f"  up in {time.monotonic() - t:.1f}s at {server.base_url}", flush=True)
    out: dict[str, dict] = {}
    quick = args.quick
    try:
        steps = {
            "harness_check": lambda: scenarios_live.harness_check(
                server.base_url, plan, 10 if quick else 50),
            "memory": lambda: scenarios_live.memory(server, plan, 100 if quick else 500),
            "delivery_latency": lambda: scenarios_live.delivery_latency(
                server.base_url, plan, 60 if quick else 300),
            "sustained_sends": lambda: scenarios_live.sustained(server.base_url, plan,
                                                                server=server),
            "login_storm": lambda: scenario_login_storm.login_storm(
                server.base_url, plan, 8.0 if quick else 20.0, server=server),
            "cpu_per_message": lambda: scenarios_live.cpu_per_message(
                server.base_url, plan, server, seconds=3.0 if quick else 6.0),
        }
        for name in names:
            print(f"  scenario {name} ...", flush=True)
            try:
                rec = _one_live(name, steps, args, plan, url, redis_url, server, frontend)
                if backend != "sqlite":
                    rec["server"] = kind
            except Exception as exc:  # a broken scenario is reported, not fatal
                from bench.stats import result

                rec = result(None, "", None, samples=0, error=f"{type(exc).__name__}: {exc}")
                rec["met"] = False
            out[name] = rec
            print(f"    {rec.get('measure', 'p50')} = {rec['value']} {rec['unit']} "
                  f"(target {rec['target']}) met={rec['met']} {rec.get('note', '')}", flush=True)
    finally:
        server.stop()
    return out


def _one_live(name, steps, args, plan, url, redis_url, server, frontend: bool) -> dict:
    from bench import scenarios_live

    quick = args.quick
    base = server.base_url if frontend else None
    if name == "memory":
        rec = asyncio.run(steps[name]())
        rec["transport_only"] = _bare_memory(args, plan, url, redis_url, quick)
        rec["note"] += f"; bare sockets without state: {rec['transport_only']} KB/session"
        return rec
    if name == "browser_list_load":
        return scenarios_live.browser_list_load(base, plan)
    if name == "browser_thread_open":
        return scenarios_live.browser_thread_open(base, plan)
    if name == "browser_delivery":
        return scenarios_live.browser_delivery(base, plan, 10 if quick else 50)
    return asyncio.run(steps[name]())


def _bare_memory(args, plan, url, redis_url, quick) -> float | None:
    """Memory per socket without a state tree, on a fresh server (RSS never shrinks back)."""
    from bench import dataset, scenarios_live
    from bench.server import Server

    server = Server(database_url=url, key_text=plan.key_text, data_dir=dataset.DATA_DIR,
                    redis_url=redis_url)
    try:
        server.start()
        rec = asyncio.run(scenarios_live.memory(server, plan, 100 if quick else 500,
                                                hydrate=False))
        return rec["value"]
    except Exception as exc:
        print(f"    bare-socket memory failed: {exc}")
        return None
    finally:
        server.stop()


# Where a missed live target is explained (query scenarios write their own cProfile).
EXPLAINED_IN = {
    "memory": "bench/profiles/memory.md",
    "delivery_latency": "bench/profiles/delivery.md",
    "sustained_sends": "bench/profiles/delivery.md",
    "login_storm": "bench/profiles/delivery.md",
    "browser_delivery": "bench/profiles/browser.md",
    "browser_list_load": "bench/profiles/browser.md",
    "browser_thread_open": "bench/profiles/browser.md",
}
# The scale-out path's own profile (PostgreSQL + Redis, several workers).
EXPLAINED_IN_SCALEOUT = {
    "delivery_latency": "bench/profiles/scaleout.md",
    "sustained_sends": "bench/profiles/scaleout.md",
    "cpu_per_message": "bench/profiles/scaleout.md",
    "login_storm": "bench/profiles/loop.md",
}


def attach_profiles(doc: dict) -> None:
    """Every missed scenario names the profile that shows why."""
    for backend in ("sqlite", "scaleout"):
        explained = {**EXPLAINED_IN, **(EXPLAINED_IN_SCALEOUT if backend == "scaleout" else {})}
        for name, rec in doc.get(backend, {}).get("scenarios", {}).items():
            if rec.get("met") is False and not rec.get("profile") and name in explained:
                rec["profile"] = explained[name]


def cpu_probe_seconds() -> float:
    """Seconds for a fixed pure-Python loop (best of three): this shared VM's speed moves by up
    to ~60% from minute to minute, so each run records it at its start and end, and figures
    from different runs can be compared."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def _meta(args) -> dict:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH.parent,
                         capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "git": rev,
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load], "quick": args.quick,
            "cpu_probe_seconds_at_start": cpu_probe_seconds(),
            "note": "client-side wall times; medians and tail percentiles over the samples"}


def write_markdown(doc: dict, path: Path) -> None:
    lines = ["# Care Messaging bench results", "",
             f"Run {doc['meta']['when']} at {doc['meta']['git']}, {doc['meta']['cpus']} CPUs, "
             f"load average at start {doc['meta']['loadavg_at_start']}, CPU probe (3M-step "
             f"Python loop) {doc['meta'].get('cpu_probe_seconds_at_start')} s at start and "
             f"{doc['meta'].get('cpu_probe_seconds_at_end')} s at the end"
             + (" (QUICK run: few samples)" if doc["meta"]["quick"] else "") + ".", ""]
    backends = [b for b in ("sqlite", "scaleout") if b in doc]
    header = "| scenario | " + " | ".join(
        f"{b} value | {b} met" for b in backends) + " | target | samples | notes |"
    lines += [header, "|" + "---|" * (4 + 2 * len(backends))]
    names = []
    for b in backends:
        names += [n for n in doc[b]["scenarios"] if n not in names]
    for name in names:
        cells, target, samples, notes = [], "", "", []
        for b in backends:
            rec = doc[b]["scenarios"].get(name)
            if rec is None:
                cells += ["-", "-"]
                continue
            value = "-" if rec["value"] is None else f"{rec['value']} {rec['unit']}"
            if rec.get("measure") and rec["value"] is not None:
                value += f" ({rec['measure']}"
                if "p99" in rec and rec.get("measure") != "p99":
                    value += f", p99 {rec['p99']}"
                value += ")"
            met = {True: "yes", False: "**NO**", None: "pending"}[rec["met"]]
            cells += [value, met]
            target = f"{rec['target']} {rec['unit']}" if rec["target"] is not None else "-"
            samples = str(rec["samples"])
            for key in ("note", "profile", "error"):
                text = str(rec.get(key) or "")
                if key == "note" and text and any(n.split(";")[0] == text.split(";")[0]
                                                  for n in notes):
                    text = f"{b}: " + "; ".join(text.split("; ")[1:]) if ";" in text else ""
                if text and text not in notes:
                    notes.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {target} | {samples} | "
                     + "; ".join(notes) + " |")
    lines += ["", "Full numbers (p50/p95/p99/max, per-kind search timings, RSS before/after): "
              "`bench/results.json`.", ""]
    path.write_text("\n".join(lines))


def merge_into(previous: dict, doc: dict, only: str) -> dict:
    """An ``--only`` run updates its scenarios in the last full results and keeps the rest;
    its own meta goes into ``meta.partial_runs``."""
    for backend in ("sqlite", "scaleout"):
        if backend in doc and backend in previous:
            previous[backend]["scenarios"].update(doc[backend]["scenarios"])
        elif backend in doc:
            previous[backend] = doc[backend]
    previous["meta"].setdefault("partial_runs", []).append({**doc["meta"], "only": only})
    return previous


CPU_RATIO_TARGET = 1.3
CPU_RATIO_PAIRS = 3


def _paired_cpu(args) -> dict:
    """The CPU ratio measured in pairs: SQLite (one worker), then scale-out (two workers),
    ``CPU_RATIO_PAIRS`` times in a row. This VM's speed drifts by 20-40% over minutes (the
    same scale-out run gave 8.0 and 11.6 ms per message ten minutes apart), and the suites'
    own figures are taken minutes apart; each pair's runs are a minute apart, and the ratio
    is the pairs' median."""
    runs: dict[str, list[float | None]] = {"sqlite": [], "scaleout": []}
    for _ in range(CPU_RATIO_PAIRS):
        for backend, workers in (("sqlite", 1), ("scaleout", 2)):
            plan, url, redis_url = _database(args, backend)
            rec = _live_on(args, plan, url, redis_url, ["cpu_per_message"], backend, False,
                           workers)["cpu_per_message"]
            runs[backend].append(rec.get("value"))
    ratios = sorted(round(o / s, 2) for s, o in zip(runs["sqlite"], runs["scaleout"],
                                                    strict=True) if s and o)
    return {**runs, "ratios": ratios,
            "median_ratio": ratios[len(ratios) // 2] if ratios else None}


def _cpu_ratio(doc: dict, paired: dict | None = None) -> None:
    """Scale-out CPU per message against SQLite's (target <= 1.3x), when both ran: the
    median of the paired runs when there are some, else the two suites' own figures."""
    lite = doc.get("sqlite", {}).get("scenarios", {}).get("cpu_per_message", {})
    out = doc.get("scaleout", {}).get("scenarios", {}).get("cpu_per_message", {})
    if lite.get("value") and out.get("value"):
        ratio = round(out["value"] / lite["value"], 2)
        out.update(ratio_of_suite_runs=ratio, ratio_vs_sqlite=ratio)
        if paired and paired.get("median_ratio"):
            ratio = paired["median_ratio"]
            out.update(paired_runs=paired, ratio_vs_sqlite=ratio)
            out["note"] = (f"{out.get('note', '')}; {ratio}x SQLite: the median of "
                           f"{len(paired['ratios'])} paired runs {paired['ratios']} "
                           f"(these suites' own runs: {out['ratio_of_suite_runs']}x)")
        out.update(target=f"<= {CPU_RATIO_TARGET}x SQLite", met=ratio <= CPU_RATIO_TARGET)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    sys.path.insert(0, str(BENCH.parent))
    started = time.monotonic()
    if args.command == "seed":
        from bench import dataset

        os.environ.setdefault("CARE_ENV", "test")
        dataset.build(messages=args.messages or dataset.MESSAGES, force=args.reseed)
        return 0
    doc: dict = {"meta": _meta(args)}
    if not args.scaleout_only:
        doc["sqlite"] = _suite(args, "sqlite")
    if args.scaleout or args.scaleout_only:
        doc["scaleout"] = _suite(args, "scaleout")
    paired = None
    if "sqlite" in doc and "scaleout" in doc and _wanted(args, "cpu_per_message"):
        print("[both] CPU per message in pairs (SQLite, then scale-out)", flush=True)
        paired = _paired_cpu(args)
        print(f"    ratios {paired['ratios']} -> median {paired['median_ratio']}", flush=True)
    _cpu_ratio(doc, paired)
    doc["meta"]["duration_seconds"] = round(time.monotonic() - started, 1)
    doc["meta"]["cpu_probe_seconds_at_end"] = cpu_probe_seconds()
    attach_profiles(doc)
    out = Path(args.out)
    if args.only and out.exists():
        doc = merge_into(json.loads(out.read_text()), doc, args.only)
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    write_markdown(doc, out.with_suffix(".md"))
    print(f"wrote {out} and {out.with_suffix('.md')} in {doc['meta']['duration_seconds']}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
