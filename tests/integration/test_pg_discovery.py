#!/usr/bin/env python3
"""Issue 4 test 6: dns:// discovery through a hosts file the test controls, and
SIGHUP reloads, with purges in flight; nothing lost.

Three extra Varnish nodes listen on 127.0.0.2-4, one port, so one name can
stand for several of them.
 A. cache.test -> .2 .3: both purged.  .3 stopped, a purge in flight; the
    name moves to .2 .4: .3 is dropped (the checkpoint moves on without it),
    .4 is added and gets the next purges.
 B. SIGHUP adding a static node: it gets purges.  That node stopped with a
    purge queued, SIGHUP keeping it: the purge arrives after SIGCONT.  SIGHUP
    removing it while stopped: the checkpoint moves on.  A broken config on
    SIGHUP is refused and changes nothing.
"""
import json
import signal
import sys

import tp


def write_hosts(path, addrs):
    path.write_text("# test hosts\n" + "".join(f"{a} cache.test other.test\n" for a in addrs))


def body(c):
    port = tp.services.free_ports(1)[0]
    extra = {}
    try:
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            extra[a] = tp.services.Varnish(c.tmp, c.env.origin.port, name=f"d{a[-1]}",
                                           port=port, admin_port=tp.services.free_ports(1)[0],
                                           host=a)
        run(c, port, extra)
    finally:
        for v in extra.values():
            v.sigcont()
            v.stop()


def page(c, v, tag):
    status, hdrs, _ = v.get(c.url(tag))
    tp.check(status == 200, f"GET {tag} on {v.host}: {status}")
    return hdrs.get("x-cache"), int(hdrs["x-backend-count"])


def warm(c, v, tag):
    page(c, v, tag)
    cache, n = page(c, v, tag)
    tp.check(cache == "HIT", f"{tag} did not cache on {v.host}")
    return n


def purged(c, v, tag, before):
    return page(c, v, tag)[1] > before


def run(c, port, x):
    hosts = c.tmp / "hosts"
    write_hosts(hosts, ["127.0.0.2", "127.0.0.3"])
    delivery = {"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 300, "timeout_ms": 300,
                "hosts_file": str(hosts), "discover_interval_s": 1}
    sink = {"name": "edge", "type": "xkey", "nodes": [f"dns://cache.test:{port}"]}
    c.config([sink], delivery=delivery)
    c.start()
    c.marker()
    d2, d3, d4 = x["127.0.0.2"], x["127.0.0.3"], x["127.0.0.4"]
    log = c.log.read_text()
    tp.check(f"node http://127.0.0.2:{port}/ added" in log and
             f"node http://127.0.0.3:{port}/ added" in log, "both addresses became nodes")

    # A: both resolved nodes purged.
    b2, b3 = warm(c, d2, "product-1"), warm(c, d3, "product-1")
    c.wait_confirmed(c.commit("INSERT INTO products VALUES (1, 1, 'a')"))
    tp.check(purged(c, d2, "product-1", b2) and purged(c, d3, "product-1", b3), "A: both purged")

    # .3 stops with a purge in flight; the name moves to .2 and .4.
    b2 = warm(c, d2, "product-2")
    d3.sigstop()
    end = c.commit("INSERT INTO products VALUES (2, 1, 'a')")
    tp.wait(lambda: purged(c, d2, "product-2", b2), ".2 purged", 5)
    tp.hold(lambda: c.confirmed() < end, "confirmed while .3 still owed the purge", 0.5)
    write_hosts(hosts, ["127.0.0.2", "127.0.0.4"])
    c.wait_confirmed(end, timeout=10)  # .3 dropped: released
    tp.wait(lambda: f"node http://127.0.0.4:{port}/ added" in c.log.read_text(), ".4 added", 5)
    tp.check(c.stats()["node_drops"] == 1, "the drop of .3 is counted")
    b2, b4 = warm(c, d2, "product-3"), warm(c, d4, "product-3")
    c.wait_confirmed(c.commit("INSERT INTO products VALUES (3, 1, 'a')"))
    tp.check(purged(c, d2, "product-3", b2) and purged(c, d4, "product-3", b4),
             "A: the new node gets subsequent purges")
    d3.sigcont()

    # B: SIGHUP adds a static node (fixture node 0).
    def reload(nodes):
        n = c.log.read_text().count("reloaded ")
        cfg = json.loads(c.cfg_path.read_text())
        cfg["sinks"][0]["nodes"] = nodes
        c.cfg_path.write_text(json.dumps(cfg))
        c.signal(signal.SIGHUP)
        tp.wait(lambda: c.log.read_text().count("reloaded ") > n, "the reload", 5)

    dns = f"dns://cache.test:{port}"
    reload([dns, c.node_url(0)])
    b0 = c.warm(0, "product-4")
    c.wait_confirmed(c.commit("INSERT INTO products VALUES (4, 1, 'a')"))
    c.assert_purged(0, "product-4", b0)

    # Node 0 stopped with a purge queued; a reload keeping it loses nothing.
    b0 = c.warm(0, "product-5")
    c.nodes[0].sigstop()
    try:
        txns = c.stats()["txns"]
        end = c.commit("INSERT INTO products VALUES (5, 1, 'a')")
        tp.wait(lambda: c.stats()["txns"] > txns, "the purge to be queued", 5)
        reload([c.node_url(0), dns, c.node_url(1)])
        tp.hold(lambda: c.confirmed() < end, "confirmed past a purge the kept node still owes",
                0.6)
    finally:
        c.nodes[0].sigcont()
    c.wait_confirmed(end, timeout=10)
    c.assert_purged(0, "product-5", b0)

    # Removing the stopped node releases what it owed.
    c.nodes[0].sigstop()
    try:
        txns = c.stats()["txns"]
        end = c.commit("INSERT INTO products VALUES (6, 1, 'a')")
        tp.wait(lambda: c.stats()["txns"] > txns, "the purge to be queued", 5)
        tp.hold(lambda: c.confirmed() < end, "confirmed before the node was removed", 0.4)
        reload([dns, c.node_url(1)])
        c.wait_confirmed(end, timeout=10)
    finally:
        c.nodes[0].sigcont()

    # A broken config is refused; the running one keeps purging.
    good = c.cfg_path.read_text()
    c.cfg_path.write_text(good[:-2])
    c.signal(signal.SIGHUP)
    tp.wait(lambda: "reload refused" in c.log.read_text(), "the refusal", 5)
    c.cfg_path.write_text(good)
    b1 = c.warm(1, "product-7")
    c.wait_confirmed(c.commit("INSERT INTO products VALUES (7, 1, 'a')"))
    c.assert_purged(1, "product-7", b1)
    c.stop()


if __name__ == "__main__":
    sys.exit(tp.run("pg_discovery", body))
