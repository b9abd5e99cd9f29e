#!/usr/bin/env python3
"""Crash oracle over the MariaDB binlog (crash_oracle.py), the same workload
and kill rounds as test_pg_crash_oracle.py: the checkpoint here is the state
file (binlog file and position, GTID), and the restart of MariaDB mid-round
also rotates the binlog.  Proves that once the state file passes SHOW MASTER
STATUS after the last commit, no committed transaction lacks a tag on either
node and no rolled-back one leaked any."""
import sys

import crash_oracle

if __name__ == "__main__":
    sys.exit(crash_oracle.main("mariadb"))
