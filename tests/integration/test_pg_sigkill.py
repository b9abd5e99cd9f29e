#!/usr/bin/env python3
"""Issue test 5: tagpurge killed with SIGKILL before a purge was delivered;
after a restart it is delivered and the slot advances."""
import sys

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    c.start()
    c.warm_all(["product-1"], nodes=[0])
    c.marker()

    c.nodes[0].sigstop()
    try:
        end = c.commit("UPDATE products SET category_id = 4 WHERE id = 1")
        # Wait until the walsender has sent the commit and tagpurge tried to deliver it.
        tp.wait(lambda: c.pg.psql(
            f"SELECT sent_lsn >= '{tp.fmt_lsn(end)}' FROM pg_stat_replication "
            f"WHERE application_name = 'tagpurge'") == "t", "the commit to be sent")
        tp.wait(lambda: "purge failed" in c.log.read_text(), "a failed delivery attempt", 10)
        c.kill()
        tp.check(c.confirmed() < end, "slot confirmed a commit that was never delivered")
    finally:
        c.nodes[0].sigcont()
    # A request written to the stopped node's socket before the kill may still
    # be served now; once it is, cache the page again so only a replayed purge can
    # refetch it.
    tp.wait_conns_served(c.nodes[0].port, "node 0 after SIGCONT")
    before = c.warm(0, "product-1")
    tp.check(c.confirmed() < end, "slot advanced with tagpurge down")

    c.start()
    c.wait_confirmed(end)
    c.assert_purged(0, "product-1", before)
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_sigkill", body))
