#!/usr/bin/env python3
"""Issue 4: a node unreachable longer than flush_after_down_s gets the sink's
"flush" first when it is back (a real Varnish node: BAN X-Ban-All drops every
object); the flush is counted.  The checkpoint waits for the node until it is
down, then passes (its dirty mark holds the flush; test_pg_dead_node has the
rest of that rule)."""
import sys
import time

import tp


def body(c):
    stub = c.stub("down")
    flush = {"method": "BAN", "headers": {"X-Ban-All": "1"}}
    c.config([{"name": "v", "type": "ban", "nodes": [c.node_url(2), stub.url], "flush": flush}],
             delivery={"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 300,
                       "timeout_ms": 500, "flush_after_down_s": 1})
    c.start()
    c.marker()
    n0 = len(stub.requests())
    stub.stop()
    t0 = time.monotonic()
    end = c.commit("INSERT INTO products(id, category_id, name) VALUES (1, 1, 'x')")
    # Held while the node is failing but not yet down (its first failure is after t0) ...
    tp.hold(lambda: c.confirmed() < end, "confirmed before the node was down",
            t0 + 0.7 - time.monotonic())
    # ... and passed once it is down: its mark (the flush) is in dirty.json, so it
    # no longer holds the slot (README "Delivery guarantees").
    c.wait_confirmed(end, timeout=10)
    tp.check(time.monotonic() - t0 >= 1.0, "confirmed before flush_after_down_s")
    stub.start()
    tp.wait(lambda: len(stub.requests()) > n0, "the node's request when back", 10)
    tp.wait(lambda: "clean again" in c.log.read_text(), "the flush to be acknowledged", 10)
    reqs = stub.requests()[n0:]
    tp.check(len(reqs) == 1, f"expected one request (the flush), got {[r[0] for r in reqs]}")
    method, hdrs = reqs[0][0], reqs[0][1]
    tp.check(method == "BAN" and hdrs.get("x-ban-all") == "1", f"not the flush: {method} {hdrs}")
    st = c.stats()
    tp.check(st["nodes_down"] == 1 and st["flushes"] == 1,
             f"nodes_down {st['nodes_down']} flushes {st['flushes']}")
    # The flush itself, on a real node: every object goes.
    before = c.warm_all(["anything", "product-1"], nodes=[2])
    status, _, body_ = c.nodes[2].request("BAN", "/", {"X-Ban-All": "1"})
    tp.check(status == 200 and "Flushed" in body_, f"flush on varnish: {status} {body_}")
    c.assert_purged(2, "anything", before[2, "anything"])
    c.assert_purged(2, "product-1", before[2, "product-1"])
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_node_down_flush", body))
