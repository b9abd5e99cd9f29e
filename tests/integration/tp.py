"""Shared steps of the integration tests: a database per test on the shared
PostgreSQL, a tagpurge process, and cache assertions through real Varnish.

Pages: GET /t/<tag>?c=<case> on a node; the origin tags the object with <tag>
and counts fetches per URL.  A purge is proven by a MISS with a higher count;
"still cached" by a HIT with the same count.  "Nothing was purged" is proven
by a later marker transaction: batches are delivered in commit order, so once
the marker's commit is confirmed, any purge of the earlier one would have been
delivered too.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "harness"))
import services  # noqa: E402

SKIP = 77

MAPPING = {
    "public.products": {"tags": ["product-{id}", "category-{category_id}", "product-list"],
                        "ignore_columns": ["view_count"]},
    "public.names": {"tags": ["name-{name}"], "fallback_tags": ["names"]},
    "public.markers": {"tags": ["marker-{id}"]},
}

SCHEMA = """
CREATE TABLE products(id int PRIMARY KEY, category_id int, name text, view_count int DEFAULT 0);
ALTER TABLE products REPLICA IDENTITY FULL;
CREATE TABLE names(id int PRIMARY KEY, name text);
ALTER TABLE names REPLICA IDENTITY FULL;
CREATE TABLE markers(id int PRIMARY KEY);
"""


def lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def fmt_lsn(v):
    return f"{v >> 32:X}/{v & 0xffffffff:X}"


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait(pred, what, timeout=15.0, step=0.02):
    """Poll pred() until truthy (returned) or fail after timeout; what: the message, or a
    function returning it (evaluated on failure)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
            raise Fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def hold(pred, what, seconds, step=0.05):
    """The window a test asserts that something does NOT happen in (the checkpoint does
    not pass an undelivered commit, no third purge arrives): pred() must stay true for
    `seconds`, checked every `step` and once at the end.  The time is the thing under
    test, so this is the harness's one fixed wait besides wait()'s poll step.  what: the
    failure message, or a function returning it (evaluated on failure, so it can show
    the state that broke the rule)."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    while True:
        if not pred():
            msg = what() if callable(what) else what
            raise Fail(f"{msg} (after {time.monotonic() - t0:.2f} s of a {seconds} s hold)")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))


# /proc/net/tcp states in which the server side has not closed the connection yet:
# ESTABLISHED, SYN_RECV, CLOSE_WAIT, LAST_ACK.
_OPEN_TCP_STATES = {"01", "03", "08", "09"}


def open_conns(port):
    """Connections to local port `port` that its server has not finished with."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            f = ln.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] in _OPEN_TCP_STATES:
                n += 1
    return n


def wait_conns_served(port, what, timeout=10.0):
    """A killed tagpurge may have left a request in a stopped node's socket; once the
    node has closed every connection to its port, that request was served (or reset),
    so it can no longer purge a page cached after this."""
    wait(lambda: open_conns(port) == 0, f"{what}: connections to port {port} closed", timeout)


class Stub:
    """tests/harness/capture.py: a recording node with faults on demand (see there)."""

    def __init__(self, tmp, name, *args, host="127.0.0.1", port=None):
        self.port = port or services.free_ports(1)[0]
        self.host, self.name, self.args = host, name, args
        self.log = Path(tmp) / f"stub-{name}.jsonl"
        self.url = f"http://{host}:{self.port}"
        self.start()

    def start(self):
        """(Re)start on the same port and log: a node coming back."""
        self.proc = subprocess.Popen([sys.executable, str(HERE.parent / "harness" / "capture.py"),
                                      str(self.port), str(self.log), "--host", self.host] +
                                     [str(a) for a in self.args], stdout=subprocess.PIPE, text=True)
        check(self.proc.stdout.readline().strip() == "ready", f"stub {self.name} did not start")

    def requests(self):
        """[(method, {lower-case header: value}, body, record)] in arrival order."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            rec = json.loads(line)
            head, _, body = rec["raw"].partition("\r\n\r\n")
            lines = head.split("\r\n")
            hdrs = {}
            for h in lines[1:]:
                k, _, v = h.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            out.append((lines[0].split(" ")[0], hdrs, body, rec))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


class PgSource:
    """The harness's one PostgreSQL source adapter (tpmy.MySource is MariaDB's): the
    database, the checkpoint (the slot's confirmed_flush_lsn), the source config and
    "streaming" for Case, PrivateCase and the crash oracle (crash_oracle.PgOracleSource
    adds its standby and failover).  server: the services.Postgres it talks to."""

    label, name, tagpurge_env = "pg", "shop", {}
    SCHEMA = SCHEMA
    # Top-level config keys the PostgreSQL cases have always had.
    CONFIG = {"listen": "127.0.0.1:0", "drain_timeout_ms": 3000}

    def __init__(self, c, server):
        self.c, self.server = c, server
        self.db, self.slot = c.db, f"s_{c.name}"

    def fresh(self):
        """An empty database with SCHEMA, no slot of this case left over."""
        self.server.psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         f"WHERE slot_name = '{self.slot}'")
        self.server.psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        self.server.psql(f"CREATE DATABASE {self.db}")
        # Keepalives every ~1 s: quiet slots advance quickly and keepalive
        # replies are exercised.
        self.server.psql("ALTER SYSTEM SET wal_sender_timeout = '2s'")
        # Flush WAL at commit (fsync stays off): the walsender then sees a commit
        # at once instead of at the walwriter's next round (up to 200 ms).
        self.server.psql("ALTER SYSTEM SET synchronous_commit = on")
        self.server.psql("SELECT pg_reload_conf()")
        self.sql(self.SCHEMA)

    def sql(self, q):
        return self.server.psql(q, db=self.db)

    def commit(self, q):
        """Run q as one transaction; return the WAL insert position after its commit."""
        out = self.sql(f"BEGIN; {q}; COMMIT; SELECT pg_current_wal_insert_lsn();")
        return lsn(out.splitlines()[-1])

    def position(self):
        return lsn(self.sql("SELECT pg_current_wal_insert_lsn()"))

    def confirmed(self):
        out = self.server.psql(f"SELECT confirmed_flush_lsn FROM pg_replication_slots "
                               f"WHERE slot_name = '{self.slot}'")
        return lsn(out) if out else 0

    def describe(self, pos):
        return fmt_lsn(pos)

    def what(self):
        return f"slot {self.slot}"

    def config(self, extra=None):
        return {"name": self.name, "type": "postgres",
                "conninfo": f"host=127.0.0.1 port={self.server.port} dbname={self.db} "
                            f"user=postgres",
                "slot": self.slot, "publication": self.slot, "create": True, **(extra or {})}

    def streaming(self, mark):
        """tagpurge streams: its slot is active (mark, the log offset, is not needed)."""
        return self._slot("active") == "t"

    def _slot(self, col):
        return self.server.psql(f"SELECT {col} FROM pg_replication_slots "
                                f"WHERE slot_name = '{self.slot}'")

    def after_kill(self, timeout=15.0):
        """The server notices the dead client; the slot must be free to restart.  A
        server that is down holds no slot."""
        def released():
            try:
                return self._slot("active") != "t"
            except services.ServiceError:
                return True
        wait(released, "slot release", timeout)

    def client(self):
        """A psql session for a workload: (argv, env, how to echo a marker)."""
        pg = self.server
        argv = [services.psql_binary(pg.bindir), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", pg.sockdir, "-p", str(pg.port), "-U", "postgres", "-d", self.db]
        return (argv, dict(services.clean_env(), PGCLIENTENCODING="UTF8"),
                lambda m: f"\\echo {m}\n")

    def restart_db(self):
        self.server.restart()

    def finish(self):
        try:
            self.server.psql(f"SELECT pg_drop_replication_slot(slot_name) FROM "
                             f"pg_replication_slots WHERE slot_name = '{self.slot}' AND NOT active")
        except Exception:
            pass


class Case:
    """One integration test: its database on a source (SOURCE, PostgreSQL here;
    tpmy.MyCase: MariaDB), a tagpurge process, the shared Varnish nodes, stubs."""

    SOURCE = PgSource

    def __init__(self, name):
        envdir = os.environ.get("TAGPURGE_TESTENV")
        self.bin = os.environ.get("TAGPURGE_BIN")
        if not envdir or not self.bin or not Path(envdir, "env.json").exists():
            print("no test environment (run through ctest)")
            sys.exit(SKIP)
        self.env = services.load_env(envdir)
        self._require()
        self.nodes = self.env.varnish
        self.name = name
        self.db = f"t_{name}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tp-{name}-"))
        self.servers = []  # private servers this case started (stopped by finish)
        self.proc = None
        self.log = self.tmp / "tagpurge.log"
        self.marker_id = 0
        self.stubs = []
        self.src = self.SOURCE(self, self._server())
        self.src.fresh()

    def _require(self):
        """Exit 77 (skip) when the test environment lacks this case's source."""

    def _server(self):
        """The PostgreSQL this case uses: the shared one (PrivateCase starts its own)."""
        return self.env.pg

    # -- database (the source adapter) ----------------------------------------
    @property
    def pg(self):
        return self.src.server

    @pg.setter
    def pg(self, server):
        self.src.server = server

    @property
    def slot(self):
        return self.src.slot

    def sql(self, q):
        return self.src.sql(q)

    def commit(self, q):
        """Run q as one transaction; return the source's position after its commit."""
        self.last_commit_t = time.monotonic()
        return self.src.commit(q)

    def position(self):
        return self.src.position()

    def confirmed(self):
        return self.src.confirmed()

    def wait_confirmed(self, target, timeout=15.0):
        wait(lambda: self.confirmed() >= target,
             lambda: f"{self.src.what()} to confirm {self.src.describe(target)} "
             f"(at {self.src.describe(self.confirmed())})", timeout)

    def marker(self):
        """A transaction whose only purge is marker-N; wait until it is confirmed."""
        self.marker_id += 1
        self.wait_confirmed(self.commit(f"INSERT INTO markers VALUES ({self.marker_id})"))

    # -- tagpurge -----------------------------------------------------------
    def config(self, sinks, delivery=None, mapping=None, extra=None):
        """mapping: default MAPPING (the source's own for MariaDB); extra: keys merged
        into the source (e.g. gap_tags, a multi-host conninfo)."""
        cfg = {
            "state_dir": str(self.tmp / "state"),
            "mapping": mapping or self.default_mapping(),
            "sources": [self.src.config(extra)],
            "sinks": sinks,
            **self.src.CONFIG,
            "delivery": delivery or {"coalesce_ms": 5, "retry_initial_ms": 50,
                                     "retry_max_ms": 500, "timeout_ms": 500},
        }
        self.cfg_path = self.tmp / "config.json"
        self.cfg_path.write_text(json.dumps(cfg, indent=2))
        return self.cfg_path

    def default_mapping(self):
        return MAPPING

    def state_file(self):
        """The source's state file (connectors/pgstate.h) as a dict, or None."""
        p = self.tmp / "state" / "shop.postgres.json"
        return json.loads(p.read_text()) if p.exists() else None

    def node_url(self, i):
        return f"http://127.0.0.1:{self.nodes[i].port}"

    def start(self, env=None, streaming=True):
        """Run tagpurge; wait until it streams from its source unless streaming=False."""
        self.logf = open(self.log, "a")
        mark = len(self.log.read_text()) if self.log.exists() else 0
        self.proc = subprocess.Popen([self.bin, "run", "-c", str(self.cfg_path), "-v"],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **self.src.tagpurge_env, **(env or {})))
        if streaming:
            wait(lambda: self.streaming(mark), f"tagpurge to stream from {self.src.what()}", 20)

    def streaming(self, mark=0):
        """tagpurge runs (else fail with its log) and streams from its source."""
        check(self.proc.poll() is None, f"tagpurge exited {self.proc.returncode}:\n"
              f"{self.log.read_text()[-3000:]}")
        return self.src.streaming(mark)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)
        self.src.after_kill()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        check(self.proc is None or self.proc.returncode in (0, -9),
              f"tagpurge exited {self.proc.returncode if self.proc else None}")

    def assert_streams_exactly(self, old, new):
        """Rename names row 1 from old to new: exactly name-<old> and name-<new> are
        purged, not the table's fallback tag "names" (streaming continues exactly)."""
        tags = ["names", f"name-{old}", f"name-{new}"]
        before = self.warm_all(tags, nodes=[0])
        self.wait_confirmed(self.commit(f"UPDATE names SET name = '{new}' WHERE id = 1"))
        for t in tags[1:]:
            self.assert_purged(0, t, before[0, t])
        self.assert_cached(0, "names", before[0, "names"])

    def stub(self, name, *args, **kw):
        s = Stub(self.tmp, name, *args, **kw)
        self.stubs.append(s)
        return s

    def signal(self, sig):
        self.proc.send_signal(sig)

    def status_port(self):
        # The last one: the log is appended across restarts.
        m = wait(lambda: re.findall(r"status: listening on \S+ \(port (\d+)\)",
                                    self.log.read_text()), "the status server", 10)
        return int(m[-1])

    def status(self, path, timeout=10.0):
        """GET path on tagpurge's status server -> (status, body str)."""
        st, _, body = services.http_request(self.status_port(), "GET", path, timeout=timeout)
        return st, body

    def metrics(self):
        """/metrics as {'name{labels}': float}."""
        st, body = self.status("/metrics")
        check(st == 200, f"/metrics: HTTP {st}")
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def stats(self):
        """The counters of a fresh SIGUSR1 "stats:" log line while tagpurge runs, else
        of the last one it logged (at exit)."""
        if self.proc is None or self.proc.poll() is not None:
            line = [ln for ln in self.log.read_text().splitlines() if "stats:" in ln][-1]
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.split("stats:", 1)[1])}
        n = self.log.read_text().count("stats:")
        self.proc.send_signal(signal.SIGUSR1)
        wait(lambda: self.log.read_text().count("stats:") > n, "the stats log line", 5)
        line = [ln for ln in self.log.read_text().splitlines() if "stats:" in ln][-1]
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.split("stats:", 1)[1])}

    def _release(self):
        """Resume any stopped node and kill a tagpurge still running."""
        for s in self.stubs:
            s.stop()
        for v in self.nodes:
            try:
                v.sigcont()
            except Exception:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self):
        """Release everything, let the source clean up (PostgreSQL: drop the slot), stop
        the private servers (run() prints the log on failure)."""
        self._release()
        self.src.finish()
        for srv in reversed(self.servers):
            try:
                srv.stop("immediate")
            except Exception as e:
                print(f"stopping {srv.datadir}: {e}")

    # -- cache --------------------------------------------------------------
    def url(self, tag):
        return f"/t/{urllib.parse.quote(tag, safe='')}?c={self.name}"

    def page(self, node, tag):
        status, hdrs, _ = self.nodes[node].get(self.url(tag))
        check(status == 200, f"GET {tag} on node {node}: HTTP {status}")
        return hdrs.get("x-cache"), int(hdrs["x-backend-count"])

    def warm(self, node, tag):
        """Cache the page; return its fetch count."""
        self.page(node, tag)
        cache, count = self.page(node, tag)
        check(cache == "HIT", f"{tag} on node {node} did not cache")
        return count

    def warm_all(self, tags, nodes=None):
        return {(n, t): self.warm(n, t) for n in (nodes or range(len(self.nodes))) for t in tags}

    def assert_purged(self, node, tag, before):
        cache, count = self.page(node, tag)
        check(cache == "MISS" and count > before,
              f"{tag} on node {node}: expected a refetch, got {cache} count {count} (was {before})")

    def assert_cached(self, node, tag, before):
        cache, count = self.page(node, tag)
        check(cache == "HIT" and count == before,
              f"{tag} on node {node}: expected still cached, got {cache} count {count} "
              f"(was {before})")

    def latencies(self):
        """(ms after receipt, ms after commit) tagpurge logged for delivered batches."""
        out = []
        for line in self.log.read_text().splitlines():
            m = re.search(r"([0-9.]+) ms after receipt, ([0-9.]+) ms after commit", line)
            if m:
                out.append((float(m.group(1)), float(m.group(2))))
        return out


class PrivateCase(Case):
    """A case on its own PostgreSQL primary in its temp folder (a standby, server
    settings of its own); the shared Varnish nodes as usual.  PG_CONF: extra
    postgresql.conf lines."""

    PG_CONF = ""

    def _server(self):
        os.chmod(self.tmp, 0o711)  # the postgres user must reach its folder (when root)
        pg = services.Postgres(self.tmp / "primary", conf=self.PG_CONF)
        self.servers.append(pg)
        return pg


def run(name, body, case_class=None):
    """Run body(case); print tagpurge's log when it fails; exit status for ctest."""
    case = (case_class or Case)(name)
    try:
        body(case)
    except BaseException as e:
        print(f"FAIL {name}: {e}")
        if case.log.exists():
            print("---- tagpurge log ----")
            print(case.log.read_text(errors="replace")[-8000:])
        case.finish()
        print(f"(kept {case.tmp})")
        return 1
    case.finish()
    if os.environ.get("TP_KEEP"):
        print(f"(kept {case.tmp})")
    else:
        shutil.rmtree(case.tmp, ignore_errors=True)
    print(f"PASS {name}")
    return 0
