"""The crash oracle, shared by test_pg_crash_oracle.py and test_my_crash_oracle.py.

A workload thread commits transactions of varied shapes through a long-lived
command-line client (psql / mariadb fed on stdin) and records, for each one,
the tags the mapping must produce, computed here in Python from the mapping
rules: INSERT -> tags(new), DELETE -> tags(old), UPDATE -> tags(old) | tags(new)
(nothing when only an ignored column changed), a NULL value drops its tag,
values percent-encoded.  Foreign-key cascades (grps <- members, ON DELETE and
ON UPDATE CASCADE) count the cascaded child rows as changes too: PostgreSQL
logs them, the MySQL/MariaDB binlog does not.  A transaction counts as
committed only once the client printed the marker that follows a successful
COMMIT (ON_ERROR_STOP / no --force: any error ends the client first).  When the
client dies with a transaction in flight (the database restarted or failed
over), its outcome is read back after reconnecting: every transaction also
inserts its number into the unmapped table txlog, so the row is there exactly
when it committed.

The oracle runs its own database pair: a primary with a synchronous standby
(PostgreSQL) or a semi-synchronous GTID replica (MariaDB), so a COMMIT the
workload saw survives a failover; tagpurge lists both servers.  Meanwhile
tagpurge is started, killed with SIGKILL after a random time (some during
start-up, most mid-stream) and restarted, round after round, through a
schedule of faults that repeats every PERIOD rounds: one of the two recording
nodes (tests/harness/capture.py) frozen with SIGSTOP, down (connections
refused), back, then dead past flush_after_down_s (so it must stop holding the
checkpoint and owe a broad purge), the database restarted mid-round, the
PostgreSQL slot dropped while tagpurge is down (a GAP), and the primary
SIGKILLed under load and its standby or replica promoted (a GAP for
PostgreSQL, none for MariaDB, which follows the GTID).  At the end tagpurge runs
until its checkpoint passes the last commit, then every expected tag of every
committed transaction must have reached every node at or after the moment its
COMMIT was sent (or the table's fallback tag, a broad purge, must have), and no
tag unique to a transaction that did not commit (tx-N, ltx-N, mtx-N: the number
of the transaction that wrote the row) may have arrived anywhere.

TP_ORACLE_SEED=N replays a run's random choices (kill timing, workload);
TP_ORACLE_ROUNDS=N runs N kill rounds (default and minimum 30, one schedule);
TP_ORACLE_TXNS=N keeps going until N transactions were sent (a soak).
"""
import json
import os
import pathlib
import random
import re
import select
import signal
import subprocess
import threading
import time
import urllib.parse

import tp
import tpmy

# The run's size: TP_ORACLE_ROUNDS kill rounds (default 30, at least one schedule), or
# more until TP_ORACLE_TXNS transactions were sent (0: the rounds decide).  The
# schedule of faults repeats every PERIOD rounds, so a soak mixes them all in.
PERIOD = 30
ROUNDS = max(PERIOD, int(os.environ.get("TP_ORACLE_ROUNDS", "30")))
TXNS = int(os.environ.get("TP_ORACLE_TXNS", "0"))
# Node b is frozen (SIGSTOP), down (killed: connections refused) for less than
# flush_after_down_s, back, then dead: down past flush_after_down_s (1 s in those
# rounds), so it stops holding the checkpoint and owes a broad purge when back.
NODE_B = {8: "frozen", 9: "frozen", 10: "frozen", 11: "down", 12: "down", 13: "down",
          19: "dead", 20: "dead", 21: "dead"}
RESTART_ROUND = 16      # the database restarts during this round
SLOT_DROP_ROUND = 24    # PostgreSQL: the slot is dropped while tagpurge is down
FAILOVER_ROUND = 27     # the primary is SIGKILLed under load and its standby/replica promoted
DEAD_FLUSH_S = 1        # flush_after_down_s in the dead rounds
SLOW = os.environ.get("TAGPURGE_SANITIZED") == "1"
MAX_ROWS = 1500  # per table: past it inserts turn into deletes


def schedule(i):
    """What round i does: (node b state, database restart, slot drop, failover)."""
    k = i % PERIOD
    return NODE_B.get(k), k == RESTART_ROUND, k == SLOT_DROP_ROUND, k == FAILOVER_ROUND


FALLBACK = {"items": "fb-items", "labels": "fb-labels", "members": "fb-members"}
# Which table a tag comes from, by its prefix.
TABLE_OF = {"item-": "items", "cat-": "items", "tx-": "items", "lbl-": "labels",
            "label-": "labels", "ltx-": "labels", "mem-": "members", "grp-": "members",
            "mtx-": "members"}


def mapping(prefix):
    """items, labels and members of schema/database prefix; tags from every column kind.
    members.grp references grps(id) ON DELETE CASCADE ON UPDATE CASCADE: the cascaded
    rows are logged by PostgreSQL, not by the MySQL/MariaDB binlog."""
    return {
        f"{prefix}.items": {"tags": ["item-{id}", "cat-{cat}", "tx-{tx}"],
                            "fallback_tags": [FALLBACK["items"]], "ignore_columns": ["hits"]},
        f"{prefix}.labels": {"tags": ["lbl-{id}", "label-{name}", "ltx-{tx}"],
                             "fallback_tags": [FALLBACK["labels"]]},
        f"{prefix}.members": {"tags": ["mem-{id}", "grp-{grp}", "mtx-{tx}"],
                              "fallback_tags": [FALLBACK["members"]]},
    }


def table_of(tag):
    return next(t for p, t in TABLE_OF.items() if tag.startswith(p))


# tx-N / ltx-N / mtx-N carry the number of the transaction that wrote the row last:
# the new image's tag proves that transaction's purge, nobody else's.
UNIQUE = ("tx-{n}", "ltx-{n}", "mtx-{n}")

NAMES = ["plain", "a b", "x,y", "été", "dot.ted", "50%off", "o'neil", "semi;colon", "Ünï-cødé",
         "tab-less~", None]

_MAP = mapping("s")
TEMPLATES = {k.split(".")[1]: v["tags"] for k, v in _MAP.items()}
IGNORED = {k.split(".")[1]: set(v.get("ignore_columns", ())) for k, v in _MAP.items()}
TABLES = ("items", "labels", "members", "grps")  # grps: unmapped, the parent of members


def row_tags(table, row):
    """The tags of one row image (README "Mapping" rules 2, 4 and the encoding rule)."""
    out = set()
    for tmpl in TEMPLATES[table]:
        cols = re.findall(r"\{(\w+)\}", tmpl)
        if any(row[c] is None for c in cols):
            continue
        out.add(re.sub(r"\{(\w+)\}",
                       lambda m: urllib.parse.quote(str(row[m.group(1)]), safe="-._~"), tmpl))
    return out


def change_tags(table, old, new):
    if old is not None and new is not None and \
            all(old[k] == new[k] for k in old if k not in IGNORED[table]):
        return set()  # rule 6: only ignore_columns changed
    return (row_tags(table, old) if old else set()) | (row_tags(table, new) if new else set())


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"


class Txn:
    __slots__ = ("n", "kind", "sql", "tags", "unique", "changes", "rollback", "t_commit",
                 "image", "outcome", "epoch")

    def __init__(self, n, kind):
        self.n, self.kind = n, kind
        self.sql, self.tags, self.unique = [], set(), set()
        self.changes, self.rollback = 0, False
        self.t_commit = None
        self.image = None    # the tables as they are if it commits
        self.epoch = 0       # failovers before it was sent
        self.outcome = None  # "committed", "rolled back", "resolved committed", "resolved absent"


class Builder:
    """One transaction over a copy of the generator's image of the tables."""

    def __init__(self, gen, n, kind):
        self.g, self.t = gen, Txn(n, kind)
        self.img = {k: {i: dict(r) for i, r in v.items()} for k, v in gen.image.items()}
        self.items, self.labels = self.img["items"], self.img["labels"]
        self.members, self.grps = self.img["members"], self.img["grps"]

    def _record(self, table, old, new):
        tags = change_tags(table, old, new)
        self.t.tags |= tags
        self.t.changes += 1
        self.t.unique |= tags & {u.format(n=self.t.n) for u in UNIQUE}

    def cat(self):
        r = self.g.rng
        return None if r.random() < 0.1 else r.randint(1, 40)

    def pick(self, k):
        ids = sorted(self.items)
        return self.g.rng.sample(ids, min(k, len(ids)))

    def insert(self, k):
        if len(self.items) > MAX_ROWS:  # bounded tables: a soak's copies stay cheap
            return self.delete(k)
        rows = []
        for _ in range(k):
            self.g.next_id += 1
            rows.append({"id": self.g.next_id, "cat": self.cat(), "tx": self.t.n, "hits": 0})
        for row in rows:
            self.items[row["id"]] = row
            self._record("items", None, row)
        self.t.sql.append("INSERT INTO items(id, cat, tx, hits) VALUES " + ", ".join(
            f"({r['id']}, {lit(r['cat'])}, {r['tx']}, 0)" for r in rows))

    def update(self, k, new, assignments):
        """UPDATE k existing rows (an INSERT when there are none); new(old) -> changed columns."""
        ids = self.pick(k)
        if not ids:
            return self.insert(1)
        for i in ids:
            old = self.items[i]
            self.items[i] = dict(old, **new(old))
            self._record("items", old, self.items[i])
        self.t.sql.append(f"UPDATE items SET {assignments} "
                          f"WHERE id IN ({', '.join(map(str, ids))})")

    def move(self, k):
        """Rows move to one (new) category: the old and the new image matter."""
        cat, n = self.cat(), self.t.n
        self.update(k, lambda old: {"cat": cat, "tx": n}, f"cat = {lit(cat)}, tx = {n}")

    def hits(self, k):
        """Only an ignored column changes: nothing to purge."""
        self.update(k, lambda old: {"hits": old["hits"] + 1}, "hits = hits + 1")

    def delete(self, k):
        ids = self.pick(k)
        if not ids:
            return self.insert(1)
        for i in ids:
            self._record("items", self.items.pop(i), None)
        self.t.sql.append(f"DELETE FROM items WHERE id IN ({', '.join(map(str, ids))})")

    def label(self):
        r = self.g.rng
        ids = sorted(self.labels)
        op = r.random() if len(ids) < MAX_ROWS else 0.9
        if not ids or op < 0.4:
            self.g.next_label += 1
            row = {"id": self.g.next_label, "name": r.choice(NAMES), "tx": self.t.n}
            self.labels[row["id"]] = row
            self._record("labels", None, row)
            self.t.sql.append(f"INSERT INTO labels(id, name, tx) VALUES "
                              f"({row['id']}, {lit(row['name'])}, {row['tx']})")
        elif op < 0.8:
            i = r.choice(ids)
            old = self.labels[i]
            self.labels[i] = dict(old, name=r.choice(NAMES), tx=self.t.n)
            self._record("labels", old, self.labels[i])
            self.t.sql.append(f"UPDATE labels SET name = {lit(self.labels[i]['name'])}, "
                              f"tx = {self.t.n} WHERE id = {i}")
        else:
            i = r.choice(ids)
            self._record("labels", self.labels.pop(i), None)
            self.t.sql.append(f"DELETE FROM labels WHERE id = {i}")

    def group(self):
        """A new parent row (unmapped) with a few members."""
        if len(self.members) > MAX_ROWS:
            return self.unmember()
        self.g.next_grp += 1
        g = self.g.next_grp
        self.grps[g] = {"id": g}
        self.t.sql.append(f"INSERT INTO grps(id) VALUES ({g})")
        for _ in range(self.g.rng.randint(1, 4)):
            self.member(g)

    def unmember(self):
        """Bounded tables: a plain DELETE of a few members (those without a group never
        go by cascade)."""
        ids = self.g.rng.sample(sorted(self.members), min(3, len(self.members)))
        for m in ids:
            self._record("members", self.members.pop(m), None)
        self.t.sql.append(f"DELETE FROM members WHERE id IN ({', '.join(map(str, ids))})")

    def member(self, g=None):
        if g is None and len(self.members) > MAX_ROWS:
            return self.unmember()
        if g is None and not self.grps:
            return self.group()
        r = self.g.rng
        g = g if g is not None else r.choice(sorted(self.grps) + [None])
        self.g.next_member += 1
        row = {"id": self.g.next_member, "grp": g, "tx": self.t.n}
        self.members[row["id"]] = row
        self._record("members", None, row)
        self.t.sql.append(f"INSERT INTO members(id, grp, tx) VALUES "
                          f"({row['id']}, {lit(g)}, {row['tx']})")

    def cascade(self):
        """A parent deleted (its members cascade away) or renumbered (their grp follows):
        the children's rows are never in the MySQL/MariaDB binlog."""
        if not self.grps:
            return self.group()
        r = self.g.rng
        g = r.choice(sorted(self.grps))
        kids = [m for m in sorted(self.members) if self.members[m]["grp"] == g]
        if r.random() < 0.5:
            for m in kids:
                self._record("members", self.members.pop(m), None)
            del self.grps[g]
            self.t.sql.append(f"DELETE FROM grps WHERE id = {g}")
            return
        self.g.next_grp += 1
        to = self.g.next_grp
        for m in kids:
            old = self.members[m]
            self.members[m] = dict(old, grp=to)
            self._record("members", old, self.members[m])
        self.grps[to] = self.grps.pop(g)
        self.grps[to]["id"] = to
        self.t.sql.append(f"UPDATE grps SET id = {to} WHERE id = {g}")


SHAPES = [  # (weight, kind, build)
    (14, "insert", lambda b: b.insert(1)),
    (8, "insert-multi", lambda b: b.insert(b.g.rng.randint(2, 6))),
    (14, "move", lambda b: b.move(1)),
    (7, "move-multi", lambda b: b.move(b.g.rng.randint(2, 5))),
    (6, "delete", lambda b: b.delete(1)),
    (4, "delete-multi", lambda b: b.delete(b.g.rng.randint(2, 4))),
    (4, "ignored", lambda b: b.hits(b.g.rng.randint(1, 3))),
    (10, "label", lambda b: b.label()),
    (4, "group", lambda b: b.group()),
    (5, "member", lambda b: b.member()),
    (5, "cascade", lambda b: b.cascade()),
    (15, "multi-statement", lambda b: [f(b) for f in b.g.rng.sample(
        [lambda x: x.insert(2), lambda x: x.move(2), lambda x: x.delete(1), lambda x: x.label(),
         lambda x: x.move(1), lambda x: x.hits(1), lambda x: x.cascade()],
        b.g.rng.randint(2, 5))]),
]


class Session:
    """One client process; lines read with a deadline (binary pipe, own buffer)."""

    def __init__(self, argv, env, echo, errlog):
        self.echo = echo
        with open(errlog, "ab") as err:
            self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=err, env=env)
        self.buf = b""

    def send(self, text):
        try:
            self.p.stdin.write(text.encode())
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def line(self, timeout):
        """The next output line, or None (client gone, or nothing for timeout s)."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace")

    def ask(self, sql, marker, timeout=20.0):
        """Run sql, then print marker; the lines before the marker, or None."""
        if not self.send(sql + self.echo(marker)):
            return None
        out = []
        while True:
            ln = self.line(timeout)
            if ln is None:
                return None
            if ln == marker:
                return out
            out.append(ln)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass


class Workload(threading.Thread):
    """Serial transactions, recorded; survives the database going away."""

    def __init__(self, client, seed, errlog):
        super().__init__(name="workload", daemon=True)
        self.client, self.errlog = client, errlog   # client() -> (argv, env, echo)
        self.rng = random.Random(seed * 7919 + 1)
        self.image = {t: {} for t in TABLES}
        self.next_id = self.next_label = self.next_grp = self.next_member = 0
        self.n = 0
        self.epoch = 0  # failovers so far (the oracle counts them)
        self.txns = []
        self.pending = None
        self.session = None
        self.connects = 0
        self.halt = threading.Event()
        self.error = None

    # -- the thread
    def run(self):
        try:
            while not self.halt.is_set() and (TXNS == 0 or self.n < TXNS):
                if not self.connect():
                    continue
                self.one()
                # Pacing the workload (seeded): a steady stream, not a busy loop.
                time.sleep(self.rng.uniform(0.004, 0.012 if not SLOW else 0.02))
            deadline = time.monotonic() + 60
            while self.pending is not None:  # settle the last unknown outcome
                tp.check(time.monotonic() < deadline, "could not settle a transaction's outcome")
                self.connect()
        except BaseException as e:  # reported by the main thread
            self.error = e
        finally:
            if self.session is not None:
                self.session.close()

    def stop(self):
        self.halt.set()
        self.join(90)
        tp.check(not self.is_alive(), "the workload did not stop")
        if self.error is not None:
            raise self.error

    def connect(self):
        if self.session is not None and self.session.p.poll() is None:
            return True
        if self.session is not None:
            self.session.close()
        argv, env, echo = self.client()
        s = Session(argv, env, echo, self.errlog)
        if s.ask("", "READY", timeout=10) is None:
            s.close()
            self.session = None
            # Pacing reconnects while the database is down on purpose (restart, failover);
            # run()'s loop is the wait, ended by halt or the settle deadline.
            time.sleep(0.1)
            return False
        self.session = s
        self.connects += 1
        if self.pending is not None:
            t = self.pending
            out = s.ask(f"SELECT count(*) FROM txlog WHERE n = {t.n};\n", "R", timeout=10)
            if out is None:
                s.close()
                self.session = None
                return False
            tp.check(out in (["0"], ["1"]), f"txlog lookup of {t.n}: {out}")
            # Absent from a promoted server, it may still have committed on the old
            # primary and been purged from there: neither expected nor a leak.
            absent = "failover absent" if t.epoch != self.epoch else "resolved absent"
            self.settle(t, "resolved committed" if out == ["1"] else absent)
            self.pending = None
        return True

    def one(self):
        self.n += 1
        w = self.rng.uniform(0, sum(x[0] for x in SHAPES))
        for weight, kind, build in SHAPES:
            w -= weight
            if w <= 0:
                break
        b = Builder(self, self.n, kind)
        build(b)
        t = b.t
        t.rollback = self.rng.random() < 0.08
        t.image, t.epoch = b.img, self.epoch
        body = ("BEGIN;\n" + "".join(s + ";\n" for s in t.sql) +
                f"INSERT INTO txlog(n) VALUES ({t.n});\n")
        self.txns.append(t)
        t.t_commit = time.time()  # replaced below; a lower bound if the client dies first
        out = self.session.ask(body, f"S {t.n}", timeout=60)
        if out is not None:
            # Nothing of this transaction can be purged before its COMMIT starts.
            t.t_commit = time.time()
            out = self.session.ask("ROLLBACK;\n" if t.rollback else "COMMIT;\n", f"C {t.n}",
                                   timeout=60)
        if out is None:
            # The client died (the database restarted): the outcome is read back from
            # txlog after reconnecting, when no session of the old server is left.
            # A client that hangs instead could still commit later: not a case to guess.
            try:
                self.session.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise tp.Fail(f"transaction {t.n} hung for 60 s") from None
            self.pending = t
            self.session.close()
        else:
            self.settle(t, "rolled back" if t.rollback else "committed")

    def settle(self, t, outcome):
        t.outcome = outcome
        if outcome in ("committed", "resolved committed"):
            self.image = t.image
        t.image = None


def committed(t):
    return t.outcome in ("committed", "resolved committed")


def received(stub):
    """{tag: newest receipt time}, {tag: occurrences} of the PURGEKEYS a stub recorded."""
    last, occ = {}, {}
    for method, hdrs, _, rec in stub.requests():
        if method != "PURGEKEYS" or "xkey-purge" not in hdrs:
            continue
        for tag in hdrs["xkey-purge"].split():
            last[tag] = max(last.get(tag, 0.0), rec["t_recv"])
            occ[tag] = occ.get(tag, 0) + 1
    return last, occ


SCHEMA = """
CREATE TABLE items(id int PRIMARY KEY, cat int, tx int NOT NULL, hits int NOT NULL DEFAULT 0);
CREATE TABLE labels(id int PRIMARY KEY, name varchar(255), tx int NOT NULL);
CREATE TABLE grps(id int PRIMARY KEY);
CREATE TABLE members(id int PRIMARY KEY, grp int, tx int NOT NULL,
  FOREIGN KEY (grp) REFERENCES grps(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE txlog(n int PRIMARY KEY);
"""


def verify_dead(rounds):
    """A node dead past flush_after_down_s stopped holding the checkpoint."""
    dead = [(p, q) for p, q in zip(rounds, rounds[1:]) if q["node_b"] == "dead"]
    moved = sum(1 for p, q in dead if None not in (p["confirmed"], q["confirmed"]) and
                q["confirmed"] > p["confirmed"])
    tp.check(not dead or moved > 0, f"the checkpoint never advanced in {len(dead)} rounds "
             f"with node b dead past flush_after_down_s")


class PgOracleSource(tp.PgSource):
    """PostgreSQL (the harness's adapter, tp.PgSource): the checkpoint is the slot's
    confirmed_flush_lsn.  The oracle's own primary with a synchronous physical standby
    (a COMMIT the workload saw is on both), so a failover loses no committed
    transaction; tagpurge lists both hosts (target_session_attrs=read-write) and must
    treat the missing slot as a gap."""

    STANDBY_CONF = "wal_retrieve_retry_interval = '100ms'\n"
    SCHEMA = tp.SCHEMA + SCHEMA + ("ALTER TABLE items REPLICA IDENTITY FULL;\n"
                                   "ALTER TABLE labels REPLICA IDENTITY FULL;\n"
                                   "ALTER TABLE members REPLICA IDENTITY FULL;\n")

    def __init__(self, c, server):
        # c is an OraclePgCase (a tp.PrivateCase): server is the oracle's own primary,
        # c.servers its servers (stopped by c.finish()).
        super().__init__(c, server)
        self.servers, self.failovers = c.servers, []
        self.standby = None

    @property
    def primary(self):
        return self.server

    def fresh(self):
        super().fresh()
        self.new_standby()

    def new_standby(self):
        root = self.c.tmp / f"pg{len(self.servers)}"
        self.standby = tp.services.Postgres.standby(root, self.primary, conf=self.STANDBY_CONF)
        self.servers.append(self.standby)
        self.primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.primary.psql("SELECT pg_reload_conf()")

    def failover(self):
        """SIGKILL the primary under load, promote the standby, give it a new standby."""
        t0 = time.monotonic()
        self.primary.kill9()
        self.standby.promote()
        self.server, self.standby = self.standby, None
        self.failovers.append(time.monotonic() - t0)
        self.new_standby()

    def drop_slot(self):
        self.server.psql(f"SELECT pg_drop_replication_slot('{self.slot}')")

    def close(self):
        pass  # c.finish() stops c.servers

    def verify_faults(self, oracle, rounds, log):
        """Each slot drop and failover was a gap: logged, and purged broadly; the slot
        exists on the new primary."""
        drops = sum(1 for x in rounds if x["drop_slot"] or x["failover"])
        tp.check(log.count("GAP:") >= drops, f"{drops} slot drops or failovers, "
                 f"{log.count('GAP:')} GAPs logged")
        tp.check(tp.PgSource.confirmed(self) > 0, "no slot on the primary after the run")
        verify_dead(rounds)

    def configure(self, sinks, delivery):
        path = self.c.config(sinks, delivery, mapping=mapping("public"))
        cfg = json.loads(path.read_text())
        hosts = [pg for pg in (self.primary, self.standby) if pg is not None]
        cfg["sources"][0]["conninfo"] = (
            f"host={','.join(pg.host for pg in hosts)} "
            f"port={','.join(str(pg.port) for pg in hosts)} "
            f"target_session_attrs=read-write dbname={self.db} user=postgres")
        path.write_text(json.dumps(cfg, indent=2))

    def confirmed(self):
        """None while the server is down (a round may end in a restart or failover)."""
        try:
            return super().confirmed()
        except tp.services.ServiceError:
            return None


class OraclePgCase(tp.PrivateCase):
    SOURCE = PgOracleSource


def last_binlog_gtid(datadir):
    """(domain, server, seq) of the newest GTID event in a (dead) server's binlog files."""
    files = sorted(pathlib.Path(datadir).glob("binlog.[0-9]*"), reverse=True)
    for f in files:
        out = subprocess.run([tp.services.mariadb_binary("mariadb-binlog"), "--no-defaults",
                              str(f)], capture_output=True, text=True,
                             env=tp.services.mariadb_env()).stdout
        found = re.findall(r"GTID (\d+)-(\d+)-(\d+)", out)
        if found:
            return tuple(int(x) for x in found[-1])
    return None


class MyOracleSource(tpmy.MySource):
    """MariaDB (the harness's adapter, tpmy.MySource): the checkpoint is tagpurge's
    state file (binlog file, position, GTID state).  The oracle's own primary with a
    semi-synchronous replica (log_slave_updates, GTID): a COMMIT the workload saw is on
    the replica, so a failover loses none, and tagpurge (hosts: both) must continue at
    its GTID on the promoted replica."""

    SCHEMA = SCHEMA.replace(");", ") CHARSET utf8mb4;")
    drop_slot = None

    def __init__(self, c, server):
        # server (the shared MariaDB) is not used: the oracle runs its own primary.
        self.servers, self.failovers = [], []
        super().__init__(c, self.own(tp.services.MariaDB(c.tmp / "my0")))
        self.replica = None

    @property
    def primary(self):
        return self.server

    def own(self, my):
        self.servers.append(my)
        return my

    def fresh(self):
        self.new_replica()
        self.primary.sql(f"CREATE DATABASE {self.db}")
        self.sql(self.SCHEMA)

    def new_replica(self):
        n = len(self.servers)
        self.replica = self.own(tp.services.MariaDB.replica_of(
            self.c.tmp / f"my{n}", self.primary, server_id=n + 1, semi_sync=True))

    def failover(self):
        """SIGKILL the primary under load; the replica applies what it received and is
        promoted; it gets a new replica for the next failover."""
        t0 = time.monotonic()
        old = self.primary
        old.kill9()
        r = self.replica

        def applied():
            st = r.slave_status()
            return (st.get("Master_Log_File") == st.get("Relay_Master_Log_File") and
                    st.get("Read_Master_Log_Pos") == st.get("Exec_Master_Log_Pos"))
        tp.wait(applied, "the replica to apply its relay log", 30)
        have = r.gtid("gtid_slave_pos")
        r.promote()
        last = last_binlog_gtid(old.datadir)
        # A transaction in the old primary's binlog that never reached the replica (the
        # kill came before its semi-sync ACK): tagpurge may have read it, so resuming
        # at its GTID state on the replica fails (1236), which is then a real gap.
        lacking = last is not None and have.get(last[0], -1) < last[2]
        self.server, self.replica = r, None
        self.failovers.append({"s": time.monotonic() - t0, "lacking": lacking})
        self.new_replica()

    def close(self):
        for my in self.servers:
            try:
                my.kill9()
            except tp.services.ServiceError:
                pass

    def verify_faults(self, oracle, rounds, log):
        """A MariaDB failover continues at the GTID: no gap, unless the promoted replica
        lacked a transaction of the old primary's binlog."""
        gaps = [ln for ln in log.splitlines() if "GAP:" in ln]
        lacking = sum(1 for f in self.failovers if f["lacking"])
        tp.check(len(gaps) <= lacking, f"{len(gaps)} GAPs logged, {lacking} failovers to a "
                 f"replica that lacked a transaction: " + "; ".join(gaps)[:2000])
        tp.check(len(self.failovers) == sum(1 for x in rounds if x["failover"]),
                 "a failover round did not fail over")
        verify_dead(rounds)

    def configure(self, sinks, delivery):
        path = self.c.config(sinks, delivery, mapping=mapping(self.db))
        cfg = json.loads(path.read_text())
        src = cfg["sources"][0]
        del src["host"], src["port"]
        src["hosts"] = [f"{my.host}:{my.port}" for my in (self.primary, self.replica) if my]
        path.write_text(json.dumps(cfg, indent=2))


class OracleMyCase(tpmy.MyCase):
    SOURCE = MyOracleSource


class Oracle:
    """The kill loop and the final comparison; src is the case's source adapter
    (PgOracleSource or MyOracleSource)."""

    def __init__(self, c, src):
        self.c, self.src = c, src
        self.seed = int(os.environ.get("TP_ORACLE_SEED") or
                        random.SystemRandom().randrange(1 << 30))
        self.rng = random.Random(self.seed)
        self.rounds = []
        self.nodes = {}
        self.gen = None

    def configure(self, node_b):
        """The config of the next round: flush_after_down_s is short in the dead rounds."""
        delivery = {"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 500,
                    "timeout_ms": 500}
        if node_b == "dead":
            delivery["flush_after_down_s"] = DEAD_FLUSH_S
        self.src.configure([{"name": "edge", "type": "xkey",
                             "nodes": [s.url for s in self.nodes.values()]}], delivery)

    def spawn(self):
        """Start tagpurge without waiting for anything; the log offset it starts at."""
        c = self.c
        mark = c.log.stat().st_size if c.log.exists() else 0
        c.proc = subprocess.Popen([c.bin, "run", "-c", str(c.cfg_path), "-v"],
                                  stdout=c.logf, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **self.src.tagpurge_env))
        return mark

    def kill(self):
        self.c.proc.kill()
        self.c.proc.wait(timeout=10)
        self.src.after_kill(20)

    def streamed(self, mark):
        with open(self.c.log, "rb") as f:
            f.seek(mark)
            return b": streaming" in f.read()

    def sleep_time(self, node_b=None):
        r = self.rng.random()
        if node_b == "dead":
            # Past flush_after_down_s and the retries that find the node down.
            return self.rng.uniform(DEAD_FLUSH_S + 1.0, DEAD_FLUSH_S + 2.5)
        if node_b is not None:
            # Long enough for retries, backoff and server keepalives to happen while the
            # checkpoint must hold.
            return self.rng.uniform(0.5, 2.5)
        if r < 0.3:
            return self.rng.uniform(0.005, 0.1)   # start-up, connecting, catching up
        if r < 0.4:
            return self.rng.uniform(0.1, 0.3)
        return self.rng.uniform(0.3, 1.5)         # mid-stream

    def node_b(self, state, before):
        b = self.nodes["b"]
        if state == "frozen" and before is None:
            b.proc.send_signal(signal.SIGSTOP)
        elif state in ("down", "dead") and before == "frozen":
            b.stop()   # SIGCONT, then SIGKILL: whatever it had not read yet is gone
        elif state in ("down", "dead") and before is None:
            b.stop()
        elif state is None and before in ("down", "dead"):
            b.start()

    def mid_round(self, mark, sleep, what):
        """Midway through a streaming round, what() happens to the database; this same
        tagpurge process must stream again by itself.  (seconds what() took, seconds
        until tagpurge streamed again), and the rest of the round's deadline."""
        tp.wait(lambda: self.streamed(mark), "tagpurge to stream before the fault", 30)
        # The fault's moment under load is the thing under test (sleep is seeded-random).
        time.sleep(sleep / 2)
        t1 = time.monotonic()
        again = self.c.log.stat().st_size
        what()
        took = time.monotonic() - t1
        tp.wait(lambda: self.streamed(again), "tagpurge to stream again after the fault",
                90 if SLOW else 60)
        return (took, time.monotonic() - t1), time.monotonic() + sleep / 2

    def round(self, i):
        state, restart_db, drop_slot, failover = schedule(i)
        drop_slot = drop_slot and self.src.drop_slot is not None
        failover = failover and self.src.failover is not None
        before = schedule(i - 1)[0] if i > 0 else None
        self.node_b(state, before)
        if drop_slot:
            self.src.drop_slot()   # tagpurge is down: the next start must find the gap
        self.configure(state)
        mark = self.spawn()
        sleep, fault = self.sleep_time(state), None
        deadline = time.monotonic() + sleep
        if restart_db:
            fault, deadline = self.mid_round(mark, sleep, self.src.restart_db)
        elif failover:
            def promote():
                self.gen.epoch += 1
                self.src.failover()
            fault, deadline = self.mid_round(mark, sleep, promote)
            self.configure(state)   # the next rounds list the new topology
        # The round's length (seeded-random) is the thing under test: SIGKILL lands at an
        # arbitrary point of the stream.  tagpurge must stay up all along.
        tp.hold(lambda: self.c.proc.poll() is None,
                lambda: f"tagpurge exited {self.c.proc.returncode} in round {i}:\n"
                f"{self.c.log.read_text(errors='replace')[-3000:]}",
                max(0.0, deadline - time.monotonic()))
        self.kill()
        self.rounds.append({"sleep": sleep, "node_b": state, "restart": restart_db,
                            "failover": failover, "drop_slot": drop_slot, "fault": fault,
                            "streamed": self.streamed(mark), "confirmed": self.src.confirmed()})

    def kill_loop(self):
        c = self.c
        self.nodes = {"a": c.stub("a"), "b": c.stub("b")}
        self.configure(None)
        # The slot (the first checkpoint) exists before the first change.
        c.start()
        self.gen = gen = Workload(self.src.client, self.seed, c.tmp / "workload.err")
        gen.start()
        try:
            # The first SIGKILL lands under load: once the workload has begun its transactions.
            tp.wait(lambda: gen.n > 0 or gen.error is not None or not gen.is_alive(),
                    "the workload's first transaction", 30)
            self.kill()
            i = 0
            while i < ROUNDS or (TXNS and gen.is_alive()):
                tp.check(gen.error is None and (gen.is_alive() or TXNS),
                         f"workload failed: {gen.error!r}")
                self.round(i)
                i += 1
        finally:
            self.nodes["b"].proc.send_signal(signal.SIGCONT)
            gen.halt.set()
        gen.stop()
        self.node_b(None, self.rounds[-1]["node_b"] if self.rounds else None)

    def run(self):
        c = self.c
        t_start = time.monotonic()
        print(f"oracle {self.src.label}: seed {self.seed} (TP_ORACLE_SEED={self.seed} replays it)"
              f", {ROUNDS} rounds, {TXNS or 'unbounded'} transactions", flush=True)
        try:
            self.kill_loop()
            loop_s = time.monotonic() - t_start
            self.configure(None)
            target = self.src.position()
            mark = self.spawn()
            t_drain = time.monotonic()
            # Streaming too: a SIGTERM before its handlers are installed would end it (-15).
            tp.wait(lambda: (self.src.confirmed() or 0) >= target and c.proc.poll() is None and
                    self.streamed(mark),
                    f"the checkpoint to reach {target} (at {self.src.confirmed()})",
                    90 if SLOW else 45, step=0.05)
            drain_s = time.monotonic() - t_drain
            c.stop()
        finally:
            self.src.close()
        log = c.log.read_text(errors="replace")
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            tp.check(bad not in log, f"sanitizer report in the tagpurge log ({bad})")
        self.verify(self.gen, log, loop_s, drain_s, time.monotonic() - t_start)

    def compare(self, txns, absent):
        """Every expected tag on every node after its COMMIT, or a broad purge after it."""
        missing, leaked, broad, dup = [], [], 0, []
        for name, stub in self.nodes.items():
            last, occ = received(stub)
            for t in txns:
                for tag in sorted(t.tags):
                    if last.get(tag, 0.0) >= t.t_commit:
                        continue
                    if last.get(FALLBACK[table_of(tag)], 0.0) >= t.t_commit:
                        broad += 1   # a broad purge after the transaction covers it
                        continue
                    missing.append((name, t, tag, last.get(tag)))
                dup += [occ.get(u, 0) for u in t.unique]
            leaked += [(name, t, u) for t in absent for u in sorted(t.unique) if u in last]
        return missing, leaked, broad, dup

    def verify(self, gen, log, loop_s, drain_s, total_s):
        txns = [t for t in gen.txns if committed(t)]
        absent = [t for t in gen.txns if t.outcome in ("rolled back", "resolved absent")]
        unsettled = [t.n for t in gen.txns if t.outcome is None]
        tp.check(not unsettled, f"transactions without an outcome: {unsettled}")
        resolved = [t for t in gen.txns if t.outcome.startswith("resolved") or
                    t.outcome == "failover absent"]
        missing, leaked, broad, dup = self.compare(txns, absent)
        r = self.rounds
        count = lambda k: sum(1 for x in r if x[k])  # noqa: E731
        states = {st: sum(1 for x in r if x["node_b"] == st) for st in ("frozen", "down", "dead")}
        conf = [x["confirmed"] for x in r]
        advanced = sum(1 for p, q in zip(conf, conf[1:])
                       if p is not None and q is not None and q > p)
        faults = [x for x in r if x["fault"] is not None]
        gaps = log.count("GAP:")
        cascades = sum(1 for t in txns if t.kind == "cascade")
        print(f"rounds: {sum(1 for x in r if x['sleep'] < 0.1)} killed within 100 ms of start, "
              f"{len(r) - count('streamed')} before streaming began, checkpoint advanced in "
              f"{advanced}; node b frozen for {states['frozen']} rounds, down for "
              f"{states['down']}, dead past flush_after_down_s for {states['dead']}; "
              f"{count('restart')} database restarts, {count('drop_slot')} slot drops, "
              f"{count('failover')} failovers; the workload reconnected {gen.connects - 1} times")
        for x in faults:
            kind = "failover" if x["failover"] else "database restart"
            print(f"  {kind}: took {x['fault'][0]:.1f} s, tagpurge streamed again "
                  f"{x['fault'][1]:.1f} s after it began")
        print(f"workload: {len(gen.txns)} sent, {len(txns)} committed, {len(absent)} rolled "
              f"back or absent, {len(resolved)} unknown outcomes resolved "
              f"({sum(1 for t in resolved if committed(t))} committed), "
              f"{sum(1 for t in txns if not t.tags)} committed with nothing to purge, "
              f"{cascades} cascades; {broad} tags covered only by a broad purge; {gaps} GAPs "
              f"logged")
        print(f"timing: kill loop {loop_s:.1f} s, final catch-up {drain_s:.1f} s, "
              f"total {total_s:.1f} s")
        print(f"oracle {self.src.label}: seed {self.seed}, {len(r)} rounds, {len(txns)} "
              f"transactions, {sum(t.changes for t in txns)} changes, "
              f"{sum(len(t.tags) for t in txns)} expected tags on {len(self.nodes)} nodes, "
              f"{len(missing)} missing, {len(leaked)} leaked, {gaps} gaps, "
              f"{sum(dup) / max(1, len(dup)):.1f}x duplicates (max {max(dup, default=0)}), "
              f"{total_s:.0f} s", flush=True)
        for name, t, tag, at in missing[:15]:
            at = "never" if at is None else f"{at:.3f}"
            print(f"  MISSING on node {name}: {tag} of transaction {t.n} ({t.kind}, {t.outcome}, "
                  f"COMMIT sent {t.t_commit:.3f}, newest receipt {at})")
        for name, t, u in leaked[:15]:
            print(f"  LEAKED to node {name}: {u} of transaction {t.n} ({t.kind}, {t.outcome})")
        # A client dies with a transaction in flight only when the database goes away.
        tp.check(len(resolved) <= len(faults), f"{len(resolved)} transactions lost their "
                 f"client: a workload error? {(self.c.tmp / 'workload.err').read_text()[-2000:]}")
        tp.check(not missing, f"{len(missing)} expected tags never purged after their commit "
                 f"(seed {self.seed})")
        tp.check(not leaked, f"{len(leaked)} tags of transactions that did not commit were "
                 f"purged (seed {self.seed})")
        tp.check(len(r) >= PERIOD and count("streamed") > 0 and advanced > 0 and
                 len(txns) > 100 and cascades > 0,
                 f"the run did not exercise enough: {len(r)} rounds, {count('streamed')} "
                 f"streaming, {advanced} advancing, {len(txns)} transactions, {cascades} "
                 f"cascades")
        self.src.verify_faults(self, r, log)


def main(source):
    """Run the oracle against source "pg" or "mariadb"; the exit status for ctest."""
    if source == "pg":
        return tp.run("pg_crash_oracle", lambda c: Oracle(c, c.src).run(), OraclePgCase)
    return tp.run("my_crash_oracle", lambda c: Oracle(c, c.src).run(), OracleMyCase)
