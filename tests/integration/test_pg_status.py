#!/usr/bin/env python3
"""Issue 5: the status server during an end-to-end run.  /metrics values move
as transactions are purged; /healthz; /readyz names a failing node; /v1/wait
answers only after the purge reached every node (408 on timeout, 400/404 on
bad input)."""
import json
import re
import sys
import threading
import time

import tp


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), c.node_url(1)]}])
    c.start()
    st, b = c.status("/healthz")
    tp.check(st == 200 and "alive" in b, f"/healthz {st} {b}")
    tp.wait(lambda: c.status("/readyz")[0] == 200, "/readyz 200 once streaming", 10)
    c.marker()
    m0 = c.metrics()
    src, n0 = 'source="shop"', 'sink="edge",node="' + c.node_url(0) + '"'
    tp.check(m0[f"tagpurge_source_streaming{{{src}}}"] == 1, "streaming gauge")
    tp.check(m0[f"tagpurge_node_up{{{n0}}}"] == 1, "node up gauge")

    end = c.commit("UPDATE products SET category_id = 4 WHERE id = 1")
    c.wait_confirmed(end)
    m1 = c.metrics()
    d = lambda k: m1.get(k, 0) - m0.get(k, 0)  # noqa: E731
    tp.check(d(f"tagpurge_source_transactions_total{{{src}}}") == 1, "transactions +1")
    tp.check(d(f"tagpurge_source_tags_total{{{src}}}") == 4, "tags +4 (product, 2 categories, list)")
    tp.check(d(f'tagpurge_node_requests_total{{{n0},code="200"}}') >= 1, "requests by code")
    tp.check(d("tagpurge_delivery_latency_seconds_count") >= 1, "latency histogram count")
    tp.check(m1[f"tagpurge_source_pending_transactions{{{src}}}"] == 0, "nothing pending")
    tp.check(any(k.startswith("tagpurge_source_checkpoint_info{" + src) for k in m1),
             "checkpoint position")
    tp.check(f"tagpurge_source_lag_bytes{{{src}}}" in m1, "lag in bytes")

    # /v1/wait holds until the stopped node got the purge.
    before = c.warm_all(["product-1"])
    c.nodes[1].sigstop()
    answer = {}
    try:
        end = c.commit("UPDATE products SET name = 'b' WHERE id = 1")
        pos = tp.fmt_lsn(end)
        st, b = c.status(f"/v1/wait?source=shop&position={pos}&timeout_ms=300")
        tp.check(st == 408, f"wait on a stopped node: {st} {b}")

        def waiter():
            t0 = time.monotonic()
            answer["status"], answer["body"] = c.status(
                f"/v1/wait?source=shop&position={pos}&timeout_ms=20000", timeout=30)
            answer["t"] = time.monotonic() - t0
        th = threading.Thread(target=waiter)
        th.start()
        tp.wait(lambda: c.status("/readyz")[0] == 503, "/readyz 503 with a failing node", 5)
        st, b = c.status("/readyz")
        tp.check(c.node_url(1) in b, f"/readyz names the node: {b}")
        tp.check(c.metrics()[f'tagpurge_node_up{{sink="edge",node="{c.node_url(1)}"}}'] == 0,
                 "node_up 0")
        tp.hold(lambda: "status" not in answer,
                "/v1/wait answered while a node still owed the purge", 0.5)
    finally:
        c.nodes[1].sigcont()
    th.join(30)
    tp.check(answer.get("status") == 200, f"/v1/wait: {answer}")
    # Answered only after the purge reached the node.
    c.assert_purged(1, "product-1", before[1, "product-1"])
    st, b = c.status("/v1/wait?source=shop&position=nonsense")
    tp.check(st == 400, f"bad position: {st}")
    st, b = c.status("/v1/wait?source=nope&position=0/1")
    tp.check(st == 404, f"unknown source: {st}")
    st, b = c.status("/v1/wait?source=shop&position=0/1")
    tp.check(st == 200, f"an old position: {st}")
    st, _ = c.status("/nothing")
    tp.check(st == 404, "unknown path")
    # Every series the shipped Grafana dashboard reads is exported.
    dash = json.loads((tp.HERE.parent.parent / "deploy" / "grafana" / "tagpurge.json").read_text())
    names = {m.split("{")[0] for m in c.metrics()}
    for panel in dash["panels"]:
        for t in panel["targets"]:
            for name in re.findall(r"tagpurge_[a-z_]+", t["expr"]):
                tp.check(name in names, f"dashboard panel {panel['title']!r} reads {name}, "
                         f"which /metrics does not export")
    print(f"/v1/wait answered {answer['t']:.2f} s after it was asked (node resumed)")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_status", body))
