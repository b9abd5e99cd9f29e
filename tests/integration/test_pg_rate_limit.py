#!/usr/bin/env python3
"""Issue 4: a sink's token bucket (rate_per_s, rate_burst) spaces its requests
(CDN API limits); purges that wait for a token merge, none is lost."""
import sys
import time

import tp

RATE = 4.0  # requests per second


def body(c):
    stub = c.stub("cdn")
    c.config([{"name": "cdn", "type": "xkey", "nodes": [stub.url], "rate_per_s": RATE,
               "rate_burst": 1}],
             delivery={"coalesce_ms": 0, "retry_initial_ms": 50, "retry_max_ms": 500,
                       "timeout_ms": 500})
    c.start()
    c.marker()
    # The marker spent the token: one refill period of the bucket (not observable from
    # outside; the rate is the thing under test).
    time.sleep(1.0 / RATE)
    n0 = len(stub.requests())
    end = 0
    for i in range(12):
        end = c.commit(f"INSERT INTO products(id, category_id, name) VALUES ({i}, {i}, 'x')")
        time.sleep(0.05)  # pacing the workload: 12 commits spread over 0.6 s
    c.wait_confirmed(end, timeout=15)
    reqs = stub.requests()[n0:]
    times = [r[3]["t_recv"] for r in reqs]
    gaps = [b - a for a, b in zip(times, times[1:])]
    tp.check(all(g >= 1.0 / RATE - 0.01 for g in gaps), f"requests closer than 1/rate: {gaps}")
    sent = set()
    for r in reqs:
        sent |= set(r[1]["xkey-purge"].split())
    want = {f"product-{i}" for i in range(12)} | {f"category-{i}" for i in range(12)}
    tp.check(want <= sent, f"missing tags: {sorted(want - sent)}")
    tp.check(len(reqs) < 12, f"{len(reqs)} requests for 12 transactions: nothing merged")
    tp.check(c.stats()["rate_waits"] > 0, "rate waits not counted")
    print(f"12 transactions in {len(reqs)} requests, gaps {min(gaps):.3f}-{max(gaps):.3f} s "
          f"at rate_per_s {RATE}")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_rate_limit", body))
