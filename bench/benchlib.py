"""Building blocks of the tagpurge benchmarks (bench/bench.py): process
statistics, tagpurge runs with their /metrics, Varnish logs, percentiles.

Stdlib only; servers come from tests/harness/services.py.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "harness"))
import services  # noqa: E402  pylint: disable=wrong-import-position

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(RuntimeError):
    """A measurement could not be made; the message says why."""


def wait_until(pred, what, timeout):
    """Poll pred() until truthy and return its value; BenchError after timeout."""
    try:
        return services.wait_for(pred, what, timeout=timeout)
    except services.ServiceError as e:
        raise BenchError(str(e).split("\n", 1)[0]) from None


# --------------------------------------------------------------------------
# process statistics

def proc_stats(pid):
    """{'rss_kb', 'hwm_kb', 'anon_kb', 'cpu_s'} of a live process from /proc
    (VmRSS, VmHWM, RssAnon; utime + stime). None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kb(name):
        return int(fields.get(name, "0 kB").split()[0])
    # comm may hold spaces: the fields after ")" are fixed.
    rest = stat.rsplit(")", 1)[1].split()
    cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK
    return {"rss_kb": kb("VmRSS"), "hwm_kb": kb("VmHWM"), "anon_kb": kb("RssAnon"), "cpu_s": cpu}


def pss_kb(pid):
    """Proportional set size: shared library pages divided among the processes
    that map them (what this process really costs the machine)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def run_to_exit(argv, timeout, env=None, cwd=None):
    """Run argv to completion; (wall_s, cpu_s, maxrss_kb, rc, stdout, stderr) from
    wait4, so CPU and peak RSS are the child's own. Kills it after timeout."""
    out_path = Path(f"/tmp/tp-bench-out.{os.getpid()}.{time.monotonic_ns()}")
    with open(out_path, "w+") as out, open(str(out_path) + ".err", "w+") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, lambda: p.send_signal(signal.SIGKILL))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    out_path.unlink()
    Path(str(out_path) + ".err").unlink()
    if wall >= timeout:
        raise BenchError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, p.returncode, stdout, stderr


# --------------------------------------------------------------------------
# tagpurge

def parse_metrics(text):
    """Prometheus text -> {'name{labels}': float}."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


class Tagpurge:
    """One `tagpurge run` with a config written to workdir; /metrics on a port it picks."""

    def __init__(self, binary, workdir, cfg, env=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = dict(cfg, listen="127.0.0.1:0")
        cfg.setdefault("state_dir", str(self.workdir / "state"))
        self.cfg_path = self.workdir / "config.json"
        self.cfg_path.write_text(json.dumps(cfg, indent=2))
        self.log = self.workdir / "tagpurge.log"
        self.t_start = time.monotonic()
        with open(self.log, "a") as logf:
            # BENCH_TAGPURGE_VERBOSE=1: debug logs (per-batch timings) in each run's folder
            verbose = ["-v"] if os.environ.get("BENCH_TAGPURGE_VERBOSE") else []
            self.proc = subprocess.Popen([binary, "run", "-c", str(self.cfg_path)] + verbose,
                                         stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=dict(os.environ, **(env or {})))
        self.pid = self.proc.pid
        self.port = None
        self.port = wait_until(self._status_port, "tagpurge's status server", 20)

    def _alive(self):
        if self.proc.poll() is not None:
            raise BenchError(f"tagpurge exited {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, n=3000):
        return self.log.read_text(errors="replace")[-n:]

    def _status_port(self):
        self._alive()
        m = re.search(r"status: listening on \S+ \(port (\d+)\)", self.log.read_text())
        return int(m.group(1)) if m else None

    def metrics(self):
        self._alive()
        st, _, body = services.http_request(self.port, "GET", "/metrics", timeout=10)
        if st != 200:
            raise BenchError(f"tagpurge /metrics: HTTP {st}")
        return parse_metrics(body)

    def source(self, name, metric):
        """tagpurge_source_<metric>{source="name"}."""
        return self.metrics().get(f'tagpurge_source_{metric}{{source="{name}"}}', 0.0)

    def node_requests(self):
        """Requests answered, summed over codes, per node URL."""
        out = {}
        for key, value in self.metrics().items():
            m = re.match(r'tagpurge_node_requests_total\{.*node="([^"]+)".*\}', key)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + value
        return out

    def wait_streaming(self, sources, timeout=30):
        wait_until(lambda: all(self.source(s, "streaming") == 1 for s in sources),
                   f"tagpurge to stream {', '.join(sources)}", timeout)

    def wait_changes(self, source, n, timeout, settled=True):
        """Until source has read n changes and (settled) nothing is pending."""
        def done():
            m = self.metrics()
            key = f'{{source="{source}"}}'
            return (m.get("tagpurge_source_changes_total" + key, 0) >= n and
                    (not settled or m.get("tagpurge_source_pending_transactions" + key, 1) == 0))
        wait_until(done, f"tagpurge to read {n} changes from {source}", timeout)

    def stats(self):
        return proc_stats(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------
# Varnish

class VarnishLog:
    """varnishlog -w on one node for the duration of a run, read back afterwards:
    the node's own record of each purge request, its xkey-purge tags and the
    time it sent the response (Timestamp Resp)."""

    def __init__(self, node, path):
        self.path = Path(path)
        self.proc = subprocess.Popen(["varnishlog", "-n", node.workdir, "-w", str(self.path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    def requests(self):
        """[(tags, resp_time_s)] of every PURGEKEYS/PURGE request answered, in log order."""
        text = subprocess.run(["varnishlog", "-r", str(self.path), "-g", "raw",
                               "-i", "ReqMethod,ReqHeader,Timestamp"],
                              capture_output=True, text=True, check=True).stdout
        reqs = {}
        for line in text.splitlines():
            parts = line.split(None, 3)
            if len(parts) < 4:
                continue
            r = reqs.setdefault(parts[0], {})
            if parts[1] == "ReqMethod":
                r["method"] = parts[3]
            elif parts[1] == "ReqHeader" and parts[3].lower().startswith("xkey-purge:"):
                r["tags"] = parts[3].split(":", 1)[1].split()
            elif parts[1] == "Timestamp" and parts[3].startswith("Resp:"):
                r["resp"] = float(parts[3].split()[1])
        return [(r.get("tags", []), r["resp"]) for r in reqs.values()
                if r.get("method") in ("PURGEKEYS", "PURGE") and "resp" in r]

    def tags(self):
        """{tag: earliest resp_time_s of a request that carried it}."""
        out = {}
        for tags, resp in self.requests():
            for tag in tags:
                if tag not in out or resp < out[tag]:
                    out[tag] = resp
        return out


def varnish_requests(node):
    """MAIN.client_req of a node: every request it received (an external count)."""
    out = subprocess.run(["varnishstat", "-n", node.workdir, "-1", "-f", "MAIN.client_req"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"MAIN\.client_req\s+(\d+)", out)
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------
# numbers

def percentile(sorted_values, q):
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    # ceil(n * q / 100) in integers (q in tenths), so 99.9 is exact
    rank = max(1, -(-len(sorted_values) * round(q * 10) // 1000))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")
