"""The MariaDB side of the integration tests: a database per test on the
shared MariaDB 10.11, tagpurge reading its binlog, cache assertions through
real Varnish (inherited from tp.Case, with the MariaDB source adapter MySource).

The checkpoint is tagpurge's state file; "confirmed" means the (file, pos)
it holds is at or past a commit's end, read with SHOW MASTER STATUS right
after the commit.
"""
import json
import sys
import zlib

import tp

SCHEMA = """
CREATE TABLE products(id int PRIMARY KEY, category_id int, name varchar(255),
                      view_count int DEFAULT 0) CHARSET utf8mb4;
CREATE TABLE names(id int PRIMARY KEY, name varchar(255)) CHARSET utf8mb4;
CREATE TABLE markers(id int PRIMARY KEY);
"""


def mapping(db):
    return {f"{db}.{t.split('.')[1]}": v for t, v in tp.MAPPING.items()}


class MySource:
    """The harness's one MariaDB source adapter (tp.PgSource is PostgreSQL's): the
    database, the checkpoint (tagpurge's state file: binlog file and position), the
    source config and "streaming" for MyCase and the crash oracle
    (crash_oracle.MyOracleSource adds its replica and failover).  server: the
    services.MariaDB it talks to."""

    label, name, tagpurge_env = "mariadb", "my", {"TAGPURGE_MY_PASSWORD": "replpw"}
    SCHEMA = SCHEMA
    CONFIG = {"listen": "127.0.0.1:0"}  # a free port: never the default 9187 of a real install

    def __init__(self, c, server):
        self.c, self.server, self.db = c, server, c.db
        self.server_id = 1000 + zlib.crc32(c.name.encode()) % 100000
        self.state = c.tmp / "state" / "my.binlog.json"

    def fresh(self):
        self.server.sql(f"DROP DATABASE IF EXISTS {self.db}; CREATE DATABASE {self.db}")
        self.sql(self.SCHEMA)

    def sql(self, q):
        return self.server.sql(q, db=self.db)

    def position(self):
        file, pos = self.server.sql("SHOW MASTER STATUS").split("\t")[:2]
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

    def describe(self, pos):
        return str(pos)

    def what(self):
        return "the binlog checkpoint"

    def config(self, extra=None):
        src = {"name": self.name, "type": "mysql", "host": "127.0.0.1", "port": self.server.port,
               "user": "repl", "password_env": "TAGPURGE_MY_PASSWORD",
               "server_id": self.server_id}
        src.update(extra or {})
        if "hosts" in src:  # the list form replaces host/port
            del src["host"], src["port"]
        return src

    def streaming(self, mark):
        """tagpurge logged streaming after log offset mark."""
        return f"source {self.name}: streaming" in self.c.log.read_text()[mark:]

    def after_kill(self, timeout=None):
        pass  # no slot: the next tagpurge may connect at once

    def client(self):
        """A mariadb session for a workload: (argv, env, how to echo a marker)."""
        my = self.server
        argv = [tp.services.mariadb_binary("mariadb"), "--no-defaults", "-uroot",
                f"--socket={my.socket}", "-N", "-B", "--unbuffered", "--skip-reconnect",
                "--default-character-set=utf8mb4", f"--database={self.db}"]
        return argv, tp.services.mariadb_env(), lambda m: f"SELECT '{m}';\n"

    def restart_db(self):
        self.server.restart()

    def finish(self):
        pass  # no slot to drop: the checkpoint is a file in the case's tmp


class MyCase(tp.Case):
    """A case on the shared MariaDB 10.11 (tp.Case with MySource)."""

    SOURCE = MySource

    def _require(self):
        if self.env.mariadb is None:
            print("no MariaDB in the test environment")
            sys.exit(tp.SKIP)

    def _server(self):
        return self.env.mariadb

    def default_mapping(self):
        return mapping(self.db)

    @property
    def my(self):
        return self.src.server

    @my.setter
    def my(self, server):
        self.src.server = server

    @property
    def state(self):
        return self.src.state

    @property
    def server_id(self):
        return self.src.server_id

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


def run(name, body):
    return tp.run(name, body, MyCase)
