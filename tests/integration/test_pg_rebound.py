#!/usr/bin/env python3
"""Issue 4 test 4: with rebound_ms, the same tags are purged a second time,
once, after the delay; on a real node that drops a page refilled after the
first purge (the stale-refill race).  The checkpoint waits for the rebound."""
import sys
import time

import tp

REBOUND_MS = 1000


def body(c):
    stub = c.stub("rec")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), stub.url]}],
             delivery={"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 500,
                       "timeout_ms": 500, "rebound_ms": REBOUND_MS})
    c.start()
    c.marker()
    n0 = len(stub.requests())
    before = c.warm(0, "product-9")
    end = c.commit("INSERT INTO products(id, category_id, name) VALUES (9, 4, 'a')")
    t0 = time.monotonic()
    tp.wait(lambda: c.page(0, "product-9")[1] > before, "the first purge", 5)
    # A fetch that raced the first purge refills the cache: the rebound must drop it.
    refilled = c.warm(0, "product-9")
    tp.check(c.confirmed() < end, "confirmed before the rebound purge")
    c.wait_confirmed(end, timeout=10)
    confirmed_s = time.monotonic() - t0
    c.assert_purged(0, "product-9", refilled)
    reqs = [r for r in stub.requests()[n0:] if "product-9" in r[1].get("xkey-purge", "")]
    tp.check(len(reqs) == 2, f"expected the purge and one rebound, got {len(reqs)}")
    gap = reqs[1][3]["t_recv"] - reqs[0][3]["t_recv"]
    tp.check(gap >= REBOUND_MS / 1000.0, f"rebound {gap:.3f} s after the purge")
    # Once: no third purge of it later.
    again = c.warm(0, "product-9")

    def rebounds():
        return [r for r in stub.requests()[n0:] if "product-9" in r[1].get("xkey-purge", "")]
    tp.hold(lambda: len(rebounds()) == 2, lambda: f"a third purge arrived: {len(rebounds())}",
            2 * REBOUND_MS / 1000.0)
    c.assert_cached(0, "product-9", again)
    reqs = rebounds()
    tp.check(len(reqs) == 2, f"a third purge arrived: {len(reqs)}")
    tp.check(c.stats()["rebound_purges"] >= 1, "rebound not counted")
    print(f"rebound {gap * 1000:.0f} ms after the first purge; confirmed after {confirmed_s:.2f} s")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_rebound", body))
