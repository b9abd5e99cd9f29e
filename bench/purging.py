"""Figures 2-5: tagpurge purging real Varnish nodes.

2 latency: commit (the load generator's clock) -> the last node's response
  to a purge carrying the transaction's unique tag (Varnish's own log).
3 fan-out: a backlog sent one tag per request to 4 nodes, against wrk.
4 coalescing: requests that reach a node per 1 000 hot-tag transactions.
5 footprint: RSS idle, under load and through a 1 M-row transaction.
"""
import contextlib
import re
import subprocess
import time
from pathlib import Path

from benchlib import BenchError, Tagpurge, VarnishLog, log, percentile, pss_kb, varnish_requests
from sources import FAN_TAG, mapping, process_env

SETTLE_S = 0.5       # varnishlog attaches at the log's tail and polls it
WARM_TXNS = 20       # before measuring: every node connection is open
FAN_HEADER_BYTES = 64
# wrk refuses methods its HTTP parser does not know (PURGEKEYS): both send
# PURGE, which the shipped VCL treats like PURGEKEYS when xkey-purge is set.
FAN_METHOD = "PURGE"


class Runner:
    """Shared by the sections: id blocks, tagpurge and load generator runs."""

    def __init__(self, b):
        self.b = b
        self._block = 0

    def ids(self):
        """A fresh block of 10 M ids: every transaction of the run has its own tag."""
        self._block += 1
        return self._block * 10_000_000

    def nodes(self, n):
        return self.b.env.varnish[:n]

    @contextlib.contextmanager
    def running(self, srcs, nodes, tag, delivery=None, sink_extra=None, top=None):
        """tagpurge reading srcs and purging nodes (one xkey sink), streaming
        when the block starts, stopped (SIGTERM) when it ends."""
        srcs = list(srcs)
        sink = {"name": "edge", "type": "xkey",
                "nodes": [f"http://127.0.0.1:{v.port}" for v in nodes]}
        sink.update(sink_extra or {})
        maps = {}
        for s in srcs:
            maps.update(mapping(s.table))
        cfg = {"mapping": maps, "sources": [s.source_cfg() for s in srcs], "sinks": [sink]}
        if delivery:
            cfg["delivery"] = delivery
        cfg.update(top or {})
        tp = Tagpurge(self.b.tp_bin, self.b.work / tag, cfg, env=process_env(*srcs))
        try:
            tp.wait_streaming([s.name for s in srcs])
            yield tp
        finally:
            tp.stop()

    @contextlib.contextmanager
    def node_logs(self, nodes, tag):
        """(work folder, [VarnishLog]) recording every node during the block."""
        work = self.b.work / tag
        work.mkdir(parents=True, exist_ok=True)
        vlogs = [VarnishLog(v, work / f"node{i}.vsl") for i, v in enumerate(nodes)]
        time.sleep(SETTLE_S)
        try:
            yield work, vlogs
            time.sleep(SETTLE_S)
        finally:
            for v in vlogs:
                v.stop()

    def loadgen(self, src, sql, rate, count, first, out=None, cycle=None):
        """Run bench/loadgen; returns the achieved commit rate (txn/s)."""
        argv = [str(self.b.lg_bin)] + src.loadgen_args() + [
            "--sql", sql, "--rate", str(rate), "--count", str(count), "--first", str(first)]
        if out:
            argv += ["--out", str(out)]
        if cycle:
            argv += ["--cycle", str(cycle)]
        res = subprocess.run(argv, capture_output=True, text=True, env=process_env(src),
                             timeout=count / rate + 120, check=False)
        if res.returncode != 0:
            raise BenchError(f"loadgen exited {res.returncode}: {res.stderr[-500:]}")
        m = re.search(r"([\d.]+) txn/s", res.stdout)
        return float(m.group(1)) if m else float("nan")

    def warm(self, tp, src, table="lat"):
        """A few transactions through every node before the clock starts."""
        c0 = tp.source(src.name, "changes_total")
        self.loadgen(src, f"INSERT INTO {table} VALUES ({{id}})", 200, WARM_TXNS, self.ids())
        tp.wait_changes(src.name, c0 + WARM_TXNS, 30)


# --------------------------------------------------------------------------
# 2. latency

def latency(run, src, n_nodes, rate, seconds, coalesce_ms=None):
    """One open-loop run: p50/p99/p99.9 commit -> acknowledged by every node."""
    nodes = run.nodes(n_nodes)
    tag = f"lat-{src.name}-{n_nodes}-{rate}-{coalesce_ms}"
    delivery = None if coalesce_ms is None else {"coalesce_ms": coalesce_ms}
    count = max(1, int(rate * seconds))
    with run.node_logs(nodes, tag) as (work, vlogs):
        with run.running([src], nodes, tag, delivery) as tp:
            run.warm(tp, src)
            c0, s0 = tp.source(src.name, "changes_total"), tp.stats()
            achieved = run.loadgen(src, "INSERT INTO lat VALUES ({id})", rate, count, run.ids(),
                                   out=work / "commits.txt")
            tp.wait_changes(src.name, c0 + count, 60)
            s1 = tp.stats()
            time.sleep(1.0)
            idle_after = tp.stats()
            idle_after["pss_kb"] = pss_kb(tp.pid)
    res = _latencies(work / "commits.txt", [v.tags() for v in vlogs])
    res.update(source=src.name, nodes=n_nodes, rate=rate, achieved=achieved, count=count,
               coalesce_ms=5 if coalesce_ms is None else coalesce_ms,
               cpu_per_10k_ms=(s1["cpu_s"] - s0["cpu_s"]) / count * 1e4 * 1e3,
               hwm_kb=s1["hwm_kb"], rss_kb=s1["rss_kb"], idle_after_kb=idle_after["rss_kb"],
               idle_after_anon_kb=idle_after["anon_kb"], idle_after_pss_kb=idle_after["pss_kb"])
    log(f"latency {src.name} nodes={n_nodes} rate={rate} coalesce={res['coalesce_ms']}: "
        f"p50 {res['p50_ms']:.2f} p99 {res['p99_ms']:.2f} p99.9 {res['p999_ms']:.2f} ms "
        f"({res['n']} txns, achieved {achieved:.0f}/s, missing {res['missing']})")
    return res


def _latencies(commits_path, node_tags):
    """Per transaction: max over nodes of the node's first response to a purge
    carrying lat-<id>, minus the commit's return time."""
    lat = []
    missing = 0
    for line in Path(commits_path).read_text().splitlines():
        ident, _, commit_us = line.split()
        tag = f"lat-{ident}"
        acks = [tags.get(tag) for tags in node_tags]
        if None in acks:
            missing += 1
            continue
        lat.append((max(acks) - int(commit_us) / 1e6) * 1e3)
    lat.sort()
    if not lat:
        raise BenchError(f"no transaction of {commits_path} was seen purged on every node")
    return {"n": len(lat), "missing": missing, "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "p999_ms": percentile(lat, 99.9),
            "max_ms": lat[-1], "min_ms": lat[0], "mean_ms": sum(lat) / len(lat)}


# --------------------------------------------------------------------------
# 3. fan-out

def fanout(run, src, n_tags, wrk_seconds):
    """tagpurge draining a backlog of n_tags tags, one per request, to 4 nodes
    (one connection each), against wrk sending the same request."""
    nodes = run.nodes(4)
    first = run.ids()
    # The backlog: committed while no tagpurge reads the slot.
    src.sql(src.insert_range_sql("fan", first, n_tags))
    tp_res = _fanout_tagpurge(run, src, nodes, n_tags)
    tag = FAN_TAG.replace("{id}", str(first))
    script = run.b.work / "fanout.lua"
    script.write_text(f'wrk.method = "{FAN_METHOD}"\nwrk.headers["xkey-purge"] = "{tag}"\n')
    wrk = {}
    for conns in (1, 4, 16):
        wrk[conns] = _wrk(nodes, conns, wrk_seconds, script)
        log(f"fan-out: wrk {conns} connection(s) per node: {wrk[conns]:.0f} req/s")
    return {"tagpurge": tp_res, "wrk": wrk, "tag_bytes": len(tag), "tags": n_tags,
            "nodes": len(nodes)}


def _fanout_tagpurge(run, src, nodes, n_tags):
    before = [varnish_requests(v) for v in nodes]
    want = n_tags * len(nodes)
    samples = []
    with run.running([src], nodes, "fanout",
                     sink_extra={"max_header_bytes": FAN_HEADER_BYTES, "method": FAN_METHOD},
                     top={"max_tag_bytes": FAN_HEADER_BYTES}) as tp:
        # Sampled every 0.1 s only: each /metrics scrape costs tagpurge loop time.
        deadline = time.monotonic() + 600
        while not samples or samples[-1][1] < want:
            if time.monotonic() > deadline:
                raise BenchError(f"{want} purge requests not sent within 600 s")
            samples.append((time.monotonic(), sum(tp.node_requests().values()),
                            tp.stats()["cpu_s"]))
            time.sleep(0.1)
    after = [varnish_requests(v) for v in nodes]
    first = next(s for s in samples if s[1] > 0)
    last = samples[-1]
    rate = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("nan")
    res = {"req_per_s": rate, "requests": last[1], "node_requests": sum(after) - sum(before),
           "cpu_per_1k_req_ms": (last[2] - first[2]) / max(1, last[1] - first[1]) * 1e6}
    log(f"fan-out: tagpurge {rate:.0f} req/s to {len(nodes)} nodes "
        f"({res['node_requests']} requests counted by the nodes)")
    return res


def _wrk(nodes, conns, seconds, script):
    """One wrk per node, all at once, conns connections each; summed req/s."""
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "-s", str(script),
                               f"http://127.0.0.1:{v.port}/"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for v in nodes]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if p.returncode != 0 or not m:
            raise BenchError(f"wrk failed ({p.returncode}): {out[-500:]}")
        if "Non-2xx" in out:
            raise BenchError(f"wrk got error responses: {out[-500:]}")
        total += float(m.group(1))
    return total


# --------------------------------------------------------------------------
# 4. coalescing

def coalescing(run, src, rate, txns):
    """Requests each of 4 nodes answered (from the node's own log) for txns
    transactions, each updating one of 20 rows whose tags include hot-list."""
    nodes = run.nodes(4)
    tag = f"hot-{src.name}-{rate}"
    with run.node_logs(nodes, tag) as (_, vlogs):
        with run.running([src], nodes, tag) as tp:
            run.warm(tp, src)
            c0, b0 = tp.source(src.name, "changes_total"), tp.metrics()["tagpurge_batches_total"]
            achieved = run.loadgen(src, "UPDATE hot SET v = v + 1 WHERE id = {id}", rate, txns,
                                   1, cycle=20)
            tp.wait_changes(src.name, c0 + txns, 60)
            batches = tp.metrics()["tagpurge_batches_total"] - b0
    # Only the measured transactions purge hot-list (the warm-up purges lat-N).
    counts = [sum("hot-list" in tags for tags, _ in v.requests()) for v in vlogs]
    per_node = sum(counts) / len(counts)
    per_1000 = per_node / txns * 1000
    res = {"source": src.name, "rate": rate, "achieved": achieved, "txns": txns,
           "batches": batches, "requests_per_node": per_node, "node_requests": counts,
           "per_1000": per_1000, "reduction": 1000 / per_1000 if per_1000 else float("inf")}
    log(f"coalescing {src.name} {rate}/s: {per_node:.1f} requests per node for {txns} txns, "
        f"{batches:.0f} batches ({res['reduction']:.1f}x fewer)")
    return res


# --------------------------------------------------------------------------
# 5. footprint

def footprint_idle(run, srcs):
    """Both sources, 4 nodes, one purge delivered per source, then 2 s idle."""
    with run.running(srcs, run.nodes(4), "idle") as tp:
        for s in srcs:
            run.warm(tp, s)
        time.sleep(2.0)
        st = tp.stats()
        st["pss_kb"] = pss_kb(tp.pid)
    return {k: st[k] for k in ("rss_kb", "anon_kb", "hwm_kb", "pss_kb")}


def footprint_big(run, src, rows):
    """One transaction of `rows` row changes (past max_txn_tags, so it collapses
    to the fallback tag) through tagpurge purging 4 nodes: peak RSS and CPU."""
    with run.running([src], run.nodes(4), f"big-{src.name}") as tp:
        run.warm(tp, src)
        c0, s0 = tp.source(src.name, "changes_total"), tp.stats()
        t0 = time.monotonic()
        src.sql(src.insert_range_sql("big", run.ids(), rows))
        commit_s = time.monotonic() - t0
        tp.wait_changes(src.name, c0 + rows, 600)
        done_s = time.monotonic() - t0 - commit_s
        s1 = tp.stats()
        collapsed = tp.metrics().get("tagpurge_txns_collapsed_total", 0)
    res = {"source": src.name, "rows": rows, "hwm_kb": s1["hwm_kb"], "rss_kb": s1["rss_kb"],
           "rss_before_kb": s0["rss_kb"], "commit_s": commit_s, "purged_after_commit_s": done_s,
           "cpu_s": s1["cpu_s"] - s0["cpu_s"], "collapsed": collapsed}
    log(f"footprint {src.name}: {rows}-row transaction, peak RSS {s1['hwm_kb'] / 1024:.1f} MB, "
        f"purged {done_s:.2f} s after its commit returned")
    return res
