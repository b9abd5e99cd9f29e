#!/usr/bin/env python3
"""Issue 3: the checkpointed binlog is purged from the server while tagpurge
is down: on restart the GTID dump fails with error 1236 and tagpurge logs the
gap loudly, purges the fallback tags of every mapped table and the configured
gap_tags (a tag every page carries makes it a full purge), and continues from
the server's current end (not its oldest binlog).  Then a server that stops
answering (SIGSTOP) is detected by the heartbeat/read timeout and reconnected;
nothing is lost.  Last, the checkpoint's server identity: with a GTID state a
different identity is no gap (the GTID is found); without one (the file:pos
path) it is, and so is an unreadable checkpoint."""
import json
import sys

import tp
import tpmy


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
    c.sql("INSERT INTO names VALUES (1, 'n')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}],
             extra={"heartbeat_ms": 500, "gap_tags": ["site"]})
    c.start()
    c.marker()
    c.stop()

    # While tagpurge is down: writes, rotations, and the checkpoint's file purged.
    before = c.warm_all(["product-list", "names", "site", "product-1", "product-2"], nodes=[0])
    c.my.sql("FLUSH LOGS")
    c.commit("INSERT INTO products(id, category_id, name) VALUES (2, 4, 'b')")
    c.my.sql("FLUSH LOGS")
    newest = c.position()[0]

    def purged():
        # A file InnoDB has not checkpointed yet is "in use": retry until it goes.
        c.my.sql(f"PURGE BINARY LOGS TO '{newest}'")
        return c.my.sql("SHOW BINARY LOGS").split("\t")[0] == newest
    tp.wait(purged, "PURGE BINARY LOGS to take effect", 15, step=0.2)
    end = c.position()
    c.start()
    # The broad purge sits at the server's end, and streaming goes on from there.
    c.wait_gap_1236_at(end, timeout=10)
    c.wait_confirmed(end)
    for t in ("product-list", "names", "site"):  # every mapped table's fallback + gap_tags
        c.assert_purged(0, t, before[0, t])
    # product-2 was written in a purged file: only the broad purge covers it.
    c.assert_cached(0, "product-2", before[0, "product-2"])

    # A frozen server: the heartbeat/read timeout notices, tagpurge reconnects.
    before = c.warm_all(["product-1"], nodes=[0])
    n = c.log.read_text().count("source my: reconnecting")
    c.my.sigstop()
    try:
        # The read timeout (3 x heartbeat + 2 s) ends the session while the server is frozen.
        tp.wait(lambda: c.log.read_text().count("source my: reconnecting") > n,
                "the read timeout to end the session with the frozen server", 15)
    finally:
        c.my.sigcont()
    end = c.commit("UPDATE products SET name = 'z' WHERE id = 1")
    c.wait_confirmed(end, timeout=40)
    c.assert_purged(0, "product-1", before[0, "product-1"])
    log = c.log.read_text()
    tp.check(log.count("source my: streaming") >= 3, "no reconnection after the frozen server")
    c.stop()

    # Another server's identity with a GTID state: resumed by GTID, no gap.
    c.state.write_text(c.state.read_text().replace('"server": "', '"server": "other-'))
    before = c.warm_all(["product-list", "names", "name-m"], nodes=[0])
    mark = c.log.read_text().count("GAP:")
    c.start()
    end = c.commit("UPDATE names SET name = 'm' WHERE id = 1")
    c.wait_confirmed(end)
    c.assert_purged(0, "name-m", before[0, "name-m"])
    c.assert_cached(0, "product-list", before[0, "product-list"])
    c.assert_cached(0, "names", before[0, "names"])
    tp.check(c.log.read_text().count("GAP:") == mark, "a GTID resume on another identity gapped")
    c.stop()

    # Another server's identity without a GTID state (file:pos), then an
    # unreadable checkpoint: both are gaps.
    def other_no_gtid(st):
        st = json.loads(st)
        st["server"], st["gtid"] = "other-" + st["server"], ""
        return json.dumps(st)
    for why, edit in (("the server is not the one the checkpoint came from", other_no_gtid),
                      ("the checkpoint file is unreadable", lambda st: st[:10])):
        c.state.write_text(edit(c.state.read_text()))
        before = c.warm_all(["product-list", "names"], nodes=[0])
        mark = c.log.read_text().count("GAP:")
        c.start()
        tp.wait(lambda: c.log.read_text().count("GAP:") > mark, f"gap for: {why}", 10)
        tp.check(why in c.log.read_text(), f"the gap does not say: {why}")
        tp.wait(lambda: c.page(0, "names")[1] > before[0, "names"], "the broad purge", 10)
        c.stop()


if __name__ == "__main__":
    sys.exit(tpmy.run("my_gap", body))
