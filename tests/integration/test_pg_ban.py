#!/usr/bin/env python3
"""Issue test 3: the ban sink gives the same results, and a tag name-a.b does
not ban name-axb (the regex is escaped and anchored)."""
import sys

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (10, 5, 'b')")
    c.config([{"name": "legacy", "type": "ban", "nodes": [c.node_url(0), c.node_url(1)]}])
    c.start()
    tags = ["product-1", "product-10", "category-3", "category-4", "category-5", "product-list",
            "name-a.b", "name-axb", "name-a.bc", "xname-a.b"]
    before = c.warm_all(tags)

    c.wait_confirmed(c.commit("UPDATE products SET category_id = 4 WHERE id = 1"))
    for n in (0, 1):
        for t in ("product-1", "category-3", "category-4", "product-list"):
            c.assert_purged(n, t, before[n, t])
        for t in ("product-10", "category-5", "name-a.b"):
            c.assert_cached(n, t, before[n, t])
    before = c.warm_all(tags)

    c.wait_confirmed(c.commit("INSERT INTO names VALUES (1, 'a.b')"))
    for n in (0, 1):
        c.assert_purged(n, "name-a.b", before[n, "name-a.b"])
        for t in ("name-axb", "name-a.bc", "xname-a.b", "product-1"):
            c.assert_cached(n, t, before[n, t])
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_ban", body))
