#!/usr/bin/env python3
"""Issue test 1 over xkey on two real Varnish nodes: INSERT purges the list
tag; moving product 1 from category 3 to 4 refetches product-1, category-3
and category-4 while product-10 and category-5 stay cached."""
import sys
import time

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (10, 5, 'b')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), c.node_url(1)]}])
    c.start()
    tags = ["product-1", "product-2", "product-10", "category-3", "category-4", "category-5",
            "product-list"]
    before = c.warm_all(tags)

    end = c.commit("INSERT INTO products(id, category_id, name) VALUES (2, 6, 'c')")
    c.wait_confirmed(end)
    for n in (0, 1):
        c.assert_purged(n, "product-list", before[n, "product-list"])
        c.assert_purged(n, "product-2", before[n, "product-2"])
        c.assert_cached(n, "product-1", before[n, "product-1"])
    before = c.warm_all(tags)

    t0 = time.monotonic()
    end = c.commit("UPDATE products SET category_id = 4 WHERE id = 1")
    c.wait_confirmed(end)
    seen_ms = (time.monotonic() - t0) * 1000
    for n in (0, 1):
        for t in ("product-1", "category-3", "category-4", "product-list"):
            c.assert_purged(n, t, before[n, t])
        for t in ("product-10", "category-5"):
            c.assert_cached(n, t, before[n, t])
    lat = c.latencies()
    print(f"commit -> slot confirmed seen by the test: {seen_ms:.1f} ms; "
          f"tagpurge log, per batch (receipt -> all nodes acked / commit -> all nodes acked): "
          f"{', '.join(f'{r:.1f}/{c:.1f}' for r, c in lat)} ms")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_xkey", body))
