#!/usr/bin/env python3
"""Failover to a promoted physical standby with a libpq multi-host conninfo
(host=a,b port=p1,p2 target_session_attrs=read-write).  The primary is
SIGKILLed, the standby promoted: the logical slot did not exist there
(PostgreSQL <= 16), so tagpurge reconnects to the new primary, logs GAP,
purges broadly, creates the slot and carries on purging exactly.  Prints the
time from the kill (and from the promotion) to the first purge through the
new primary."""
import subprocess
import sys
import time

import tp
from tp import services


def body(c):
    primary = c.pg
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.sql("INSERT INTO names VALUES (1, 'n')")
    standby = services.Postgres.standby(c.tmp / "standby", primary)
    c.servers.append(standby)
    tp.check(standby.in_recovery(), "the standby is not in recovery")
    conninfo = (f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} dbname={c.db} "
                f"user=postgres target_session_attrs=read-write")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}],
             extra={"conninfo": conninfo})
    c.start()
    c.marker()
    tp.check("GAP" not in c.log.read_text(), "a GAP before the failover")
    st = c.state_file()
    tp.check(st and st["timeline"] == 1, f"state file before the failover: {st}")

    # The standby has replayed everything so far, including the database.
    end = tp.lsn(primary.psql("SELECT pg_current_wal_lsn()"))
    tp.wait(lambda: tp.lsn(standby.psql("SELECT pg_last_wal_replay_lsn()")) >= end,
            "the standby to catch up")
    before = c.warm_all(["product-list", "names", "product-1", "name-n"], nodes=[0])

    t_kill = time.monotonic()
    primary.kill9()
    # Promote only once tagpurge was turned away by the standby (read-only):
    # target_session_attrs at work, and the reconnect backoff is in the measure.
    tp.wait(lambda: "read-only" in c.log.read_text(), "the standby to refuse tagpurge", 15)
    t_refused = time.monotonic()
    standby.promote()
    t_promoted = time.monotonic()
    c.pg = standby

    # The gap's broad purge is the first purge through the new primary.
    tp.wait(lambda: c.page(0, "names")[1] > before[0, "names"], "the gap purge", 40, step=0.01)
    t_purge = time.monotonic()
    print(f"failover: kill -> first purge via the new primary {t_purge - t_kill:.2f} s; "
          f"kill -> standby refused tagpurge {t_refused - t_kill:.2f} s; promoted -> purge "
          f"{t_purge - t_promoted:.2f} s (pg_ctl promote took {t_promoted - t_refused:.2f} s)")
    c.assert_purged(0, "product-list", before[0, "product-list"])
    log = c.log.read_text()
    tp.check(log.count("GAP") == 1 and f"replication slot {c.slot} is missing" in log,
             "the GAP does not name the missing slot")
    tp.check(standby.psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
                          f"'{c.slot}'") == "1", "no slot on the new primary")
    tp.wait(lambda: "gap" not in c.state_file() and c.state_file()["timeline"] == 2,
            "the state file to record the new primary's timeline")
    tp.check(c.stats()["gaps"] == 1, "gaps counter")
    # check --online follows the multi-host conninfo to the new primary too.
    res = subprocess.run([c.bin, "check", "--online", "-c", str(c.cfg_path)],
                         capture_output=True, text=True, timeout=60)
    tp.check(res.returncode == 0 and "matches the server and slot" in res.stderr + res.stdout,
             f"check --online after the failover: exit {res.returncode}\n{res.stdout}{res.stderr}")

    c.assert_streams_exactly("n", "m")  # streaming resumes exactly on the new slot
    c.stop()

    # A restart on the new primary continues: no second GAP.
    c.start()
    c.marker()
    c.stop()
    tp.check(c.log.read_text().count("GAP") == 1, "a GAP after the restart on the new primary")


if __name__ == "__main__":
    sys.exit(tp.run("pg_failover", body, tp.PrivateCase))
