#!/usr/bin/env python3
"""Self-check of the test harness and deploy/varnish/tagpurge.vcl (not a ctest).

    python3 tests/harness/selftest.py

Runs `services.py up`, exercises xkey purge, BAN and the ACL through Varnish node 0,
runs `services.py down`, prints PASS/FAIL per step and the up/down timings.
Exit status 0 only if every step passed (77 if a server binary is missing).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import services  # noqa: E402

SERVICES = [sys.executable, str(HERE / "services.py")]
results = []


def step(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)
    return ok


def fetch(v, path):
    """GET through Varnish -> (status, X-Cache, X-Backend-Count as int or None)."""
    status, hdrs, _ = v.get(path)
    count = hdrs.get("x-backend-count")
    return status, hdrs.get("x-cache"), int(count) if count else None


def expect_fetch(v, name, path, cache, count):
    got = fetch(v, path)
    return step(name, got == (200, cache, count), f"got status/X-Cache/count {got}")


def ban(v, tags_regex, **extra):
    headers = {"X-Cache-Tags": tags_regex}
    headers.update({k.replace("_", "-"): val for k, val in extra.items()})
    return v.request("BAN", "/", headers)


def run_checks(env):
    v = env.varnish[0]
    p = "/t/product-1/category-3"

    # cache, hit
    expect_fetch(v, "GET #1 is a MISS, fetch 1", p, "MISS", 1)
    expect_fetch(v, "GET #2 is a HIT, fetch still 1", p, "HIT", 1)
    _, hdrs, _ = v.get(p)
    step("tag headers delivered", hdrs.get("xkey") == "product-1 category-3"
         and hdrs.get("x-cache-tags") == "product-1,category-3"
         and "x-url" not in hdrs and "x-host" not in hdrs, f"{hdrs.get('xkey')!r} {hdrs.get('x-cache-tags')!r}")

    # xkey hard purge
    status, _, body = v.request("PURGEKEYS", "/", {"xkey-purge": "product-1"})
    step("PURGEKEYS xkey-purge: product-1 -> 200 Purged 1", status == 200 and "Purged 1 objects" in body,
         f"status {status}")
    expect_fetch(v, "GET after xkey purge is a MISS, fetch 2", p, "MISS", 2)
    expect_fetch(v, "GET again is a HIT, fetch 2", p, "HIT", 2)

    status, _, _ = v.request("PURGEKEYS", "/", {})
    step("PURGEKEYS without xkey header -> 400", status == 400, f"status {status}")

    # BAN with match-all optional headers
    status, _, body = ban(v, "(^|,)(category-3)(,|$)", X_Host=".*", X_Url=".*", X_Content_Type=".*")
    step("BAN category-3 (+ X-Host/X-Url/X-Content-Type .*) -> 200", status == 200, f"status {status}")
    expect_fetch(v, "GET after BAN is a MISS, fetch 3", p, "MISS", 3)
    bans = v.adm("ban.list")
    step("ban is lurker-friendly (obj.* only, no quotes)",
         "obj.http.X-Cache-Tags ~ (^|,)(category-3)(,|$)" in bans and "req." not in bans, bans.strip())

    # regex escaping: '.' must not act as a wildcard
    lit, near = "/t/name-a.b", "/t/name-axb"
    fetch(v, lit), fetch(v, near)
    step("objects name-a.b and name-axb cached",
         fetch(v, lit)[1] == "HIT" and fetch(v, near)[1] == "HIT")
    status, _, _ = ban(v, r"(^|,)(name-a\.b)(,|$)")
    step(r"BAN (^|,)(name-a\.b)(,|$) -> 200", status == 200, f"status {status}")
    expect_fetch(v, "name-axb survives the escaped ban (HIT, fetch 1)", near, "HIT", 1)
    expect_fetch(v, "name-a.b is evicted (MISS, fetch 2)", lit, "MISS", 2)

    # narrowed BAN: X-Url restricts the match
    a, b = "/t/shared/one", "/t/shared/two"
    fetch(v, a), fetch(v, b)
    status, _, _ = ban(v, "(^|,)(shared)(,|$)", X_Url="^/t/shared/one$")
    step("BAN shared + X-Url ^/t/shared/one$ -> 200", status == 200, f"status {status}")
    expect_fetch(v, "X-Url-narrowed ban evicts /one", a, "MISS", 2)
    expect_fetch(v, "X-Url-narrowed ban keeps /two", b, "HIT", 1)

    # BAN error handling
    status, _, body = ban(v, "(^|,)(broken")
    step("BAN with an invalid regex -> 400", status == 400, f"status {status}")
    status, _, _ = ban(v, "(^|,)(a b)(,|$)")
    step("BAN regex with a space -> 400", status == 400, f"status {status}")
    status, _, _ = ban(v, '"(^|,)(shared)(,|$)"')
    step("BAN with a double-quoted regex -> 400 (quotes would be literal)", status == 400, f"status {status}")
    status, _, _ = v.request("BAN", "/", {})
    step("BAN without X-Cache-Tags -> 400", status == 400, f"status {status}")

    # URL purge
    status, _, _ = v.request("PURGE", b, {})
    step("PURGE (URL purge) -> 200", status == 200, f"status {status}")
    expect_fetch(v, "URL-purged object is a MISS", b, "MISS", 2)

    # softpurge: stale HIT once, then the refetched object
    fetch(v, "/t/soft")
    status, _, body = v.request("PURGEKEYS", "/", {"xkey-softpurge": "soft"})
    step("PURGEKEYS xkey-softpurge -> 200 Purged 1", status == 200 and "Purged 1 objects" in body,
         f"status {status}")
    first = fetch(v, "/t/soft")
    deadline = time.monotonic() + 5
    while fetch(v, "/t/soft")[2] != 2 and time.monotonic() < deadline:
        time.sleep(0.025)
    step("softpurge: stale HIT, then the refetched object", first[1] == "HIT" and fetch(v, "/t/soft")[2] == 2,
         f"first after softpurge {first}")

    # ACL
    for method, hdrs in (("PURGE", {}), ("PURGEKEYS", {"xkey-purge": "product-1"}),
                         ("BAN", {"X-Cache-Tags": "(^|,)(product-1)(,|$)"})):
        status, _, _ = v.request(method, "/t/product-1/category-3", hdrs, source_ip="127.0.0.2")
        step(f"{method} from 127.0.0.2 -> 403", status == 403, f"status {status}")
    status, hdrs, _ = v.request("GET", p, source_ip="127.0.0.2")
    got = (status, hdrs.get("x-cache"), hdrs.get("x-backend-count"))
    step("GET from 127.0.0.2 still served (HIT, fetch 3)", got == (200, "HIT", "3"), f"got {got}")

    # the other node is independent
    expect_fetch(env.varnish[1], "node 1 has its own cache (MISS, origin fetch 4)", p, "MISS", 4)

    # PostgreSQL
    out = env.pg.psql("SHOW wal_level; SHOW max_replication_slots;")
    step("postgres: wal_level logical, 20 slots", out.split() == ["logical", "20"], out.replace("\n", " "))


def main():
    with tempfile.TemporaryDirectory(prefix="tpself.") as d:
        t0 = time.monotonic()
        up = subprocess.run(SERVICES + ["up", "--dir", d])
        t_up = time.monotonic() - t0
        if up.returncode == services.SKIP:
            print("SKIP  services.py up: a server binary is missing")
            return services.SKIP
        if not step("services.py up", up.returncode == 0, f"{t_up:.2f}s"):
            return 1
        try:
            env = services.load_env(d)
            run_checks(env)
        except Exception as e:  # report, then still tear down
            step("checks ran without exception", False, f"{type(e).__name__}: {e}")
        finally:
            t0 = time.monotonic()
            down = subprocess.run(SERVICES + ["down", "--dir", d])
            t_down = time.monotonic() - t0
            step("services.py down", down.returncode == 0, f"{t_down:.2f}s")
            root = env.root if "env" in locals() else None
            if root:
                step("temp root removed", not Path(root).exists(), root)
    failed = results.count(False)
    print(f"{len(results) - failed}/{len(results)} passed; up {t_up:.2f}s, down {t_down:.2f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
