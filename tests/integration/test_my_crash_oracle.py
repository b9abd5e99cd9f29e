#!/usr/bin/env python3
"""Crash oracle over the MariaDB binlog (crash_oracle.py), the same workload and kill
rounds as test_pg_crash_oracle.py, on its own primary and semi-synchronous GTID
replica: the checkpoint here is the state file (binlog file and position, GTID
state); foreign-key cascades are not in the binlog and must be derived; the restart
of MariaDB mid-round also rotates the binlog; the primary SIGKILLed under load and
the replica promoted must be followed at the GTID with no gap.  Proves that once the
state file passes SHOW MASTER STATUS after the last commit, no committed transaction
lacks a tag on either node and no rolled-back one leaked any."""
import sys

import crash_oracle

if __name__ == "__main__":
    sys.exit(crash_oracle.main("mariadb"))
