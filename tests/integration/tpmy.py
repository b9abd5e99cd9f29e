"""The MariaDB side of the integration tests: a database per test on the
shared MariaDB 10.11, tagpurge reading its binlog, cache assertions through
real Varnish (inherited from tp.Case).

The checkpoint is tagpurge's state file; "confirmed" means the (file, pos)
it holds is at or past a commit's end, read with SHOW MASTER STATUS right
after the commit.
"""
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import tp

SCHEMA = """
CREATE TABLE products(id int PRIMARY KEY, category_id int, name varchar(255),
                      view_count int DEFAULT 0) CHARSET utf8mb4;
CREATE TABLE names(id int PRIMARY KEY, name varchar(255)) CHARSET utf8mb4;
CREATE TABLE markers(id int PRIMARY KEY);
"""


def mapping(db):
    return {f"{db}.{t.split('.')[1]}": v for t, v in tp.MAPPING.items()}


class MyCase(tp.Case):
    def __init__(self, name):  # pylint: disable=super-init-not-called
        envdir = os.environ.get("TAGPURGE_TESTENV")
        self.bin = os.environ.get("TAGPURGE_BIN")
        if not envdir or not self.bin or not Path(envdir, "env.json").exists():
            print("no test environment (run through ctest)")
            sys.exit(tp.SKIP)
        self.env = tp.services.load_env(envdir)
        if self.env.mariadb is None:
            print("no MariaDB in the test environment")
            sys.exit(tp.SKIP)
        self.my = self.env.mariadb
        self.nodes = self.env.varnish
        self.name = name
        self.db = f"t_{name}"
        self.server_id = 1000 + zlib.crc32(name.encode()) % 100000
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tp-{name}-"))
        self.state = self.tmp / "state" / "my.binlog.json"
        self.proc = None
        self.stubs = []
        self.log = self.tmp / "tagpurge.log"
        self.marker_id = 0
        self.my.sql(f"DROP DATABASE IF EXISTS {self.db}; CREATE DATABASE {self.db}")
        self.sql(SCHEMA)

    def sql(self, q):
        return self.my.sql(q, db=self.db)

    def position(self):
        file, pos = self.my.sql("SHOW MASTER STATUS").split("\t")[:2]
        return (file, int(pos))

    def commit(self, q):
        """Run q as one transaction; return the binlog position after its commit."""
        self.sql(f"BEGIN; {q}; COMMIT;")
        return self.position()

    def confirmed(self):
        try:
            st = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return ("", 0)
        return (st["file"], int(st["pos"]))

    def wait_confirmed(self, target, timeout=15.0):
        tp.wait(lambda: self.confirmed() >= target,
                f"checkpoint to reach {target} (at {self.confirmed()})", timeout)

    def wait_gap_1236_at(self, end, timeout=15.0):
        """Wait for the first GAP line: it must name error 1236 and continue at end
        (file, pos), the server's end, and streaming must start there."""
        tp.wait(lambda: "GAP:" in self.log.read_text(), "the gap to be logged", timeout)
        gap = [l for l in self.log.read_text().splitlines() if "GAP:" in l][0]
        tp.check("error 1236" in gap, f"the gap does not name error 1236: {gap}")
        tp.check(gap.endswith(f"continuing from {end[0]}:{end[1]}"),
                 f"the gap does not continue from the server's end {end}: {gap}")
        tp.wait(lambda: f"reading binlog from {end[0]}:{end[1]} " in self.log.read_text(),
                f"streaming to start at the end {end}", timeout)
        return gap

    def config(self, sinks, delivery=None, mapping_=None, extra=None):
        src = {"name": "my", "type": "mysql", "host": "127.0.0.1", "port": self.my.port,
               "user": "repl", "password_env": "TAGPURGE_MY_PASSWORD",
               "server_id": self.server_id}
        src.update(extra or {})
        if "hosts" in src:  # the list form replaces host/port
            del src["host"], src["port"]
        cfg = {"state_dir": str(self.tmp / "state"), "mapping": mapping_ or mapping(self.db),
               "sources": [src], "sinks": sinks,
               "delivery": delivery or {"coalesce_ms": 5, "retry_initial_ms": 50,
                                        "retry_max_ms": 500, "timeout_ms": 500}}
        self.cfg_path = self.tmp / "config.json"
        self.cfg_path.write_text(json.dumps(cfg, indent=2))
        return self.cfg_path

    def start(self):
        self.logf = open(self.log, "a")
        mark = len(self.log.read_text()) if self.log.exists() else 0
        env = dict(os.environ, TAGPURGE_MY_PASSWORD="replpw")
        self.proc = subprocess.Popen([self.bin, "run", "-c", str(self.cfg_path), "-v"], env=env,
                                     stdout=self.logf, stderr=subprocess.STDOUT)

        def streaming():
            tp.check(self.proc.poll() is None, f"tagpurge exited {self.proc.returncode}:\n"
                     f"{self.log.read_text()[-3000:]}")
            return "source my: streaming" in self.log.read_text()[mark:]
        tp.wait(streaming, "tagpurge to stream the binlog", 20)

    def kill(self, sig=9):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=10)

    def finish(self):
        self._release()  # no slot to drop: the checkpoint is a file in self.tmp

    def stats(self):
        """The counters of a fresh SIGUSR1 line while tagpurge runs, else of the
        last 'stats:' line it logged (at exit)."""
        if self.proc is not None and self.proc.poll() is None:
            return super().stats()
        line = [l for l in self.log.read_text().splitlines() if "stats:" in l][-1]
        return {k: int(v) for k, v in (kv.split("=") for kv in line.split("stats: ")[1].split())}


def run(name, body):
    return tp.run(name, body, MyCase)
