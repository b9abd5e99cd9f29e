#!/usr/bin/env python3
"""Issue 4 test 2: a node that is down (connection refused) while its backlog
passes max_pending_tags gets exactly one broad purge (the fallback tags of the
tables involved) instead of the backlog when it is back, counted; the healthy
node gets every purge at once; nothing is confirmed until the broad purge is
acknowledged."""
import sys

import tp

MAX = 20


def body(c):
    down = c.stub("down")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), down.url],
               "max_pending_tags": MAX}])
    c.start()
    c.marker()
    n0 = len(down.requests())
    pages = [f"product-{i}" for i in range(100, 130)]
    before = c.warm_all(pages, nodes=[0])
    down.stop()
    end = 0
    for i in range(100, 130):  # 3 tags each: 90 tags > MAX
        end = c.commit(f"INSERT INTO products(id, category_id, name) VALUES ({i}, {i}, 'x')")
    # The healthy node gets every purge without waiting.
    tp.wait(lambda: all(c.page(0, t)[1] > before[0, t] for t in pages),
            "node 0 to get every purge", 10)
    tp.check(c.confirmed() < end, "confirmed past purges the down node never got")
    down.start()
    c.wait_confirmed(end, timeout=15)
    reqs = [r[1]["xkey-purge"].split() for r in down.requests()[n0:]]
    tp.check(reqs == [["product-list"]],
             f"expected exactly one broad purge (product-list), got {reqs}")
    st = c.stats()
    tp.check(st["escalations"] == 1, f"escalations {st['escalations']}")
    print(f"node back: {len(reqs)} request for 30 transactions: {reqs}")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_escalation", body))
