#!/usr/bin/env python3
"""The slot is dropped while tagpurge is stopped and a row is updated meanwhile:
the change cannot be decoded any more.  At start tagpurge logs GAP, re-creates
the slot and purges the fallback tags of every mapped table (and gap_tags),
counts one gap, and then purges exactly again.  A first start (no state file)
is not a gap.  Killed before the gap purge was acknowledged, the next start
purges broadly again; without "create" the SQL is logged and retried, and the
purge goes out once the slot exists."""
import sys

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.sql("INSERT INTO names VALUES (1, 'n')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}],
             extra={"gap_tags": ["site"]})
    tp.check(c.state_file() is None, "a state file before the first start")
    c.start()
    c.marker()
    st = c.state_file()
    tp.check(st is not None and st["slot"] == c.slot and "gap" not in st,
             f"state file after the first start: {st}")
    tp.check(st["systemid"] == c.pg.psql("SELECT system_identifier FROM pg_control_system()"),
             f"state file systemid {st['systemid']}")
    tp.wait(lambda: tp.lsn(c.state_file()["lsn"]) >= c.confirmed() > 0,
            "the state file to record what the slot confirmed")
    c.stop()
    tp.check("GAP" not in c.log.read_text(), "a first start logged a GAP")

    before = c.warm_all(["product-list", "names", "site", "product-1", "name-n"], nodes=[0])
    c.pg.psql(f"SELECT pg_drop_replication_slot('{c.slot}')")
    c.commit("UPDATE products SET name = 'b' WHERE id = 1")  # only the broad purge covers it

    c.start()
    tp.wait(lambda: "GAP: replication slot" in c.log.read_text(), "the GAP to be logged", 10)
    tp.check("is missing" in c.log.read_text(), "the GAP does not say the slot is missing")
    for t in ("product-list", "names", "site"):  # every mapped table's fallback + gap_tags
        tp.wait(lambda t=t: c.page(0, t)[1] > before[0, t], f"the broad purge of {t}", 10)
    c.assert_cached(0, "name-n", before[0, "name-n"])  # not a fallback: the gap is not a flush
    tp.check(c.stats()["gaps"] == 1, f"stats gaps {c.stats()['gaps']}, want 1")
    tp.check(c.metrics().get("tagpurge_gaps_total") == 1.0,
             f"metrics: {[(k, v) for k, v in c.metrics().items() if 'gap' in k]}")
    tp.wait(lambda: "gap" not in c.state_file(), "the state file to record the new slot")

    c.assert_streams_exactly("n", "m")  # streaming resumes exactly on the new slot
    tp.check(c.log.read_text().count("GAP") == 1, "more than one GAP logged")
    c.stop()

    # A clean restart continues the new slot: no gap.
    n = c.log.read_text().count("GAP")
    c.start()
    c.marker()
    c.stop()
    tp.check(c.log.read_text().count("GAP") == n, "a GAP after a clean restart")

    # Killed before the gap's broad purge was acknowledged (node frozen): the
    # state file still marks the gap, so the next start purges broadly again.
    c.pg.psql(f"SELECT pg_drop_replication_slot('{c.slot}')")
    c.nodes[0].sigstop()
    try:
        c.start()
        tp.wait(lambda: c.log.read_text().count("GAP") == n + 1, "the GAP", 10)
        tp.wait(lambda: "broad purge is handed over" in c.log.read_text().split("GAP")[-1],
                "the gap purge to be handed over", 10)
        c.kill()
        tp.check("is missing" in c.state_file().get("gap", ""),
                 f"the state file does not mark the gap: {c.state_file()}")
    finally:
        c.nodes[0].sigcont()
    before = c.warm_all(["names"], nodes=[0])
    c.start()
    tp.wait(lambda: "earlier gap was not confirmed" in c.log.read_text(), "the GAP again", 10)
    tp.wait(lambda: c.page(0, "names")[1] > before[0, "names"], "the repeated broad purge", 10)
    # Cleared only once the new process's broad purge was acknowledged.
    tp.wait(lambda: "gap" not in c.state_file(), "the state file to record the new slot")
    tp.check(c.stats()["gaps"] == 1, "the restarted process did not count its gap")
    c.stop()

    # Without "create": the SQL to run is logged and retried, the gap stays
    # marked; once a DBA creates the slot, the broad purge goes out.
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}],
             extra={"gap_tags": ["site"], "create": False})
    c.pg.psql(f"SELECT pg_drop_replication_slot('{c.slot}')")
    before = c.warm_all(["names"], nodes=[0])
    c.start(streaming=False)
    tp.wait(lambda: c.log.read_text().count(f"pg_create_logical_replication_slot('{c.slot}'") >= 2,
            "the SQL to create the slot, logged at two attempts", 10)
    tp.check("is missing" in c.state_file().get("gap", ""), "the gap is not marked")
    c.assert_cached(0, "names", before[0, "names"])  # no purge before the slot exists
    n = c.log.read_text().count("GAP")
    c.sql(f"SELECT pg_create_logical_replication_slot('{c.slot}', 'pgoutput')")
    tp.wait(lambda: c.page(0, "names")[1] > before[0, "names"], "the broad purge", 20)
    tp.wait(lambda: "gap" not in c.state_file(), "the state file to record the slot")
    tp.check(c.log.read_text().count("GAP") == n, "GAP logged again at a retry")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_slot_dropped", body))
