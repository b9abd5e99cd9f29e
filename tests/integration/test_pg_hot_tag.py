#!/usr/bin/env python3
"""Issue 4 test 8: 1000 transactions within about a second, all touching the
same list tag, reach a node as far fewer requests: tags are merged per batch
(coalesce_ms) and per node round.  Prints the ratio."""
import sys
import time

import tp

N = 1000


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) SELECT g, 1, 'x' FROM generate_series(1, 20) g")
    stub = c.stub("rec")
    c.config([{"name": "edge", "type": "xkey", "nodes": [stub.url, c.node_url(0)]}])
    c.start()
    c.marker()
    n0 = len(stub.requests())
    before = c.warm(0, "product-list")
    # One psql session, N transactions: each UPDATE is its own commit.
    script = "".join(f"UPDATE products SET name = 'v{i}' WHERE id = {i % 20 + 1};\n"
                     for i in range(N)) + "SELECT pg_current_wal_insert_lsn();"
    t0 = time.monotonic()
    end = tp.lsn(c.sql(script).splitlines()[-1])
    took = time.monotonic() - t0
    c.wait_confirmed(end, timeout=30)
    reqs = stub.requests()[n0:]
    hot = [r for r in reqs if "product-list" in r[1]["xkey-purge"].split()]
    c.assert_purged(0, "product-list", before)
    st = c.stats()
    tp.check(st["txns"] >= N, f"only {st['txns']} transactions read")
    ratio = N / max(1, len(reqs))
    tp.check(len(reqs) * 5 <= N, f"{len(reqs)} requests for {N} transactions")
    print(f"{N} transactions in {took:.2f} s -> {len(reqs)} requests to the node "
          f"({len(hot)} carrying product-list), {st['batches']} batches: "
          f"{ratio:.0f} transactions per request")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_hot_tag", body))
