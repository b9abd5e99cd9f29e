#!/usr/bin/env python3
"""Issue 3: clear errors naming the fix for a missing REPLICATION SLAVE
privilege, a server_id that is the server's own, and binlog disabled (issue 5:
`check --online` reports each, plus binlog_format / binlog_row_image /
binlog_row_metadata below what tagpurge needs and a server_id used by a real
registered replica); with
binlog_row_metadata below FULL, column names come from information_schema,
guarded: a column-count mismatch (the table changed after the event was
written) purges the table's fallback tags instead of decoding with a wrong
schema; `replay --send` purges through the sinks."""
import glob
import json
import os
import shutil
import subprocess
import sys

import tp
import tpmy


def run_until(c, cfg, text, env_pw="replpw", timeout=15):
    """Start tagpurge with cfg, wait for text in its log, stop it."""
    path = c.tmp / "err.json"
    path.write_text(json.dumps(cfg))
    log = c.tmp / "err.log"
    with open(log, "w") as f:
        p = subprocess.Popen([c.bin, "run", "-c", str(path)], stdout=f, stderr=subprocess.STDOUT,
                             env=dict(os.environ, TAGPURGE_MY_PASSWORD=env_pw))
    try:
        tp.wait(lambda: text in log.read_text(), f"log line {text!r}", timeout)
        tp.check(p.poll() is None, "tagpurge exited instead of retrying")
    finally:
        p.terminate()
        p.wait()


def source(c, **kw):
    src = {"name": "my", "type": "mysql", "host": "127.0.0.1", "port": c.my.port, "user": "repl",
           "password_env": "TAGPURGE_MY_PASSWORD", "server_id": c.server_id}
    src.update(kw)
    return {"state_dir": str(c.tmp / "err-state"), "mapping": tpmy.mapping(c.db),
            "sources": [src], "sinks": []}


def check_online(c, cfg, want_rc, want_text, env_pw="replpw"):
    path = c.tmp / "check.json"
    path.write_text(json.dumps(cfg))
    out = subprocess.run([c.bin, "check", "--online", "-c", str(path)], capture_output=True,
                         text=True, timeout=30, env=dict(os.environ, TAGPURGE_MY_PASSWORD=env_pw))
    tp.check(out.returncode == want_rc and want_text in out.stdout + out.stderr,
             f"check --online: exit {out.returncode}, want {want_rc} and {want_text!r}:\n"
             f"{out.stdout}{out.stderr}")


def errors(c):
    check_online(c, source(c), 0, "source my: OK")
    for var, bad, text in (("binlog_format", "MIXED", "binlog_format is MIXED: set "
                            "binlog_format=ROW"),
                           ("binlog_row_image", "MINIMAL", "binlog_row_image is MINIMAL: set "
                            "binlog_row_image=FULL"),
                           ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata is MINIMAL: "
                            "set binlog_row_metadata=FULL")):
        good = c.my.sql(f"SELECT @@global.{var}")
        c.my.sql(f"SET GLOBAL {var} = '{bad}'")
        try:
            check_online(c, source(c), 1, text)
        finally:
            c.my.sql(f"SET GLOBAL {var} = '{good}'")
    c.my.sql("DROP USER IF EXISTS 'noslave'@'127.0.0.1'; "
             "CREATE USER 'noslave'@'127.0.0.1' IDENTIFIED BY 'x'; "
             "GRANT BINLOG MONITOR, SELECT ON *.* TO 'noslave'@'127.0.0.1'")
    run_until(c, source(c, user="noslave"), "grant REPLICATION SLAVE to the user", env_pw="x")
    check_online(c, source(c, user="noslave"), 1, "user noslave@127.0.0.1 may not read the "
                 "binlog: run GRANT REPLICATION SLAVE ON *.* TO noslave@127.0.0.1", env_pw="x")
    run_until(c, source(c, server_id=1), "server_id 1 is the server's own: choose another")
    check_online(c, source(c, server_id=1), 1, "server_id 1 is the server's own")
    root = tp.services.make_root()
    try:
        nolog = tp.services.MariaDB(root, extra_args=["--skip-log-bin", "--server-id=777",
                                                      "--report-host=127.0.0.1"])
        cfg = source(c, port=nolog.port)
        run_until(c, cfg, "binary logging is disabled on the server: start it with log_bin")
        check_online(c, cfg, 1, "binary logging is disabled on the server")
        replica_clash(c, nolog)
        nolog.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def replica_clash(c, replica):
    """A real replica registered with server_id 777: check --online names it when
    it may list replicas, and says it could not check otherwise."""
    file, pos = c.position()
    replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={c.my.port}, "
                f"MASTER_USER='repl', MASTER_PASSWORD='replpw', MASTER_USE_GTID=no, "
                f"MASTER_LOG_FILE='{file}', MASTER_LOG_POS={pos}; START SLAVE")
    try:
        tp.wait(lambda: "777" in c.my.sql("SHOW SLAVE HOSTS"), "the replica to register", 15)
        c.my.sql("DROP USER IF EXISTS 'admin'@'127.0.0.1'; "
                 "CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY 'x'; "
                 "GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT "
                 "ON *.* TO 'admin'@'127.0.0.1'")
        check_online(c, source(c, user="admin", server_id=777), 1,
                     "server_id 777 is already used by the replica registered from 127.0.0.1:",
                     env_pw="x")
        check_online(c, source(c, user="admin"), 0, "source my: OK", env_pw="x")
        check_online(c, source(c, server_id=777), 0, "server_id clash not checked; grant "
                     "REPLICATION MASTER ADMIN to check it")
    finally:
        replica.sql("STOP SLAVE")


def duplicate_server_id(c):
    """Two replicas with one server_id: a hint, growing backoff, never a false gap."""
    logs, procs = [], []
    for i in (1, 2):
        cfg = source(c)
        cfg["state_dir"] = str(c.tmp / f"dup{i}")
        path = c.tmp / f"dup{i}.json"
        path.write_text(json.dumps(cfg))
        logs.append(c.tmp / f"dup{i}.log")
        with open(logs[-1], "w") as f:
            procs.append(subprocess.Popen([c.bin, "run", "-c", str(path)], stdout=f,
                                          stderr=subprocess.STDOUT,
                                          env=dict(os.environ, TAGPURGE_MY_PASSWORD="replpw")))
    try:
        tp.wait(lambda: any("reconnecting in 2000 ms" in l.read_text() for l in logs),
                "backoff to grow", 20)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    text = "".join(l.read_text() for l in logs)
    tp.check("another replica uses this server_id: choose a unique server_id" in text,
             "no server_id hint")
    tp.check("GAP" not in text, "a server_id clash was taken for a gap")


def names_from_information_schema(c):
    c.my.sql("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    try:
        c.sql("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')")
        c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
        c.start()
        tp.check("binlog_row_metadata is MINIMAL" in c.log.read_text(), "no metadata warning")
        before = c.warm_all(["product-1", "category-3", "category-4", "product-list"], nodes=[0])
        c.wait_confirmed(c.commit("UPDATE products SET category_id = 4 WHERE id = 1"))
        for t in ("product-1", "category-3", "category-4"):  # exact: names were found
            c.assert_purged(0, t, before[0, t])
        c.stop()
        # The table changes after an event was written and before it is read.
        before = c.warm_all(["product-1", "category-4", "category-9", "product-list"], nodes=[0])
        c.commit("UPDATE products SET category_id = 9 WHERE id = 1")
        c.sql("ALTER TABLE products ADD COLUMN extra int")
        c.start()
        c.wait_confirmed(c.position())
        tp.check("information_schema has 5 columns, the binlog 4" in c.log.read_text(),
                 "the column-count guard did not trigger")
        c.assert_purged(0, "product-list", before[0, "product-list"])
        c.assert_cached(0, "category-9", before[0, "category-9"])  # not decoded with a wrong schema
        c.stop()
    finally:
        c.my.sql("SET GLOBAL binlog_row_metadata = 'FULL'")


def replay_send(c):
    # Offline there is no information_schema: write one change with FULL metadata.
    c.commit("UPDATE products SET name = 'full' WHERE id = 1")
    before = c.warm_all(["product-1"], nodes=[0])
    files = sorted(glob.glob(f"{c.my.datadir}/binlog.[0-9]*"))
    out = subprocess.run([c.bin, "replay", "--send", "-c", str(c.cfg_path), "--binlog"] + files,
                         capture_output=True, text=True, timeout=60)
    tp.check(out.returncode == 0, f"replay --send failed: {out.stderr}")
    tp.check("tags purged on every node" in out.stderr, out.stderr)
    c.assert_purged(0, "product-1", before[0, "product-1"])


def body(c):
    errors(c)
    duplicate_server_id(c)
    names_from_information_schema(c)
    replay_send(c)


if __name__ == "__main__":
    sys.exit(tpmy.run("my_errors", body))
