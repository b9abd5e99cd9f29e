#!/usr/bin/env python3
"""Issue 3 test 2: the PostgreSQL path's cases over MariaDB 10.11: the
category move (old and new category purged, others stay cached), DELETE
from the old row, a rollback purges nothing, an update of ignored columns
purges nothing, and a hostile value purges exactly its encoded tag, over
xkey (node 0) and BAN (node 1)."""
import sys
import urllib.parse

import tp
import tpmy

VALUE = "a,b c\r\nX-Injected: 1|(.*)[x]{2}$^+?\\ é"


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (10, 5, 'b')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]},
              {"name": "legacy", "type": "ban", "nodes": [c.node_url(1)]}])
    c.start()
    tags = ["product-1", "product-10", "category-3", "category-4", "category-5", "category-7",
            "product-list"]
    before = c.warm_all(tags)

    c.wait_confirmed(c.commit("UPDATE products SET category_id = 4 WHERE id = 1"))
    for n in (0, 1):
        for t in ("product-1", "category-3", "category-4", "product-list"):
            c.assert_purged(n, t, before[n, t])
        for t in ("product-10", "category-5"):
            c.assert_cached(n, t, before[n, t])
    before = c.warm_all(tags)

    c.wait_confirmed(c.commit("DELETE FROM products WHERE id = 10"))
    for n in (0, 1):
        for t in ("product-10", "category-5", "product-list"):
            c.assert_purged(n, t, before[n, t])
        c.assert_cached(n, "product-1", before[n, "product-1"])
    before = c.warm_all(tags)

    c.sql("BEGIN; UPDATE products SET category_id = 7 WHERE id = 1; ROLLBACK;")
    c.marker()
    c.commit("UPDATE products SET view_count = view_count + 1 WHERE id = 1")
    c.marker()
    for n in (0, 1):
        for t in tags:
            c.assert_cached(n, t, before[n, t])

    tag = "name-" + urllib.parse.quote(VALUE.encode(), safe="-._~")
    near = ["name-a%2Cb", tag + "x", "x" + tag]
    before = c.warm_all([tag] + near)
    esc = VALUE.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    c.wait_confirmed(c.commit(f"INSERT INTO names VALUES (1, '{esc}')"))
    for n in (0, 1):
        c.assert_purged(n, tag, before[n, tag])
        for t in near:
            c.assert_cached(n, t, before[n, t])
    c.stop()
    st = c.stats()
    tp.check(st["updates_ignored"] == 1, f"ignored update not counted: {st}")
    print(f"tag: {tag}; stats: {st}")


if __name__ == "__main__":
    sys.exit(tpmy.run("my_pipeline", body))
