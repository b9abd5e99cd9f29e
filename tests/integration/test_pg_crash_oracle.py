#!/usr/bin/env python3
"""Crash oracle over PostgreSQL logical decoding (crash_oracle.py), on its own primary
and synchronous standby: tagpurge is SIGKILLed and restarted 30 times at random
moments while a workload commits, moves rows across categories (REPLICA IDENTITY
FULL), cascades deletes and key updates to child rows, and rolls back; node b of two
recording nodes is frozen, down, then dead past flush_after_down_s; PostgreSQL
restarts, the slot is dropped while tagpurge is down, and the primary is SIGKILLed
and its standby promoted.  Proves: once the slot's confirmed_flush_lsn passes the
last commit, both nodes received every expected tag of every committed transaction
after its COMMIT was sent (or a broad purge after it: each gap logged GAP), and
nothing of a rollback."""
import sys

import crash_oracle

if __name__ == "__main__":
    sys.exit(crash_oracle.main("pg"))
