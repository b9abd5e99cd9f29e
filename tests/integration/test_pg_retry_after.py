#!/usr/bin/env python3
"""Issue 4 test 3: a node answering 429 with Retry-After gets no request before
that time, then the purge is delivered and only then confirmed."""
import sys

import tp


def body(c):
    stub = c.stub("cdn", "--fail", 1, "--status", 429, "--retry-after", 2)
    c.config([{"name": "cdn", "type": "xkey", "nodes": [stub.url]}],
             delivery={"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 200,
                       "timeout_ms": 1000})
    c.start()
    end = c.commit("INSERT INTO products(id, category_id, name) VALUES (7, 3, 'a')")
    tp.wait(lambda: len(stub.requests()) >= 1, "the first (429) request", 10)
    # Retries would come after 25-200 ms without Retry-After: none may come for 2 s.
    c.wait_confirmed(end, timeout=10)
    reqs = stub.requests()
    tp.check(len(reqs) == 2, f"expected the 429 and one retry, got {len(reqs)} requests")
    first, second = reqs[0][3], reqs[1][3]
    tp.check(first["status"] == 429 and second["status"] == 200, "statuses 429 then 200")
    gap = second["t_recv"] - first["t_resp"]
    tp.check(gap >= 2.0, f"retry {gap:.3f} s after the 429, before Retry-After: 2")
    tp.check(gap < 3.0, f"retry {gap:.3f} s after the 429: Retry-After: 2 should not take 3 s")
    for _, hdrs, _, _ in reqs:
        tp.check(set(hdrs["xkey-purge"].split()) == {"product-7", "category-3", "product-list"},
                 f"tags: {hdrs['xkey-purge']}")
    st = c.stats()
    tp.check(st["retry_after_waits"] == 1, f"retry_after_waits {st['retry_after_waits']}")
    print(f"retry {gap * 1000:.0f} ms after the 429 (Retry-After: 2)")
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_retry_after", body))
