#!/usr/bin/env python3
"""Issue 3 test 4: a MINIMAL row image (the old category is not in the
change) and a STATEMENT-format update (no rows at all) purge the table's
fallback tags, never nothing, and both are counted."""
import sys

import tp
import tpmy


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (2, 5, 'b')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    c.start()
    tags = ["product-1", "product-2", "category-3", "category-4", "category-5", "category-6",
            "product-list"]
    before = c.warm_all(tags, nodes=[0])

    # MINIMAL: before image = primary key only, after image = changed columns only.
    c.sql("SET SESSION binlog_row_image = MINIMAL; "
          "UPDATE products SET category_id = 4 WHERE id = 1;")
    end = c.position()
    c.wait_confirmed(end)
    for t in ("product-1", "category-4", "product-list"):
        c.assert_purged(0, t, before[0, t])
    # category-3 cannot be known from a minimal image: product-list (the fallback) covers it.
    c.assert_cached(0, "category-3", before[0, "category-3"])
    before = c.warm_all(tags, nodes=[0])

    # STATEMENT: the binlog has only the SQL text; the table's fallback tags are purged.
    c.sql("SET SESSION binlog_format = STATEMENT; "
          "UPDATE products SET category_id = 6 WHERE id = 2;")
    c.wait_confirmed(c.position())
    c.assert_purged(0, "product-list", before[0, "product-list"])
    c.assert_cached(0, "product-2", before[0, "product-2"])  # not knowable: no row image
    c.stop()
    st = c.stats()
    tp.check(st["fallback_purges"] >= 2, f"fallback purges not counted: {st}")
    tp.check(st["statement_events"] == 1, f"statement event not counted: {st}")
    print(f"stats: {st}")


if __name__ == "__main__":
    sys.exit(tpmy.run("my_fallback", body))
