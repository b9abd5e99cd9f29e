"""Issue 5: SIGHUP reloads the mapping with the config, atomically, for both
sources (test_pg_reload_mapping, test_my_reload_mapping).

A recording stub is the only node, so the test sees the exact tags of each
purge.  The mapping lives in its own file next to the config:
  1. mapping A: an UPDATE purges product-1, category-3, product-list;
  2. a SIGHUP with an identical mapping (only coalesce_ms changed) swaps
     nothing: no "mapping replaced", and PostgreSQL keeps its session;
  3. mapping B renames the product tags and maps a new table, orders: the
     next UPDATE purges item-1 only, an INSERT into orders purges order-5
     (for PostgreSQL the new session adds orders to the publication);
  4. a broken mapping B' (an unclosed placeholder) is refused with its
     file:line:column, and the next UPDATE still purges item-1;
  5. every commit is confirmed, so the checkpoint moved past each of them.
"""
import json
import re
import signal
import time

import tp


def tables(prefix):
    return {t: f"{prefix}.{t}" for t in ("products", "names", "markers", "orders")}


def mapping_a(t):
    return {t["products"]: {"tags": ["product-{id}", "category-{category_id}", "product-list"]},
            t["names"]: {"tags": ["name-{name}"], "fallback_tags": ["names"]},
            t["markers"]: {"tags": ["marker-{id}"]}}


def mapping_b(t):
    m = mapping_a(t)
    m[t["products"]] = {"tags": ["item-{id}"]}
    m[t["orders"]] = {"tags": ["order-{id}"]}
    return m


BROKEN = '{\n  "%s": {\n    "tags": ["item-{id"]\n  }\n}\n'


def purged_since(stub, n):
    """Tags of every purge the stub got after its first n requests."""
    return [set(r[1]["xkey-purge"].split()) for r in stub.requests()[n:]]


def reloads(c):
    return len(re.findall(r"reloaded |reload refused", c.log.read_text()))


def reload(c, what):
    n = reloads(c)
    c.signal(signal.SIGHUP)
    tp.wait(lambda: reloads(c) > n, f"the reload ({what}) to be logged", 10)


def commit_and_expect(c, stub, sql, want):
    n = len(stub.requests())
    c.wait_confirmed(c.commit(sql))
    got = purged_since(stub, n)
    tp.check(got == [want], f"{sql}: expected one purge of {sorted(want)}, got {got}")


def body(c, prefix, sessions):
    """sessions(log) -> how many source sessions the log shows started."""
    t = tables(prefix)
    c.sql("CREATE TABLE orders(id int PRIMARY KEY)")
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    stub = c.stub("node")
    mfile = c.tmp / "mapping.json"
    mfile.write_text(json.dumps(mapping_a(t), indent=2))
    sinks = [{"name": "edge", "type": "xkey", "nodes": [stub.url]}]
    delivery = {"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 500, "timeout_ms": 500}
    cfg = json.loads(c.config(sinks, delivery).read_text())
    cfg["mapping"] = "mapping.json"
    c.cfg_path.write_text(json.dumps(cfg, indent=2))
    c.start()
    t0 = time.monotonic()

    commit_and_expect(c, stub, "UPDATE products SET category_id = 4 WHERE id = 1",
                      {"product-1", "category-3", "category-4", "product-list"})

    # 2. The same mapping: nothing swapped, no new session.
    s0 = sessions(c.log.read_text())
    cfg["delivery"]["coalesce_ms"] = 6
    c.cfg_path.write_text(json.dumps(cfg, indent=2))
    reload(c, "same mapping")
    log = c.log.read_text()
    tp.check("mapping replaced" not in log, "an unchanged mapping was swapped")
    commit_and_expect(c, stub, "UPDATE products SET category_id = 3 WHERE id = 1",
                      {"product-1", "category-3", "category-4", "product-list"})
    tp.check(sessions(c.log.read_text()) == s0, "an unchanged mapping restarted the source")

    # 3. Mapping B.
    mfile.write_text(json.dumps(mapping_b(t), indent=2))
    reload(c, "mapping B")
    tp.check("mapping replaced (4 tables, was 3)" in c.log.read_text(),
             "the new mapping was not reported")
    t1 = time.monotonic()
    commit_and_expect(c, stub, "UPDATE products SET category_id = 5 WHERE id = 1", {"item-1"})
    commit_and_expect(c, stub, "INSERT INTO orders VALUES (5)", {"order-5"})
    applied = time.monotonic() - t1

    # 4. A broken mapping is refused and changes nothing.
    mfile.write_text(BROKEN % t["products"])
    reload(c, "broken mapping")
    log = c.log.read_text()
    refused = [ln for ln in log.splitlines() if "reload refused" in ln]
    tp.check(len(refused) == 1 and f"{mfile}:3:" in refused[0],
             f"expected one refusal naming {mfile}:3:col, got {refused}")
    s1 = sessions(log)
    commit_and_expect(c, stub, "UPDATE products SET category_id = 6 WHERE id = 1", {"item-1"})
    commit_and_expect(c, stub, "INSERT INTO orders VALUES (6)", {"order-6"})
    tp.check(sessions(c.log.read_text()) == s1, "a refused reload restarted the source")
    c.stop()
    print(f"mapping B applied: 2 commits purged with it {applied:.2f} s after the reload; "
          f"broken mapping refused: {refused[0].split(': ', 1)[1]}; "
          f"{len(stub.requests())} purges in {time.monotonic() - t0:.1f} s")
