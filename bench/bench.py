#!/usr/bin/env python3
"""tagpurge benchmarks against its peers (run through bench/run.sh).

    bench.py --tagpurge BIN --loadgen BIN --node-dir DIR --out DIR [--smoke]

Starts its own PostgreSQL, MariaDB, origin and 4 Varnish nodes
(tests/harness/services.py), measures figures 1-5 (bench/README.md says what
each one is), writes OUT/results.json, OUT/results.md and OUT/*.png, and stops
every server it started. Exit 0 when every figure was measured, 1 when some
measurement failed (results.md says which and why), 2 usage.
"""
import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import purging
import report
import throughput
from benchlib import HERE, BenchError, log, services
from sources import MySource, PgSource


@dataclass(frozen=True)
class Sizes:
    rows: int           # row changes in the throughput stream
    per_txn: int        # rows per transaction in that stream
    reps: int           # throughput repetitions per consumer (median reported)
    lat_s: float        # seconds per latency run
    rates: tuple        # commit rates (txn/s)
    fan_tags: int       # fan-out backlog (tags = requests per node)
    wrk_s: float        # seconds per wrk run
    hot_txns: int       # transactions per coalescing run
    big_rows: int       # rows of the big transaction


FULL = Sizes(rows=1_000_000, per_txn=10, reps=3, lat_s=10.0, rates=(100, 1000, 5000),
             fan_tags=50_000, wrk_s=5.0, hot_txns=1000, big_rows=1_000_000)
SMOKE = Sizes(rows=20_000, per_txn=10, reps=1, lat_s=1.0, rates=(100, 1000, 5000),
              fan_tags=2_000, wrk_s=1.0, hot_txns=300, big_rows=20_000)
GOAL_RATE = 1000    # the latency goal's rate: also measured with coalesce_ms 0
FIGURES = ("throughput", "latency", "fanout", "coalescing", "footprint")
BURST = 1_000_000   # "rate" of a coalescing run without pacing (4 connections back to back)


class Bench:
    def __init__(self, args):
        self.sizes = SMOKE if args.smoke else FULL
        self.smoke = args.smoke
        self.tp_bin = Path(args.tagpurge).resolve()
        self.lg_bin = Path(args.loadgen).resolve()
        self.node_dir = Path(args.node_dir).resolve()
        self.out = Path(args.out).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="tp-bench."))
        self.keep_work = args.keep_work
        self.env = None
        self.results = {"errors": {}}

    def start(self):
        t0 = time.monotonic()
        root = services.make_root()
        self.env = services.start_all(root, n_varnish=4, mariadb=True)
        for v in self.env.varnish:
            # Whole xkey-purge headers in the log (default records stop at 255 bytes).
            v.adm("param.set", "vsl_reclen", "8192")
        self.pg, self.my = PgSource(self.env), MySource(self.env)
        self.pg.setup((HERE / "sql" / "pg.sql").read_text())
        self.my.setup((HERE / "sql" / "mariadb.sql").read_text())
        for script in (HERE / "consumers").glob("*.mjs"):
            shutil.copy(script, self.node_dir / script.name)
        log(f"servers up in {time.monotonic() - t0:.1f} s ({root})")

    def stop(self):
        if self.env is not None:
            services.stop_all(self.env, remove_root=True)
        if self.keep_work:
            log(f"work folder kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def section(self, key, fn):
        """Run one measurement; a failure is recorded and the others go on."""
        try:
            self.results.setdefault(key, []).append(fn())
        except (BenchError, services.ServiceError, OSError) as e:
            log(f"{key}: FAILED: {e}")
            self.results["errors"].setdefault(key, []).append(str(e))
        except Exception as e:  # pylint: disable=broad-except
            traceback.print_exc()
            self.results["errors"].setdefault(key, []).append(f"{type(e).__name__}: {e}")

    def run(self, only):
        s, run = self.sizes, purging.Runner(self)
        srcs = (self.pg, self.my)
        if "throughput" in only:
            for src in srcs:
                self.section("throughput", lambda src=src: throughput.measure(self, src))
        if "footprint" in only:
            self.section("idle", lambda: purging.footprint_idle(run, srcs))
        if "latency" in only:
            for src in srcs:
                for n in (1, 4):
                    for rate in s.rates:
                        self.section("latency", lambda src=src, n=n, rate=rate:
                                     purging.latency(run, src, n, rate, s.lat_s))
                self.section("latency", lambda src=src: purging.latency(
                    run, src, 4, GOAL_RATE, s.lat_s, coalesce_ms=0))
        if "fanout" in only:
            self.section("fanout", lambda: purging.fanout(run, self.pg, s.fan_tags, s.wrk_s))
        if "coalescing" in only:
            for src in srcs:
                for rate in s.rates + (BURST,):
                    self.section("coalescing", lambda src=src, rate=rate:
                                 purging.coalescing(run, src, rate, s.hot_txns))
        if "footprint" in only:
            for src in srcs:
                self.section("big", lambda src=src: purging.footprint_big(run, src, s.big_rows))

def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tagpurge", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--node-dir", required=True, help="folder with the npm peers installed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="small sizes (< 2 minutes)")
    ap.add_argument("--command", default="bash bench/run.sh", help="shown in results.md")
    ap.add_argument("--only", default=",".join(FIGURES),
                    help=f"comma-separated subset of {','.join(FIGURES)} (development)")
    ap.add_argument("--keep-work", action="store_true",
                    help="keep the temp folder with every run's config, logs and Varnish logs")
    args = ap.parse_args(argv)
    # SIGTERM (ctest's timeout, kill) unwinds like ^C: every server gets stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    b = Bench(args)
    t0 = time.monotonic()
    b.results.update(mode="smoke" if args.smoke else "full", sizes=asdict(b.sizes),
                     command=args.command,
                     machine=report.machine(b.tp_bin, b.node_dir))
    try:
        b.start()
        b.run(args.only.split(","))
    except (BenchError, services.ServiceError) as e:
        log(f"FAILED: {e}")
        b.results["errors"].setdefault("setup", []).append(str(e))
    finally:
        b.stop()
    b.results["wall_s"] = time.monotonic() - t0
    b.results["machine"]["load_after"] = report.loadavg()
    b.out.mkdir(parents=True, exist_ok=True)
    (b.out / "results.json").write_text(json.dumps(b.results, indent=1) + "\n")
    report.write(b.results, b.out)
    log(f"done in {b.results['wall_s']:.0f} s: {b.out / 'results.md'}")
    return 1 if b.results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
