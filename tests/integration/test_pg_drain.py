#!/usr/bin/env python3
"""Issue 5: SIGTERM drains.  (1) A batch still open (coalesce_ms) at SIGTERM is
sent, acknowledged and confirmed before tagpurge exits 0.  (2) SIGTERM during a
node outage: tagpurge exits 0 after drain_timeout_ms with the checkpoint not
past the undelivered transaction, and the next start delivers it."""
import json
import signal
import sys
import time

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    sinks = [{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), c.node_url(1)]}]
    c.config(sinks, delivery={"coalesce_ms": 800, "retry_initial_ms": 50, "retry_max_ms": 300,
                              "timeout_ms": 300})
    c.start()
    c.marker()
    before = c.warm_all(["product-1"])

    # 1. The open batch goes out at SIGTERM, not lost and not left for replay.
    txns = c.stats()["txns"]
    end = c.commit("UPDATE products SET name = 'b' WHERE id = 1")
    # Read, and waiting in the 800 ms coalescing window that opened then.
    tp.wait(lambda: c.stats()["txns"] > txns, "the transaction to be read", 5)
    t0 = time.monotonic()
    c.proc.send_signal(signal.SIGTERM)
    rc = c.proc.wait(timeout=10)
    took = time.monotonic() - t0
    tp.check(rc == 0, f"exit status {rc}")
    tp.check(c.confirmed() >= end, "exited without confirming the drained transaction")
    for n in (0, 1):
        c.assert_purged(n, "product-1", before[n, "product-1"])
    tp.check("drained: every transaction" in c.log.read_text(), "drain not logged")

    # 2. SIGTERM while a node is stopped: bounded by drain_timeout_ms, nothing confirmed past it.
    cfg = json.loads(c.cfg_path.read_text())
    cfg["drain_timeout_ms"] = 1000
    cfg["delivery"]["coalesce_ms"] = 5
    c.cfg_path.write_text(json.dumps(cfg))
    c.start()
    before = c.warm_all(["product-1"])
    c.nodes[1].sigstop()
    try:
        end = c.commit("UPDATE products SET name = 'c' WHERE id = 1")
        tp.wait(lambda: c.page(0, "product-1")[1] > before[0, "product-1"], "node 0 purged", 5)
        t1 = time.monotonic()
        c.proc.send_signal(signal.SIGTERM)
        rc = c.proc.wait(timeout=10)
        stuck = time.monotonic() - t1
        tp.check(rc == 0, f"exit status {rc} after a drain timeout")
        tp.check(0.9 <= stuck < 3.0, f"exit {stuck:.2f} s after SIGTERM (drain_timeout_ms 1000)")
        tp.check(c.confirmed() < end, "checkpoint past the transaction the stopped node never got")
        tp.check("drain_timeout_ms passed with 1 transactions" in c.log.read_text(),
                 "drain timeout not logged")
    finally:
        c.nodes[1].sigcont()
    c.start()  # the restart replays it
    c.wait_confirmed(end)
    c.assert_purged(1, "product-1", before[1, "product-1"])
    print(f"open batch drained and confirmed, exit {took:.2f} s after SIGTERM; with a node "
          f"stopped: exit {stuck:.2f} s after SIGTERM, checkpoint held, replayed at restart")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_drain", body))
