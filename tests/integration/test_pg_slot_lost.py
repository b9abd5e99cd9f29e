#!/usr/bin/env python3
"""The slot is invalidated while tagpurge is stopped (max_slot_wal_keep_size
passed, wal_status = 'lost'): it can never stream again.  At start tagpurge
logs GAP, drops and re-creates the slot, purges broadly and streams again,
purging exactly."""
import sys

import tp


class LostCase(tp.PrivateCase):
    PG_CONF = "max_slot_wal_keep_size = '1MB'\n"


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.sql("INSERT INTO names VALUES (1, 'n')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    c.start()
    c.marker()
    c.stop()

    before = c.warm_all(["product-list", "names", "name-n"], nodes=[0])
    status = lambda: c.pg.psql(f"SELECT wal_status FROM pg_replication_slots "  # noqa: E731
                               f"WHERE slot_name = '{c.slot}'")
    n = [0]

    def push_wal():
        n[0] += 1
        c.sql(f"UPDATE products SET view_count = {n[0]} WHERE id = 1; SELECT pg_switch_wal(); "
              f"CHECKPOINT")
        return status() == "lost"
    tp.wait(push_wal, "the slot to be invalidated (wal_status lost)", 60, step=0)
    print(f"slot lost after {n[0]} WAL switches")

    c.start()
    tp.wait(lambda: "GAP: replication slot" in c.log.read_text(), "the GAP to be logged", 10)
    log = c.log.read_text()
    tp.check("wal_status lost" in log, "the GAP does not say wal_status lost")
    tp.check("dropped the invalidated replication slot" in log, "the lost slot was not dropped")
    tp.check(status() in ("reserved", "extended"), f"new slot's wal_status {status()}")
    for t in ("product-list", "names"):
        tp.wait(lambda t=t: c.page(0, t)[1] > before[0, t], f"the broad purge of {t}", 10)
    c.assert_cached(0, "name-n", before[0, "name-n"])
    tp.check(c.stats()["gaps"] == 1, "gaps counter")

    c.assert_streams_exactly("n", "m")  # streaming resumes exactly on the new slot
    tp.check(c.log.read_text().count("GAP") == 1, "more than one GAP")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_slot_lost", body, LostCase))
