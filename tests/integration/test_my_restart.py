#!/usr/bin/env python3
"""Issue 3 test 3: FLUSH LOGS between writes; SIGKILL of tagpurge between a
commit and its delivery, then restart: every purge arrives, none skipped;
a restart of MariaDB itself mid-stream."""
import sys

import tp
import tpmy


def body(c):
    c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a'), (2, 4, 'b'), "
          "(3, 5, 'c')")
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    c.start()

    # Rotation between writes: each purge arrives, the checkpoint follows the new file.
    before = c.warm_all(["product-1", "product-2"], nodes=[0])
    c.wait_confirmed(c.commit("UPDATE products SET name = 'x' WHERE id = 1"))
    c.my.sql("FLUSH LOGS")
    end = c.commit("UPDATE products SET name = 'y' WHERE id = 2")
    c.wait_confirmed(end)
    c.assert_purged(0, "product-1", before[0, "product-1"])
    c.assert_purged(0, "product-2", before[0, "product-2"])
    tp.check(c.confirmed()[0] == end[0], f"checkpoint did not follow the rotation: "
             f"{c.confirmed()} vs {end}")

    # SIGKILL between commit and delivery.
    c.warm_all(["product-3"], nodes=[0])
    c.nodes[0].sigstop()
    try:
        before_kill = c.confirmed()
        end = c.commit("UPDATE products SET category_id = 6 WHERE id = 3")
        tp.wait(lambda: "purge failed" in c.log.read_text(), "a failed delivery attempt", 10)
        c.kill()
        tp.check(c.confirmed() < end, f"checkpoint {c.confirmed()} passed the undelivered "
                 f"commit {end}")
        tp.check(c.confirmed() >= before_kill, "checkpoint went backwards")
    finally:
        c.nodes[0].sigcont()
    # A request left in the stopped node's socket may still be served: wait until it is.
    tp.wait_conns_served(c.nodes[0].port, "node 0 after SIGCONT")
    before3 = c.warm(0, "product-3")
    c.start()
    c.wait_confirmed(end)
    c.assert_purged(0, "product-3", before3)

    # MariaDB restarts mid-stream: tagpurge reconnects and the next change purges.
    before1 = c.warm(0, "product-1")
    c.my.restart()
    end = c.commit("UPDATE products SET name = 'z' WHERE id = 1")
    c.wait_confirmed(end, timeout=40)
    c.assert_purged(0, "product-1", before1)
    tp.check("reconnecting in" in c.log.read_text(), "no reconnection was logged")
    c.stop()


if __name__ == "__main__":
    sys.exit(tpmy.run("my_restart", body))
