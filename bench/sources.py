"""The two change sources of the benchmarks, behind one small interface:
SQL on the bench database, tagpurge's source config, the load generator's
connection arguments and the mapping (same tags for both)."""
import os

# 64-byte sink headers and ~49-byte tags: one tag per request (fan-out).
FAN_TAG = "fanout-0123456789abcdef0123456789abcdef-{id}"


def mapping(table):
    """The benchmark mapping; table(name) gives the source's qualified name."""
    return {
        table("items"): {"tags": ["item-{id}", "cat-{cat}"]},
        table("lat"): {"tags": ["lat-{id}"]},
        table("hot"): {"tags": ["hot-{id}", "hot-list"]},
        table("fan"): {"tags": [FAN_TAG]},
        table("big"): {"tags": ["big-{id}"], "fallback_tags": ["big-all"]},
    }


class PgSource:
    name = "pg"
    label = "PostgreSQL"
    sink_slot = "sink_tp"

    def __init__(self, env):
        self.pg = env.pg
        self.conninfo = f"host=127.0.0.1 port={self.pg.port} dbname=bench user=postgres"

    def setup(self, schema_sql):
        self.pg.psql("CREATE DATABASE bench")
        self.sql(schema_sql)
        self.create_slot(self.sink_slot)

    def sql(self, q):
        return self.pg.psql(q, db="bench")

    def create_slot(self, slot):
        self.sql(f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")

    def drop_slot(self, slot):
        self.sql(f"SELECT pg_drop_replication_slot('{slot}')")

    @staticmethod
    def table(name):
        return f"public.{name}"

    def source_cfg(self, slot=None, publication="sinkpub", **_):
        return {"name": self.name, "type": "postgres", "conninfo": self.conninfo,
                "slot": slot or self.sink_slot, "publication": publication}

    def loadgen_args(self):
        return ["pg", "--conn", self.conninfo]

    @staticmethod
    def env():
        return {}

    def insert_range_sql(self, table, first, n):
        return f"INSERT INTO {table} SELECT generate_series({first}::bigint, {first + n - 1})"


class MySource:
    name = "my"
    label = "MariaDB"
    PW_ENV = "TP_BENCH_REPL_PW"
    LG_PW_ENV = "TP_BENCH_LOADGEN_PW"

    def __init__(self, env):
        self.my = env.mariadb
        self.port = self.my.port
        self._server_id = 5000

    def setup(self, schema_sql):
        self.my.sql("CREATE DATABASE bench")
        self.sql(schema_sql)

    def sql(self, q):
        return self.my.sql(q, db="bench")

    @staticmethod
    def table(name):
        return f"bench.{name}"

    def next_server_id(self):
        """A fresh replica id per connection: a reused one would kick the other out."""
        self._server_id += 1
        return self._server_id

    def source_cfg(self, start="end", **_):
        return {"name": self.name, "type": "mysql", "host": "127.0.0.1", "port": self.port,
                "user": "repl", "password_env": self.PW_ENV,
                "server_id": self.next_server_id(), "start": start}

    def loadgen_args(self):
        return ["my", "--host", "127.0.0.1", "--port", str(self.port), "--user", "bench",
                "--password-env", self.LG_PW_ENV, "--db", "bench"]

    @classmethod
    def env(cls):
        return {cls.PW_ENV: "replpw", cls.LG_PW_ENV: "benchpw"}

    def insert_range_sql(self, table, first, n):
        # seq_1_to_N is MariaDB's SEQUENCE engine: N rows without a loop.
        return f"INSERT INTO {table} SELECT {first - 1} + seq FROM seq_1_to_{n}"

    def binlog_file(self):
        return self.my.sql("SHOW MASTER STATUS").split("\t")[0]

    def binlog_size(self, name):
        for line in self.my.sql("SHOW BINARY LOGS").splitlines():
            parts = line.split("\t")
            if parts[0] == name:
                return int(parts[1])
        raise KeyError(name)


def process_env(*sources):
    env = dict(os.environ)
    for s in sources:
        env.update(s.env())
    return env
