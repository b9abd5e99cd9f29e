#!/usr/bin/env python3
"""Crash oracle over PostgreSQL logical decoding (crash_oracle.py): tagpurge is
SIGKILLed and restarted 30 times at random moments while a workload commits,
updates across categories (REPLICA IDENTITY FULL) and rolls back; node b of
two recording nodes is frozen, then down, for 6 rounds; PostgreSQL restarts
(fast shutdown) under both.  Proves: once the slot's confirmed_flush_lsn
passes the last commit, both nodes received every expected tag of every
committed transaction after its COMMIT was sent, and nothing of a rollback."""
import sys

import crash_oracle

if __name__ == "__main__":
    sys.exit(crash_oracle.main("pg"))
