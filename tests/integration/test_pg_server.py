#!/usr/bin/env python3
"""The PostgreSQL connector against a server that is wrong, then right, then
gone (a private cluster, so the shared one is never disturbed):

- wal_level = replica: a clear error naming the setting; tagpurge keeps retrying;
- fixed and restarted: tagpurge reconnects by itself, creates publication and
  slot, and purges;
- restarted while streaming: reconnects and purges the next commit;
- REPLICA IDENTITY DEFAULT on a table whose tags need a non-key column: a
  warning naming the ALTER TABLE to run, and an UPDATE purges the exact new
  tags plus the fallback tags instead of the unknown old category;
- create=false with a missing publication: an error that prints the SQL.
"""
import shutil
import sys
import time

import tp

MAPPING = dict(tp.MAPPING)
MAPPING["public.plain"] = {"tags": ["plain-{id}", "plaincat-{category_id}"],
                           "fallback_tags": ["plain-list"]}
MAPPING["public.ghost"] = {"tags": ["ghost-{id}", "ghost-{nosuch}"], "fallback_tags": ["ghosts"]}


def log_has(c, text, timeout=20):
    tp.wait(lambda: text in c.log.read_text(), f"log line containing {text!r}", timeout)


def body(c):
    root = tp.services.make_root()
    try:
        c.pg = tp.services.Postgres(root)
        c.pg.psql("ALTER SYSTEM SET wal_level = 'replica'")
        c.pg.restart()
        c.src.fresh()
        c.sql("CREATE TABLE plain(id int PRIMARY KEY, category_id int)")
        c.sql("INSERT INTO plain VALUES (1, 3)")
        c.sql("CREATE TABLE ghost(id int PRIMARY KEY)")
        c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")

        c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}],
                 mapping=MAPPING)
        c.logf = open(c.log, "a")
        c.proc = tp.subprocess.Popen([c.bin, "run", "-c", str(c.cfg_path)],
                                     stdout=c.logf, stderr=tp.subprocess.STDOUT)
        log_has(c, "the server's wal_level is 'replica': set wal_level = logical in "
                   "postgresql.conf and restart PostgreSQL")
        tp.check(c.proc.poll() is None, "tagpurge exited instead of retrying")

        c.pg.psql("ALTER SYSTEM SET wal_level = 'logical'")
        t0 = time.monotonic()
        c.pg.restart()
        tp.wait(c.streaming, "tagpurge to reconnect and stream", 40)
        print(f"streaming {time.monotonic() - t0:.1f} s after the fixed server restarted")
        log_has(c, "table public.plain: tags need column category_id, which UPDATE and "
                   "DELETE do not carry with REPLICA IDENTITY DEFAULT")
        log_has(c, "ALTER TABLE public.plain REPLICA IDENTITY FULL")

        before = c.warm_all(["product-1", "plain-1", "plaincat-3", "plaincat-4", "plain-list"],
                            nodes=[0])
        c.wait_confirmed(c.commit("UPDATE plain SET category_id = 4 WHERE id = 1"))
        for t in ("plain-1", "plaincat-4", "plain-list"):
            c.assert_purged(0, t, before[0, t])
        # The old category is unknown with REPLICA IDENTITY DEFAULT: fallback, not a guess.
        c.assert_cached(0, "plaincat-3", before[0, "plaincat-3"])
        before = c.warm_all(["product-1"], nodes=[0])

        # A placeholder naming a column the table lacks: reported once, when the
        # table is first seen; its changes purge the exact tags it can plus the fallback.
        before_g = c.warm_all(["ghost-1", "ghosts", "ghost-2"], nodes=[0])
        c.wait_confirmed(c.commit("INSERT INTO ghost VALUES (1)"))
        c.wait_confirmed(c.commit("INSERT INTO ghost VALUES (2)"))
        for t in ("ghost-1", "ghosts", "ghost-2"):
            c.assert_purged(0, t, before_g[0, t])
        msg = 'mapping: public.ghost: a tag names column "nosuch", which the table does not have'
        tp.check(c.log.read_text().count(msg) == 1, "expected the missing column reported once")

        # The server goes away while streaming.
        c.pg.restart()
        end = c.commit("UPDATE products SET name = 'b' WHERE id = 1")
        tp.wait(c.streaming, "tagpurge to reconnect after a server restart", 40)
        c.wait_confirmed(end, timeout=40)
        c.assert_purged(0, "product-1", before[0, "product-1"])
        log_has(c, "reconnecting in")
        c.stop()

        # create=false and a publication that does not exist.
        cfg = c.cfg_path.read_text().replace('"create": true', '"create": false')
        cfg = cfg.replace(f'"publication": "{c.slot}"', '"publication": "missing_pub"')
        c.cfg_path.write_text(cfg)
        c.proc = tp.subprocess.Popen([c.bin, "run", "-c", str(c.cfg_path)],
                                     stdout=c.logf, stderr=tp.subprocess.STDOUT)
        log_has(c, "publication missing_pub does not exist; run: CREATE PUBLICATION "
                   "missing_pub FOR TABLE")
        c.stop()
    finally:
        if c.proc is not None and c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
        c.pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(tp.run("pg_server", body))
