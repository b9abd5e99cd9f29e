#!/usr/bin/env python3
"""Issue 4 test 5: an edge sink ("after": inner, after_delay_ms) never gets a
purge before every inner node acknowledged it, plus the delay.  The inner node
is a slow stub (answers after 400 ms) beside a real Varnish node."""
import sys

import tp

DELAY_MS = 300


def body(c):
    inner = c.stub("inner", "--delay-ms", 400)
    edge = c.stub("edge")
    c.config([{"name": "edge", "type": "xkey", "nodes": [edge.url, c.node_url(1)],
               "after": "inner", "after_delay_ms": DELAY_MS},
              {"name": "inner", "type": "xkey", "nodes": [inner.url, c.node_url(0)]}])
    c.start()
    ends = []
    for i in range(5):
        ends.append(c.commit(f"INSERT INTO products(id, category_id, name) VALUES ({i}, 1, 'x')"))
    c.wait_confirmed(ends[-1], timeout=20)
    ireq, ereq = inner.requests(), edge.requests()
    tp.check(ireq and ereq, "both tiers got requests")
    for i in range(5):
        tag = f"product-{i}"
        acks = [r[3]["t_resp"] for r in ireq if tag in r[1]["xkey-purge"].split()]
        sends = [r[3]["t_recv"] for r in ereq if tag in r[1]["xkey-purge"].split()]
        tp.check(acks and sends, f"{tag} reached both tiers")
        lead = min(sends) - min(acks)
        tp.check(lead >= DELAY_MS / 1000.0 - 0.005,
                 f"{tag}: edge got it {lead * 1000:.0f} ms after the inner ack (delay {DELAY_MS})")
    print(f"edge purges {min(e[3]['t_recv'] for e in ereq) - min(i[3]['t_resp'] for i in ireq):.3f} s "
          f"after the first inner ack")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_tiers", body))
