#!/usr/bin/env python3
"""Issue test 2: DELETE purges from the old row; a rolled-back transaction
purges nothing; an update of only ignored columns purges nothing."""
import sys

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (10, 5, 'b')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    c.start()
    tags = ["product-1", "product-10", "category-3", "category-5", "category-7", "product-list"]
    before = c.warm_all(tags, nodes=[0])

    c.wait_confirmed(c.commit("DELETE FROM products WHERE id = 10"))
    for t in ("product-10", "category-5", "product-list"):
        c.assert_purged(0, t, before[0, t])
    c.assert_cached(0, "product-1", before[0, "product-1"])
    before = c.warm_all(tags, nodes=[0])

    c.sql("BEGIN; UPDATE products SET category_id = 7 WHERE id = 1; ROLLBACK;")
    c.marker()
    for t in tags:
        c.assert_cached(0, t, before[0, t])

    c.commit("UPDATE products SET view_count = view_count + 1 WHERE id = 1")
    c.marker()
    for t in tags:
        c.assert_cached(0, t, before[0, t])
    c.stop()
    tp.check("updates_ignored=1" in c.log.read_text(), "the ignored update was not counted")


if __name__ == "__main__":
    sys.exit(tp.run("pg_delete_rollback_ignored", body))
