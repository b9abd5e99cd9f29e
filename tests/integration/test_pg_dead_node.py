#!/usr/bin/env python3
"""A dead node releases PostgreSQL's WAL after flush_after_down_s (dead_node.py):
the slot's confirmed_flush_lsn passes commits once the node is down and marked,
the mark survives SIGKILL, the node's first request when back is the flush
(variant flush) or the fallback tags (broad), and a SIGHUP that removes the
node drops its mark (remove).  TP_DEAD_VARIANT=NAME runs one variant."""
import os
import sys

import dead_node
import tp


def retention(c):
    """WAL the slot holds: pg_current_wal_lsn() - confirmed_flush_lsn, in bytes."""
    return tp.lsn(c.pg.psql("SELECT pg_current_wal_lsn()")) - c.confirmed()


def main():
    variants = [os.environ.get("TP_DEAD_VARIANT")] if os.environ.get("TP_DEAD_VARIANT") else [
        "flush", "broad", "remove"]
    for v in variants:
        rc = tp.run(f"pg_dead_{v}", lambda c, v=v: dead_node.scenario(c, v, retention))
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
