#!/usr/bin/env python3
"""Issue test 4: a node that does not answer (SIGSTOP) holds the slot's
confirmed_flush_lsn below the undelivered commit, while the healthy node is
purged at once; after SIGCONT the purge arrives and the LSN advances."""
import sys
import time

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), c.node_url(1)]}])
    c.start()
    before = c.warm_all(["product-1"])
    c.marker()  # the slot is confirmed up to here

    c.nodes[1].sigstop()
    try:
        t0 = time.monotonic()
        end = c.commit("UPDATE products SET name = 'b' WHERE id = 1")
        # The healthy node is purged without waiting for the stopped one.
        tp.wait(lambda: c.page(0, "product-1")[1] > before[0, "product-1"],
                "node 0 to be purged", 5)
        healthy_ms = (time.monotonic() - t0) * 1000
        # Several timeouts (500 ms) and retries later, the commit is still unconfirmed.
        tp.hold(lambda: c.confirmed() < end,
                lambda: f"slot confirmed {tp.fmt_lsn(c.confirmed())} past the undelivered "
                f"commit {tp.fmt_lsn(end)}", 3.0, step=0.1)
        held = c.confirmed()
    finally:
        c.nodes[1].sigcont()
    t1 = time.monotonic()
    c.wait_confirmed(end)
    resumed_ms = (time.monotonic() - t1) * 1000
    c.assert_purged(1, "product-1", before[1, "product-1"])
    tp.check("purge failed" in c.log.read_text(), "no failed attempt was logged")
    print(f"healthy node purged after {healthy_ms:.1f} ms; slot held at {tp.fmt_lsn(held)} < "
          f"{tp.fmt_lsn(end)} for 3 s; confirmed {resumed_ms:.1f} ms after SIGCONT")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_node_stopped", body))
