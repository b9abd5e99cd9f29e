"""Figure 1: stream throughput. One change stream of `rows` row changes
(half INSERT, half UPDATE of the same rows, `per` rows per transaction) is
generated once per source; every consumer then reads that same stream from
its start, one consumer at a time, `reps` times in rotated order."""
import json
import shutil
import time
from pathlib import Path

from benchlib import BenchError, Tagpurge, log, median, run_to_exit, services
from sources import mapping, process_env

CONSUMER_TIMEOUT_S = 600


def measure(b, src):
    """{'source', 'rows', 'txns', 'gen_s', 'consumers': [...]} for one source."""
    per, rows = b.sizes.per_txn, b.sizes.rows
    n_half = rows // (2 * per)
    stream = {"rows": 2 * n_half * per, "txns": 2 * n_half}
    if src.name == "pg":
        prepared = _prepare_pg(b, src, n_half, per)
    else:
        prepared = _prepare_my(b, src, n_half, per)
    stream.update(source=src.name, gen_s=prepared.pop("gen_s"))
    consumers = prepared.pop("consumers")
    stream["consumers"] = _rotate(consumers, b.sizes.reps, stream)
    cleanup = prepared.get("cleanup")
    if cleanup:
        cleanup()
    return stream


def _rotate(consumers, reps, stream):
    """Run every consumer reps times; repetition r starts with consumer r mod k,
    so no consumer always reads first (cold caches) or last."""
    runs = {name: [] for name, _, _ in consumers}
    errors = {}
    for r in range(reps):
        k = r % len(consumers)
        for name, _, fn in consumers[k:] + consumers[:k]:
            if name in errors:
                continue
            try:
                runs[name].append(fn(r, stream))
                log(f"throughput {stream['source']}: {name}: {runs[name][-1]['wall_s']:.2f} s")
            except BenchError as e:
                errors[name] = str(e)
                log(f"throughput: {name} failed: {e}")
    out = []
    for name, kind, _ in consumers:
        out.append(_summarise(name, kind, runs[name], errors.get(name), stream))
    return out


def _summarise(name, kind, runs, error, stream):
    runs = [{k: v for k, v in r.items() if k != "stdout"} for r in runs]
    row = {"name": name, "kind": kind, "error": error, "runs": runs}
    if runs and not error:
        wall = median([r["wall_s"] for r in runs])
        row.update(wall_s=wall, rows_per_s=stream["rows"] / wall, txns_per_s=stream["txns"] / wall,
                   cpu_s=median([r["cpu_s"] for r in runs]),
                   rss_kb=max(r["rss_kb"] for r in runs),
                   walls=[r["wall_s"] for r in runs])
        row["cpu_per_10k_ms"] = row["cpu_s"] / stream["rows"] * 1e4 * 1e3
    return row


# --------------------------------------------------------------------------
# PostgreSQL: one slot per consumer and repetition, all created before the
# stream, so each reads exactly the same WAL.

def _prepare_pg(b, src, n_half, per):
    slots = [f"tput_{c}_{r}" for c in ("tp", "recv", "node") for r in range(b.sizes.reps)]
    for slot in slots:
        src.create_slot(slot)
    t0 = time.monotonic()
    src.sql(f"CALL gen_items({n_half}, {per})")
    src.sql(f"CALL upd_items({n_half}, {per})")
    gen_s = time.monotonic() - t0
    end_lsn = src.sql("SELECT pg_current_wal_lsn()")
    log(f"throughput pg: {2 * n_half * per} row changes generated in {gen_s:.1f} s")

    def tagpurge(r, stream):
        cfg = src.source_cfg(slot=f"tput_tp_{r}", publication="tput")
        return _tagpurge(b, src, cfg, stream, f"tput-pg-{r}")

    def recvlogical(r, _stream):
        argv = [f"{services.pg_bindir()}/pg_recvlogical", "-d", src.conninfo,
                "-S", f"tput_recv_{r}", "--start", "-o", "proto_version=1",
                "-o", "publication_names=tput", "-E", end_lsn, "--no-loop", "-f", "/dev/null"]
        return _exiting(argv)

    def node(r, stream):
        cfg = {"host": "127.0.0.1", "port": src.pg.port, "user": "postgres",
               "database": "bench", "slot": f"tput_node_{r}", "publication": "tput",
               "rows": stream["rows"], "txns": stream["txns"]}
        return _node(b, "pgrepl.mjs", cfg, stream)

    def cleanup():
        for slot in slots:
            src.drop_slot(slot)

    return {"gen_s": gen_s, "cleanup": cleanup,
            "consumers": [("tagpurge", "tagpurge", tagpurge),
                          ("pg_recvlogical", "thin C", recvlogical),
                          ("pg-logical-replication", "Node peer", node)]}


# --------------------------------------------------------------------------
# MariaDB: the stream is exactly one binlog file (FLUSH before and after);
# every consumer reads it from position 4.

def _prepare_my(b, src, n_half, per):
    src.sql("FLUSH BINARY LOGS")
    binlog = src.binlog_file()
    t0 = time.monotonic()
    src.sql(f"CALL gen_items({n_half}, {per})")
    src.sql(f"CALL upd_items({n_half}, {per})")
    gen_s = time.monotonic() - t0
    src.sql("FLUSH BINARY LOGS")
    size = src.binlog_size(binlog)
    log(f"throughput my: {2 * n_half * per} row changes generated in {gen_s:.1f} s "
          f"({binlog}, {size / 1e6:.1f} MB)")

    def tagpurge(r, stream):
        cfg = src.source_cfg(start={"file": binlog, "pos": 4})
        return _tagpurge(b, src, cfg, stream, f"tput-my-{r}")

    def mariadb_binlog(r, _stream):
        out = Path("/dev/shm" if Path("/dev/shm").is_dir() else b.work) / f"tp-bench-raw-{r}"
        out.mkdir(exist_ok=True)
        argv = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", "--raw",
                "--host=127.0.0.1", f"--port={src.port}", "--user=repl", "--password=replpw",
                f"--result-file={out}/", binlog]
        try:
            res = _exiting(argv)
            got = (out / binlog).stat().st_size if (out / binlog).exists() else 0
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if got != size:
            raise BenchError(f"mariadb-binlog wrote {got} bytes of {binlog}, the server has {size}")
        return res

    def zongji(r, stream):
        cfg = {"host": "127.0.0.1", "port": src.port, "user": "repl", "password": "replpw",
               "serverId": src.next_server_id(), "file": binlog, "db": "bench",
               "table": "items", "rows": stream["rows"], "txns": stream["txns"]}
        return _node(b, "zongji.mjs", cfg, stream)

    return {"gen_s": gen_s,
            "consumers": [("tagpurge", "tagpurge", tagpurge),
                          ("mariadb-binlog --raw", "thin C", mariadb_binlog),
                          ("@vlasky/zongji", "Node peer", zongji)]}


# --------------------------------------------------------------------------
# consumers

def _tagpurge(b, src, source_cfg, stream, tag):
    """tagpurge with the mapping and no sink: from spawn until /metrics shows the
    whole stream read and confirmed. CPU and peak RSS (VmHWM) from /proc."""
    cfg = {"mapping": mapping(src.table), "sources": [source_cfg], "sinks": []}
    tp = Tagpurge(b.tp_bin, b.work / tag, cfg, env=process_env(src))
    try:
        tp.wait_changes(src.name, stream["rows"], CONSUMER_TIMEOUT_S)
        wall = time.monotonic() - tp.t_start
        st = tp.stats()
        txns = tp.source(src.name, "transactions_total")
    finally:
        tp.stop()
    if txns < stream["txns"]:
        raise BenchError(f"tagpurge read {txns:.0f} transactions, expected {stream['txns']}")
    return {"wall_s": wall, "cpu_s": st["cpu_s"], "rss_kb": st["hwm_kb"]}


def _exiting(argv):
    wall, cpu, maxrss, rc, out, err = run_to_exit(argv, CONSUMER_TIMEOUT_S)
    if rc != 0:
        raise BenchError(f"{Path(argv[0]).name} exited {rc}: {(err or out)[-500:]}")
    return {"wall_s": wall, "cpu_s": cpu, "rss_kb": maxrss, "stdout": out}


def _node(b, script, cfg, stream):
    """A Node consumer (bench/consumers/*.mjs, copied next to its node_modules)
    that exits by itself once it counted the whole stream; its count is checked."""
    res = _exiting(["node", str(b.node_dir / script), json.dumps(cfg)])
    try:
        counted = json.loads(res["stdout"].strip().splitlines()[-1])
    except (IndexError, ValueError) as e:
        raise BenchError(f"{script}: no count in its output {res['stdout'][-300:]!r}") from e
    if counted.get("rows") != stream["rows"] or counted.get("txns") != stream["txns"]:
        raise BenchError(f"{script} counted {counted}, expected {stream['rows']} rows "
                         f"and {stream['txns']} transactions")
    return res
