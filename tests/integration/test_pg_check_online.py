#!/usr/bin/env python3
"""Issue 5: `tagpurge check --online` against real servers configured wrongly
on purpose.  Each misconfiguration is reported with its exact fix and exit 1;
a correct setup exits 0 and every node accepts the purge method."""
import json
import os
import subprocess
import sys

import tp


def check(c, cfg, want_rc, *needles):
    path = c.tmp / "check.json"
    path.write_text(json.dumps(cfg))
    res = subprocess.run([c.bin, "check", "--online", "-c", str(path)], capture_output=True,
                         text=True, timeout=60)
    out = res.stdout + res.stderr
    tp.check(res.returncode == want_rc, f"exit {res.returncode}, wanted {want_rc}:\n{out}")
    for n in needles:
        tp.check(n in out, f"missing {n!r} in:\n{out}")
    return out


def body(c):
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    good = json.loads(c.cfg_path.read_text())
    src = good["sources"][0]
    out = check(c, good, 0, "the server is ready for tagpurge",
                f"node {c.node_url(0)} accepts PURGEKEYS (HTTP 200)",
                "tagpurge creates it at start")

    # Slot and publication missing, "create": false: the SQL to run.
    cfg = json.loads(json.dumps(good))
    cfg["sources"][0]["create"] = False
    check(c, cfg, 1, f"SELECT pg_create_logical_replication_slot('{c.slot}', 'pgoutput')",
          f"CREATE PUBLICATION {c.slot} FOR TABLE")

    # A slot of another plugin under that name.
    c.sql(f"SELECT pg_create_logical_replication_slot('{c.slot}', 'test_decoding')")
    try:
        check(c, good, 1, "is not a pgoutput slot")
    finally:
        c.sql(f"SELECT pg_drop_replication_slot('{c.slot}')")

    # Tags on a non-key column with REPLICA IDENTITY DEFAULT.
    c.sql("ALTER TABLE products REPLICA IDENTITY DEFAULT")
    check(c, good, 1, "ALTER TABLE public.products REPLICA IDENTITY FULL")
    c.sql("ALTER TABLE products REPLICA IDENTITY FULL")

    # A role that may not stream.
    c.pg.psql("DROP ROLE IF EXISTS tp_norepl; CREATE ROLE tp_norepl LOGIN")
    cfg = json.loads(json.dumps(good))
    cfg["sources"][0]["conninfo"] = src["conninfo"].replace("user=postgres", "user=tp_norepl")
    check(c, cfg, 1, "ALTER ROLE tp_norepl WITH REPLICATION")

    # A node that refuses the method (the VCL's ACL answers 403 to others; PURGE
    # without xkey headers is a URL purge, so use a method the VCL does not know).
    cfg = json.loads(json.dumps(good))
    cfg["sinks"] = [{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)],
                     "method": "PURGEKEYS", "header": "X-Nothing"},
                    {"name": "gone", "type": "xkey", "nodes": ["http://127.0.0.1:9/"]}]
    check(c, cfg, 1, "answers PURGEKEYS with HTTP 400", "acl purgers",
          "node http://127.0.0.1:9/ unreachable")

    # wal_level = replica, on a private server.
    os.chmod(c.tmp, 0o711)  # initdb runs as postgres: it must traverse the test folder
    pg2 = tp.services.Postgres(c.tmp / "pg2")
    try:
        pg2.psql("ALTER SYSTEM SET wal_level = replica")
        pg2.restart()
        cfg = json.loads(json.dumps(good))
        cfg["sources"][0]["conninfo"] = f"host=127.0.0.1 port={pg2.port} dbname=postgres " \
                                        f"user=postgres"
        check(c, cfg, 1, "set wal_level = logical in postgresql.conf and restart PostgreSQL")
    finally:
        pg2.stop()

    # The state file against the server: matching, then a slot dropped behind
    # tagpurge's back and a file from another cluster (each a gap at the next start).
    c.start()
    c.marker()
    c.stop()
    check(c, good, 0, "matches the server and slot")
    c.pg.psql(f"SELECT pg_drop_replication_slot('{c.slot}')")
    check(c, good, 1, f"replication slot {c.slot} is missing", "the next start is a GAP")
    st = c.tmp / "state" / "shop.postgres.json"
    st.write_text(st.read_text().replace('"systemid": "', '"systemid": "1'))
    check(c, good, 1, "system identifier", f"replication slot {c.slot} is missing")
    st.write_text("{")
    check(c, good, 1, "the state file is unreadable: the next start is a GAP")
    print(out.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(tp.run("pg_check_online", body))
