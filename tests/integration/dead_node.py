"""A dead cache node releases the database's log: shared by test_pg_dead_node.py
and test_my_dead_node.py (README "Delivery guarantees").

Two xkey nodes: a real Varnish and a recording stub (tests/harness/capture.py)
that is stopped, so its port refuses connections.  Commits go on:
  - before the stub is `down` (flush_after_down_s) the checkpoint stays before
    them (bounded retention, not none);
  - once it is down its mark is written to <state_dir>/dirty.json and the
    checkpoint passes them; later commits pass at once, the mark unchanged (the
    file is not rewritten);
  - tagpurge is SIGKILLed and restarted while the node is still down: the mark
    is still in the file, tagpurge_node_dirty is 1 and /readyz 503 names it;
  - the stub starts again on the same port: its first request is the flush
    (variant "flush") or the broad purge, the table's fallback tags (variant
    "broad"); then the next commit's exact tags; the mark is gone.
Variant "remove": a SIGHUP that drops the dirty node from the config drops its
mark (the file is rewritten without it).  Variant "dns": the dead node is a
dns:// address (a hosts file): its mark survives a restart (the address is
found again, dirty), and goes when the name stops resolving to it.
"""
import json
import os
import re
import signal
import time

import tp

DOWN_S = 2
FLUSH = {"method": "BAN", "headers": {"X-Ban-All": "1"}}


def marks(c):
    path = c.tmp / "state" / "dirty.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["marks"]


def status_port(c):
    """The status port of the running tagpurge: the last one logged (it restarts)."""
    ports = tp.wait(lambda: re.findall(r"status: listening on \S+ \(port (\d+)\)",
                                       c.log.read_text()), "the status server", 10)
    return int(ports[-1])


def write_config(c, sinks, **delivery):
    c.config(sinks, delivery=dict({"coalesce_ms": 5, "retry_initial_ms": 50,
                                   "retry_max_ms": 300, "timeout_ms": 500,
                                   "flush_after_down_s": DOWN_S}, **delivery))
    cfg = json.loads(c.cfg_path.read_text())
    cfg["listen"] = "127.0.0.1:0"  # MyCase has no status server by default
    c.cfg_path.write_text(json.dumps(cfg, indent=2))


def node_metric(c, name, url):
    key = f'{name}{{sink="v",node="{url}"}}'
    return c.metrics().get(key)


def ready(c):
    return c.status("/readyz")


def mark_stat(c):
    st = os.stat(c.tmp / "state" / "dirty.json")
    return (st.st_ino, st.st_mtime_ns)


def go_down(c, stub, retention):
    """Stop the stub, commit; held until down, then passed.  Returns the commit's end."""
    c.marker()
    stub.stop()
    t0 = time.monotonic()
    end = c.commit("INSERT INTO names VALUES (1, 'a')")
    held, at = None, None

    def not_passed():
        nonlocal held, at
        at = c.confirmed()
        held = retention(c)
        return at < end
    # Not down yet: the node's first failure is after this commit, so it cannot be
    # down before t0 + DOWN_S.
    tp.hold(not_passed, lambda: f"checkpoint {at} passed the commit {end} before the node "
            f"was down", t0 + DOWN_S - 0.4 - time.monotonic())
    tp.check(marks(c) is None or not marks(c), f"a mark before down: {marks(c)}")
    c.wait_confirmed(end, timeout=DOWN_S + 5)
    held_s = time.monotonic() - t0
    print(f"before down: retention held {held} bytes, the commit confirmed {held_s:.2f} s "
          f"after it (flush_after_down_s {DOWN_S})")
    tp.check(held_s >= DOWN_S - 0.4, f"confirmed after {held_s:.2f} s, before down")
    return end


def scenario(c, variant, retention):
    c.status_port = lambda: status_port(c)
    stub = c.stub("dead")
    url = stub.url + "/" if variant == "dns" else stub.url  # discovery adds the path
    sink = {"name": "v", "type": "xkey", "nodes": [c.node_url(0), stub.url]}
    if variant == "flush":
        sink["flush"] = FLUSH
    hosts = c.tmp / "hosts"
    if variant == "dns":
        hosts.write_text("127.0.0.1 dead.test\n")
        sink["nodes"] = [c.node_url(0), f"dns://dead.test:{stub.port}"]
        write_config(c, [sink], hosts_file=str(hosts), discover_interval_s=1)
    else:
        write_config(c, [sink])
    c.start()
    if variant == "dns":
        tp.wait(lambda: node_metric(c, "tagpurge_node_dirty", url) == 0,
                "the dns:// node to be discovered", 5)
    go_down(c, stub, retention)
    want = {"flush": True} if variant == "flush" else {"tags": ["names"]}
    tp.check(marks(c) == {"v": {url: want}}, f"dirty.json marks: {marks(c)}")
    tp.check(node_metric(c, "tagpurge_node_dirty", url) == 1, "tagpurge_node_dirty not 1")
    first = mark_stat(c)

    # Dirty and down: later commits pass at once; the mark does not change.
    t1 = time.monotonic()
    end2 = c.commit("INSERT INTO names VALUES (2, 'b')")
    c.wait_confirmed(end2, timeout=5)
    dirty_s = time.monotonic() - t1
    print(f"after down: a commit confirmed {dirty_s * 1000:.0f} ms after it, retention "
          f"{retention(c)} bytes")
    tp.check(dirty_s < 1.5, f"a commit took {dirty_s:.2f} s while the node was dirty")
    tp.check(mark_stat(c) == first, "dirty.json rewritten though the mark did not change")
    rel = node_metric(c, "tagpurge_node_dirty_releases_total", url)
    tp.check(rel is not None and rel >= 2, f"tagpurge_node_dirty_releases_total {rel}")
    tp.check(c.stats()["dirty_releases"] >= 2, "stats dirty_releases")
    src = c.cfg_path and json.loads(c.cfg_path.read_text())["sources"][0]["name"]
    released = c.metrics().get(f'tagpurge_source_released_bytes_total{{source="{src}"}}')
    print(f"log retention released while dirty: {released} bytes")
    tp.check(released is not None and released > 0,
             f"tagpurge_source_released_bytes_total {released}")
    if variant == "remove":
        return removal(c, url, sink)
    if variant == "dns":
        return dns_removal(c, url, hosts, want)

    # SIGKILL and restart while the node is still down: the mark stays.
    c.kill()
    tp.check(marks(c) == {"v": {url: want}}, f"after SIGKILL: {marks(c)}")
    c.start()
    tp.check(node_metric(c, "tagpurge_node_dirty", url) == 1, "not dirty after restart")
    st, body = tp.wait(lambda: (lambda r: r if r[0] == 503 and url in r[1] else None)(
        ready(c)), "/readyz 503 naming the dirty node", 5)
    tp.check("dirty" in body, f"/readyz reason: {body}")
    # Marked: it releases again at its first failure, without a second wait.
    t2 = time.monotonic()
    end3 = c.commit("INSERT INTO names VALUES (3, 'c')")
    c.wait_confirmed(end3, timeout=DOWN_S)
    print(f"after restart: a commit confirmed {(time.monotonic() - t2) * 1000:.0f} ms after it")

    # Back: the broad purge first, then ordinary purges.
    n0 = len(stub.requests())
    stub.start()
    tp.wait(lambda: not marks(c), "the mark to be removed", 10)
    tp.check(node_metric(c, "tagpurge_node_dirty", url) == 0, "still dirty")
    end4 = c.commit("INSERT INTO names VALUES (4, 'zz')")
    c.wait_confirmed(end4)
    tp.wait(lambda: len(stub.requests()) >= n0 + 2, "the stub's requests", 5)
    reqs = stub.requests()[n0:]
    method, hdrs = reqs[0][0], reqs[0][1]
    if variant == "flush":
        tp.check(method == "BAN" and hdrs.get("x-ban-all") == "1",
                 f"first request is not the flush: {method} {hdrs}")
    else:
        tp.check(method == "PURGEKEYS" and hdrs.get("xkey-purge") == "names",
                 f"first request is not the broad purge: {method} {hdrs}")
    later = [r[1].get("xkey-purge") for r in reqs[1:]]
    tp.check(later == ["name-zz"], f"after the broad purge: {later} (want only name-zz)")
    st, body = tp.wait(lambda: (lambda r: r if r[0] == 200 else None)(ready(c)), "/readyz 200",
                       5)
    c.stop()


def removal(c, url, sink):
    sink = dict(sink, nodes=[c.node_url(0)])
    before = mark_stat(c)
    write_config(c, [sink])
    c.signal(signal.SIGHUP)
    tp.wait(lambda: marks(c) == {}, f"the mark to be dropped (file: {marks(c)})", 5)
    tp.check(mark_stat(c) != before, "dirty.json not rewritten")
    tp.check(node_metric(c, "tagpurge_node_dirty", url) is None, "the node is still there")
    tp.wait(lambda: (lambda r: r if r[0] == 200 else None)(ready(c)), "/readyz 200", 5)
    c.stop()


def run(runner, prefix, retention, variants):
    """Run each variant (TP_DEAD_VARIANT=NAME: only that one) through runner (tp.run,
    tpmy.run); the first failure's exit status, else 0."""
    only = os.environ.get("TP_DEAD_VARIANT")
    for v in [only] if only else variants:
        rc = runner(f"{prefix}_{v}", lambda c, v=v: scenario(c, v, retention))
        if rc != 0:
            return rc
    return 0


def dns_removal(c, url, hosts, want):
    c.kill()
    c.start()
    tp.wait(lambda: node_metric(c, "tagpurge_node_dirty", url) == 1,
            "the rediscovered address to start dirty", 5)
    tp.check(marks(c) == {"v": {url: want}}, f"after restart: {marks(c)}")
    hosts.write_text("127.0.0.1 other.test\n")
    tp.wait(lambda: marks(c) == {}, f"the mark to be dropped (file: {marks(c)})", 5)
    tp.check(node_metric(c, "tagpurge_node_dirty", url) is None, "the node is still there")
    c.stop()
