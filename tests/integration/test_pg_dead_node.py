#!/usr/bin/env python3
"""A dead node releases PostgreSQL's WAL after flush_after_down_s (dead_node.py):
the slot's confirmed_flush_lsn passes commits once the node is down and marked,
the mark survives SIGKILL, the node's first request when back is the flush
(variant flush) or the fallback tags (broad), a SIGHUP that removes the node
drops its mark (remove), and a dns:// address keeps its mark across a restart
and loses it when the name stops resolving to it (dns).
TP_DEAD_VARIANT=NAME runs one variant."""
import sys

import dead_node
import tp


def retention(c):
    """WAL the slot holds: pg_current_wal_lsn() - confirmed_flush_lsn, in bytes."""
    return tp.lsn(c.pg.psql("SELECT pg_current_wal_lsn()")) - c.confirmed()


if __name__ == "__main__":
    sys.exit(dead_node.run(tp.run, "pg_dead", retention, ["flush", "broad", "remove", "dns"]))
