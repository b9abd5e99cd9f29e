#!/usr/bin/env python3
"""MariaDB failover with "hosts": tagpurge follows the GTID state across servers.

1. A primary and a semi-synchronous GTID replica (log_slave_updates) started
   here, and a server
   with its own history; tagpurge with hosts [primary, other, replica] and a
   recording node (capture.py).  A loader thread
   commits one row per transaction; the primary is SIGKILLed mid-load, by the
   loader between two of its commits (semi-sync: the replica has every
   transaction the primary binlogged, so the GTID tagpurge read is there; a kill
   inside a commit could leave tagpurge ahead of the replica, a true gap).  Once the
   replica applied every transaction the loader saw commit, it is promoted and
   written to.  No GAP: the other server refuses our GTID state (1236), so the
   pass goes on to the replica, where tagpurge resumes by GTID; every committed
   transaction's exact tags reach the node, no fallback tag does, and none of
   the history written before tagpurge started (the replica's binlog holds it
   all) is purged.  Prints the time from the kill to the first purge through the
   promoted replica.
2. The promoted replica is killed and the next host is a server with its own
   history and no such GTID: the dump fails with error 1236, GAP is logged, the
   broad purge is delivered, and streaming continues at that server's end (its
   history is not purged): a write after purges exactly its tags.
"""
import os
import re
import subprocess
import sys
import threading
import time

import tp
import tpmy
import services

SCHEMA = """
CREATE TABLE items(id int PRIMARY KEY, cat int) CHARSET utf8mb4;
CREATE TABLE markers(id int PRIMARY KEY);
"""
HISTORY = range(100001, 100021)  # written before tagpurge starts: never purged
PROMOTED = range(200001, 200006)  # written on the promoted replica
OTHER = range(300001, 300011)     # the other server's own history


def mapping(db):
    return {f"{db}.items": {"tags": ["item-{id}", "cat-{cat}"], "fallback_tags": ["fb-items"]},
            f"{db}.markers": {"tags": ["marker-{id}"]}}


def tags(n):
    return {f"item-{n}", f"cat-{n % 7}"}


def received(stub):
    """[(receipt time, {tags})] of the PURGEKEYS the stub recorded."""
    out = []
    for method, hdrs, _, rec in stub.requests():
        if method == "PURGEKEYS" and "xkey-purge" in hdrs:
            out.append((rec["t_recv"], set(hdrs["xkey-purge"].split())))
    return out


def all_tags(stub):
    return set().union(*(t for _, t in received(stub))) if received(stub) else set()


def first_receipt(stub, tag):
    times = [t for t, ts in received(stub) if tag in ts]
    return min(times) if times else None


class Loader(threading.Thread):
    """Commits INSERT items(n, n % 7), one per transaction, until told to stop or
    the server fails; committed holds the n whose COMMIT returned.  Every fifth
    goes to GTID domain 1, so the state tagpurge follows has two domains."""

    def __init__(self, server, db, first):
        super().__init__(name="loader")
        self.server, self.db, self.n = server, db, first
        self.committed, self.halt, self.kill, self.error = [], threading.Event(), None, None
        self.t_kill = None

    def run(self):
        while not self.halt.is_set():
            if self.kill is not None and self.kill.is_set():
                self.t_kill = time.time()
                self.server.kill9()
                self.kill = None
            try:
                domain = 1 if self.n % 5 == 0 else 0
                self.server.sql(f"SET SESSION gtid_domain_id = {domain}; BEGIN; "
                                f"INSERT INTO items VALUES ({self.n}, {self.n % 7}); COMMIT;",
                                db=self.db)
            except services.ServiceError as e:  # the primary died: outcome unknown
                self.error = e
                return
            self.committed.append(self.n)
            self.n += 1


def rows(server, db, ids):
    have = server.sql(f"SELECT id FROM items WHERE id IN ({','.join(map(str, ids))})", db=db)
    return {int(x) for x in have.split()} if have else set()


def failover(c, primary, other, replica, stub):
    """Part 1: kill the primary mid-load, promote the replica: no gap, nothing missing."""
    loader = Loader(primary, c.db, 1)
    loader.kill = threading.Event()
    loader.start()
    try:
        tp.wait(lambda: len(loader.committed) >= 40 and
                sum(1 for n in loader.committed if f"item-{n}" in all_tags(stub)) >= 20,
                "load to be committed and purged", 30)
        loader.kill.set()
        loader.join(timeout=60)
    finally:
        loader.halt.set()
        loader.join()
    t_kill = loader.t_kill
    tp.check(t_kill is not None, "the loader did not kill the primary")
    committed = loader.committed
    tp.check(loader.error is not None, "the loader did not see the primary die")
    tp.wait(lambda: rows(replica, c.db, committed) == set(committed),
            f"the replica to apply all {len(committed)} committed transactions", 30)
    replica.promote()
    for n in PROMOTED:
        replica.sql(f"INSERT INTO items VALUES ({n}, {n % 7})", db=c.db)
    tp.wait(lambda: all(f"item-{n}" in all_tags(stub) for n in PROMOTED),
            "the promoted replica's writes to be purged", 30)
    log = c.log.read_text()
    got = all_tags(stub)
    missing = [n for n in committed if not tags(n) <= got]
    tp.check("GAP" not in log, "a failover with the GTID on the replica was logged as a gap")
    tp.check(not missing, f"{len(missing)} committed transactions missing: {missing[:10]}")
    tp.check("fb-items" not in got, "a broad purge was sent")
    tp.check(not any(f"item-{n}" in got for n in HISTORY),
             "the replica's history from before tagpurge started was replayed")
    where = f"connected to 127.0.0.1:{replica.port} (host 3 of 3"
    i_other = log.find(f"connected to 127.0.0.1:{other.port} (host 2 of 3")
    i_refused = log.find("which is not in the master's binlog", i_other)
    tp.check(0 <= i_other < i_refused < log.find(where),
             "the other server was not tried, and did not refuse our GTID, before the replica")
    tp.check(where in log, "tagpurge did not log the switch to the replica")
    resumed = re.search(r"reading binlog from \(gtid\):4 gtid (\S+)", log.split(where, 1)[1])
    tp.check(resumed is not None, "tagpurge did not resume on the replica by GTID")
    domains = sorted(int(t.split("-")[0]) for t in resumed.group(1).split(","))
    tp.check(domains == [0, 1], f"the resumed GTID state lost a domain: {resumed.group(1)}")
    t_first = min(first_receipt(stub, f"item-{n}") for n in PROMOTED)
    late = sum(1 for n in committed if first_receipt(stub, f"item-{n}") > t_kill)
    print(f"{len(committed)} transactions committed before the kill ({late} purged only after "
          "it), 0 missing; "
          f"kill -> first purge through the promoted replica: {(t_first - t_kill) * 1000:.0f} ms")


def no_gtid(c, replica, other, stub):
    """Part 2: the next host lacks the GTID: GAP (1236), broad purge, its end onwards."""
    c.stop()
    c.config([{"name": "edge", "type": "xkey", "nodes": [stub.url]}], mapping=mapping(c.db),
             extra={"heartbeat_ms": 500, "hosts": [f"127.0.0.1:{replica.port}",
                                                   f"127.0.0.1:{other.port}"]})
    c.start()
    replica.sql("INSERT INTO markers VALUES (1)", db=c.db)
    tp.wait(lambda: "marker-1" in all_tags(stub), "the replica to stream", 15)
    end = other.sql("SHOW MASTER STATUS").split("\t")[:2]
    t_kill = time.time()
    replica.kill9()
    c.wait_gap_1236_at((end[0], int(end[1])), timeout=30)
    tp.wait(lambda: any(t >= t_kill and "fb-items" in ts for t, ts in received(stub)),
            "the broad purge to be delivered", 15)
    other.sql("INSERT INTO items VALUES (300100, 3)", db=c.db)
    tp.wait(lambda: "item-300100" in all_tags(stub), "a write after the gap to be purged", 15)
    exact = [ts for _, ts in received(stub) if "item-300100" in ts]
    tp.check(exact == [tags(300100)], f"the write after the gap purged {exact}, not exactly "
             f"{tags(300100)}")
    tp.check(not any(f"item-{n}" in all_tags(stub) for n in OTHER),
             "the other server's history was replayed from its oldest binlog")
    tp.check(c.log.read_text().count("GAP:") == 1, "more than one gap")


def check_online(c, *servers):
    """`check --online` checks every listed host."""
    res = subprocess.run([c.bin, "check", "--online", "-c", str(c.cfg_path)], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, TAGPURGE_MY_PASSWORD="replpw"))
    out = res.stdout + res.stderr
    for i, s in enumerate(servers):
        tp.check(f"connected to 127.0.0.1:{s.port} (host {i + 1} of {len(servers)}" in out,
                 f"check --online did not check host {i + 1}:\n{out}")
    tp.check("source my: OK" in out, f"check --online found problems:\n{out}")


def body(c):
    servers = []
    try:
        primary = services.MariaDB(c.tmp / "primary")
        servers.append(primary)
        replica = services.MariaDB.replica_of(c.tmp / "replica", primary, semi_sync=True)
        servers.append(replica)
        other = services.MariaDB(c.tmp / "other", extra_args=("--server-id=3",))
        servers.append(other)
        for s in (primary, other):
            s.sql(f"CREATE DATABASE {c.db}")
            s.sql(SCHEMA, db=c.db)
        for n in HISTORY:
            primary.sql(f"INSERT INTO items VALUES ({n}, {n % 7})", db=c.db)
        for n in OTHER:
            other.sql(f"INSERT INTO items VALUES ({n}, {n % 7})", db=c.db)
        replica.wait_applied(primary.gtid())
        c.my = primary
        stub = c.stub("node")
        c.config([{"name": "edge", "type": "xkey", "nodes": [stub.url]}], mapping=mapping(c.db),
                 extra={"heartbeat_ms": 500,
                        "hosts": [f"127.0.0.1:{s.port}" for s in (primary, other, replica)]})
        check_online(c, primary, other, replica)
        c.start()
        failover(c, primary, other, replica, stub)
        no_gtid(c, replica, other, stub)
        c.stop()
    finally:
        c._release()
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(tpmy.run("my_failover", body))
