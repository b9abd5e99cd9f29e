#!/usr/bin/env python3
"""Issue 4 test 1: three real Varnish nodes; one is stopped (SIGSTOP) while 100
transactions commit.  The other two get every purge within their normal
latency; the stopped one gets them after SIGCONT; the slot's confirmed LSN
never passes a transaction the stopped node has not acknowledged."""
import sys
import time

import tp

N = 100


def body(c):
    c.sql(f"INSERT INTO products(id, category_id, name) "
          f"SELECT g, g % 7, 'x' FROM generate_series(1, {N}) g")
    c.config([{"name": "edge", "type": "xkey",
               "nodes": [c.node_url(0), c.node_url(1), c.node_url(2)]}])
    c.start()
    c.marker()
    pages = [f"product-{i}" for i in range(1, N + 1)]
    before = c.warm_all(pages)
    c.nodes[2].sigstop()
    try:
        script = "".join(f"UPDATE products SET name = 'y' WHERE id = {i};\n"
                         f"SELECT pg_current_wal_insert_lsn();\n" for i in range(1, N + 1))
        t0 = time.monotonic()
        ends = [tp.lsn(x) for x in c.sql(script).splitlines() if "/" in x]
        commit_s = time.monotonic() - t0
        tp.check(len(ends) == N, f"{len(ends)} commit positions")
        for node in (0, 1):
            tp.wait(lambda: all(c.page(node, t)[1] > before[node, t] for t in pages),
                    f"node {node} to get all {N} purges", 5, step=0.05)
        healthy_s = time.monotonic() - t0
        # Normal latency is milliseconds; this includes the 2 x 100 checking GETs.
        tp.check(healthy_s < 2.0, f"healthy nodes took {healthy_s:.2f} s: held up by the "
                 f"stopped one?")
        # Hold for 3 s (several timeouts and retries): never past the first transaction.
        tp.hold(lambda: c.confirmed() < ends[0],
                lambda: f"slot confirmed {tp.fmt_lsn(c.confirmed())} past the first "
                f"undelivered commit {tp.fmt_lsn(ends[0])}", 3.0)
    finally:
        c.nodes[2].sigcont()
    t1 = time.monotonic()
    c.wait_confirmed(ends[-1], timeout=20)
    resumed_s = time.monotonic() - t1
    for t in pages:
        c.assert_purged(2, t, before[2, t])
    print(f"{N} commits in {commit_s:.2f} s; both healthy nodes had every purge "
          f"{healthy_s:.2f} s after the first commit; stopped node purged and slot confirmed "
          f"{resumed_s:.2f} s after SIGCONT")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_three_nodes_stopped", body))
