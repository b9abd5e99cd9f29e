"""results.json -> results.md (tables with absolute numbers and ratios) and
the gnuplot PNGs. `python3 bench/report.py DIR` redraws them from DIR/results.json."""
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = (("pg", "PostgreSQL"), ("my", "MariaDB"))
GOAL_P99_MS = 5.0
GOAL_RATE = 1000
BURST = 1_000_000   # bench.py's coalescing "rate" without pacing
SECTIONS = ("## 1. Stream throughput", "## 2. Invalidation latency", "## 3. Fan-out rate",
            "## 4. Coalescing", "## 5. Footprint")


# --------------------------------------------------------------------------
# the machine

def _cmd(argv):
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return "not found"
    text = (res.stdout + res.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _file_field(path, pattern):
    try:
        m = re.search(pattern, Path(path).read_text(), re.M)
    except OSError:
        return "?"
    return m.group(1).strip() if m else "?"


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _npm_version(node_dir, pkg):
    try:
        return json.loads((Path(node_dir) / "node_modules" / pkg / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def _memory():
    kb = _file_field("/proc/meminfo", r"^MemTotal:\s*(\d+)")
    return f"{int(kb) / 1024 / 1024:.1f} GiB" if kb.isdigit() else kb


def _rate(rate):
    return "burst" if rate >= BURST else f"{rate:,}"


def machine(tp_bin, node_dir):
    sys.path.insert(0, str(HERE.parent / "tests" / "harness"))
    import services  # pylint: disable=import-outside-toplevel
    git = _cmd(["git", "-C", str(HERE), "describe", "--always", "--dirty"])
    return {
        "cpu": _file_field("/proc/cpuinfo", r"^model name\s*:(.*)$"),
        "cores": os.cpu_count(),
        "memory": _memory(),
        "kernel": platform.release(),
        "os": _file_field("/etc/os-release", r'^PRETTY_NAME="?([^"\n]*)'),
        "load_before": loadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "tagpurge": f"{_cmd([str(tp_bin), '--version'])} ({git})",
        "postgresql": _cmd([f"{services.pg_bindir()}/postgres", "--version"]),
        "mariadb": _cmd([services.mariadb_binary("mariadbd"), "--version"]),
        "varnish": _cmd([services.find_binary("varnishd"), "-V"]),
        "varnish-modules": _cmd(["dpkg-query", "-W", "-f", "${Version}", "varnish-modules"]),
        "node": _cmd(["node", "--version"]),
        "@vlasky/zongji": _npm_version(node_dir, "@vlasky/zongji"),
        "pg-logical-replication": _npm_version(node_dir, "pg-logical-replication"),
        "wrk": _cmd(["wrk", "-v"]),
        "gnuplot": _cmd(["gnuplot", "--version"]),
    }


# --------------------------------------------------------------------------
# formatting

def _f(v, digits=0, suffix=""):
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, float) and digits == 0 and abs(v) < 10:
        digits = 2
    return f"{v:,.{digits}f}{suffix}"


def _ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a / b:.2f}×"


def _mb(kb):
    return _f(kb / 1024, 1) if kb else "–"


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# sections

def _machine_md(r):
    m = r["machine"]
    keys = ["cpu", "cores", "memory", "os", "kernel", "load_before", "load_after", "date",
            "tagpurge", "postgresql", "mariadb", "varnish", "varnish-modules", "node",
            "@vlasky/zongji", "pg-logical-replication", "wrk", "gnuplot"]
    return "## Machine\n\n" + _table(["", ""], [[k, m.get(k, "?")] for k in keys])


def _throughput_md(r):
    out = [SECTIONS[0] + "\n"]
    for stream in r.get("throughput", []):
        label = dict(SOURCES)[stream["source"]]
        out.append(f"\n**{label}**: {stream['rows']:,} row changes in {stream['txns']:,} "
                   f"transactions (generated in {stream['gen_s']:.1f} s); median of "
                   f"{r['sizes']['reps']} run(s) each.\n\n")
        tp = next((c for c in stream["consumers"] if c["name"] == "tagpurge"), {})
        rows = []
        for c in stream["consumers"]:
            if c.get("error"):
                rows.append([c["name"], c["kind"], f"failed: {c['error'][:120]}"] + ["–"] * 7)
                continue
            rows.append([f"`{c['name']}`", c["kind"], _f(c["rows_per_s"]), _f(c["txns_per_s"]),
                         " / ".join(_f(w, 2) for w in c["walls"]), _f(c["cpu_s"], 2),
                         _f(c["cpu_per_10k_ms"], 1), _mb(c["rss_kb"]),
                         _ratio(tp.get("rows_per_s"), c["rows_per_s"]),
                         _ratio(c["cpu_s"], tp.get("cpu_s"))])
        out.append(_table(["consumer", "kind", "rows/s", "txn/s", "wall s (runs)", "CPU s",
                           "CPU ms / 10k rows", "peak RSS MB", "tagpurge speed ÷ this",
                           "this CPU ÷ tagpurge"], rows))
    return "".join(out)


def _latency_md(r):
    rows = []
    for x in r.get("latency", []):
        rows.append([dict(SOURCES)[x["source"]], x["nodes"], x["coalesce_ms"], _f(x["rate"]),
                     _f(x["achieved"]), _f(x["n"]), _f(x["p50_ms"], 2), _f(x["p99_ms"], 2),
                     _f(x["p999_ms"], 2), _f(x["max_ms"], 2), x["missing"],
                     _ratio(x["p99_ms"], GOAL_P99_MS)])
    return (SECTIONS[1] + "\n\n" + _table(
        ["source", "nodes", "coalesce_ms", "target txn/s", "achieved txn/s", "txns", "p50 ms",
         "p99 ms", "p99.9 ms", "max ms", "missing", "p99 ÷ 5 ms goal"], rows))


def _fanout_md(r):
    f = (r.get("fanout") or [None])[0]
    if not f:
        return SECTIONS[2] + "\n\nnot measured\n"
    tp = f["tagpurge"]["req_per_s"]
    best = max(f["wrk"].items(), key=lambda kv: kv[1])
    rows = [["tagpurge (xkey sink)", 1, _f(tp), _f(tp / f["nodes"]), "1.00×"]]
    for conns, v in sorted(f["wrk"].items(), key=lambda kv: int(kv[0])):
        rows.append([f"wrk -c{conns}" + (" (best)" if conns == best[0] else ""), conns,
                     _f(v), _f(v / f["nodes"]), _ratio(tp, v)])
    return (SECTIONS[2] + f"\n\nBacklog of {f['tags']:,} tags ({f['tag_bytes']} bytes each, one "
            f"per request) to {f['nodes']} nodes: {f['tagpurge']['node_requests']:,} requests "
            f"counted by the nodes; tagpurge CPU {f['tagpurge']['cpu_per_1k_req_ms']:.1f} ms "
            "per 1 000 requests.\n\n" +
            _table(["sender", "connections per node", "requests/s (all nodes)", "per node",
                    "tagpurge ÷ this"], rows))


def _coalescing_md(r):
    rows = [[dict(SOURCES)[x["source"]], _rate(x["rate"]), _f(x["achieved"]), x["txns"],
             _f(x["batches"]), _f(x["requests_per_node"], 1), _f(x["per_1000"], 1), "1,000",
             _f(x["reduction"], 1, "×")] for x in r.get("coalescing", [])]
    return (SECTIONS[3] + "\n\n" + _table(
        ["source", "target txn/s", "achieved txn/s", "txns", "batches", "requests per node",
         "per 1 000 txns", "one per transaction", "fewer requests"], rows))


def _pick(items, **kw):
    return next((x for x in items if all(x.get(k) == v for k, v in kw.items())), None)


def _footprint_md(r):
    rows = []
    idle = (r.get("idle") or [None])[0]
    if idle:
        rows.append(["idle: both sources, 4 nodes, after 20 purged transactions each", _mb(idle["rss_kb"]),
                     _mb(idle["anon_kb"]), _mb(idle.get("pss_kb")),
                     _ratio(idle["rss_kb"] / 1024, 10)])
    top = max(r["sizes"]["rates"])
    for src, label in SOURCES:
        x = _pick(r.get("latency", []), source=src, nodes=4, rate=top, coalesce_ms=5)
        if x:
            rows.append([f"under load: {label}, {top:,} txn/s, 4 nodes (peak)", _mb(x["hwm_kb"]),
                         "–", "–", _ratio(x["hwm_kb"] / 1024, 10)])
            rows.append([f"idle 1 s after that load: {label}", _mb(x["idle_after_kb"]),
                         _mb(x["idle_after_anon_kb"]), _mb(x.get("idle_after_pss_kb")),
                         _ratio(x["idle_after_kb"] / 1024, 10)])
    for b in r.get("big", []):
        rows.append([f"through one {b['rows']:,}-row transaction: {dict(SOURCES)[b['source']]} "
                     f"(peak; purged {b['purged_after_commit_s']:.1f} s after commit)",
                     _mb(b["hwm_kb"]), "–", "–", _ratio(b["hwm_kb"] / 1024, 10)])
    out = SECTIONS[4] + "\n\ntagpurge's resident memory: RSS = VmRSS (peaks: VmHWM); anon = " \
        "RssAnon, its own heap and stacks (the rest of RSS is shared library code); PSS = " \
        "shared pages divided among the processes mapping them:\n\n"
    out += _table(["state", "RSS MB", "anon MB", "PSS MB", "RSS ÷ 10 MB goal"], rows)
    cpu = []
    for src, label in SOURCES:
        x = _pick(r.get("latency", []), source=src, nodes=4, rate=top, coalesce_ms=5)
        if x:
            cpu.append([f"{label}, purging 4 nodes at {top:,} txn/s", _f(x["cpu_per_10k_ms"], 1)])
    for stream in r.get("throughput", []):
        tp = _pick(stream["consumers"], name="tagpurge")
        if tp and not tp.get("error"):
            cpu.append([f"{dict(SOURCES)[stream['source']]}, reading the stream, no sink",
                        _f(tp["cpu_per_10k_ms"], 1)])
    out += "\ntagpurge CPU time (user + system) per 10 000 row changes; the peers' CPU and " \
        "peak RSS for the same stream are in figure 1:\n\n"
    return out + _table(["workload", "CPU ms per 10k changes"], cpu)


def _goals_md(r):
    rows = []
    for stream in r.get("throughput", []):
        label = dict(SOURCES)[stream["source"]]
        tp = _pick(stream["consumers"], name="tagpurge") or {}
        for kind, goal in (("thin C", 0.9), ("Node peer", 10.0)):
            c = _pick(stream["consumers"], kind=kind) or {}
            if tp.get("rows_per_s") and c.get("rows_per_s"):
                v = tp["rows_per_s"] / c["rows_per_s"]
                rows.append([f"throughput ≥ {goal:g}× {c['name']} ({label})", f"{v:.2f}×",
                             "yes" if v >= goal else "no"])
    for src, label in SOURCES:
        for cms in (5, 0):
            x = _pick(r.get("latency", []), source=src, nodes=4, rate=GOAL_RATE, coalesce_ms=cms)
            if x:
                rows.append([f"p99 ≤ 5 ms at 1 000 txn/s, 4 nodes ({label}, coalesce_ms {cms})",
                             f"{x['p99_ms']:.2f} ms", "yes" if x["p99_ms"] <= GOAL_P99_MS else "no"])
        for rate in (GOAL_RATE, BURST):
            x = _pick(r.get("coalescing", []), source=src, rate=rate)
            if x:
                rows.append([f"≥ 50× fewer requests, hot tag, {_rate(rate)} txn/s ({label})",
                             f"{x['reduction']:.1f}×", "yes" if x["reduction"] >= 50 else "no"])
    idle = (r.get("idle") or [None])[0]
    if idle:
        rows.append(["RSS ≤ 10 MB idle", f"{idle['rss_kb'] / 1024:.1f} MB",
                     "yes" if idle["rss_kb"] <= 10 * 1024 else "no"])
    return "## Goals\n\n" + _table(["goal", "measured", "met"], rows)


def _errors_md(r):
    errs = r.get("errors") or {}
    if not errs:
        return ""
    lines = [f"- {k}: {e}" for k, v in errs.items() for e in v]
    return "## Failed measurements\n\n" + "\n".join(lines) + "\n"


def markdown(r):
    head = (f"# tagpurge benchmarks ({r['mode']} run)\n\n"
            f"Produced by `{r['command']}` in {r.get('wall_s', 0) / 60:.1f} minutes. What each "
            "figure measures, how ratios are computed and the caveats: "
            "[bench/README.md](../README.md).\n\n"
            "![throughput](throughput.png)\n![latency](latency.png)\n"
            "![fan-out and coalescing](fanout_coalescing.png)\n\n")
    parts = [head, _goals_md(r), _machine_md(r), _throughput_md(r), _latency_md(r),
             _fanout_md(r), _coalescing_md(r), _footprint_md(r), _errors_md(r)]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------
# plots

def _plot_data(r, d):
    tput = {}
    for stream in r.get("throughput", []):
        for c in stream["consumers"]:
            tput[(stream["source"], c["kind"])] = c.get("rows_per_s")
    names = {}
    for stream in r.get("throughput", []):
        for c in stream["consumers"]:
            names.setdefault(c["kind"], []).append(c["name"])
    names["tagpurge"] = []
    lines = [f'"{k}' + "".join(f"\\n{n}" for n in names.get(k, [])) + '" '
             f'{_num(tput.get(("pg", k)))} {_num(tput.get(("my", k)))}'
             for k in ("tagpurge", "thin C", "Node peer")]
    (d / "throughput.dat").write_text("\n".join(lines) + "\n")
    for src, _ in SOURCES:
        for n in (1, 4):
            pts = sorted((x["rate"], x["p50_ms"], x["p99_ms"], x["p999_ms"])
                         for x in r.get("latency", [])
                         if x["source"] == src and x["nodes"] == n and x["coalesce_ms"] == 5)
            (d / f"lat-{src}-{n}.dat").write_text(
                "".join(f"{a} {_num(b)} {_num(c)} {_num(e)}\n" for a, b, c, e in pts) or "? ? ? ?\n")
    f = (r.get("fanout") or [None])[0]
    fan = [("tagpurge", f["tagpurge"]["req_per_s"])] if f else []
    fan += [(f"wrk\\nc={k}/node", v) for k, v in (f["wrk"].items() if f else [])]
    (d / "fanout.dat").write_text("".join(f'"{k}" {_num(v)}\n' for k, v in fan) or '"none" ?\n')
    co = {}
    for x in r.get("coalescing", []):
        co.setdefault(x["rate"], {})[x["source"]] = x["per_1000"]
    (d / "coalescing.dat").write_text(
        "".join(f'"{_rate(rate)}" {_num(v.get("pg"))} {_num(v.get("my"))} 1000\n'
                for rate, v in sorted(co.items())) or '"none" ? ? 1000\n')


def _num(v):
    return "?" if v is None or v != v else f"{v:.6g}"


def plots(r, out):
    with tempfile.TemporaryDirectory(prefix="tp-bench-plot.") as d:
        _plot_data(r, Path(d))
        rows = (r.get("throughput") or [{}])[0].get("rows", 0)
        res = subprocess.run(["gnuplot", "-e", f"data='{d}'; out='{out}'; rows='{rows:,}'",
                              str(HERE / "plot.gp")],
                             capture_output=True, text=True, check=False)
    if res.returncode != 0:
        r.setdefault("errors", {}).setdefault("plot", []).append(res.stderr.strip()[-500:])


def write(r, out):
    out = Path(out)
    plots(r, out)
    (out / "results.md").write_text(markdown(r))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "results")
    write(json.loads((target / "results.json").read_text()), target)
