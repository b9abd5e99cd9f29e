#!/usr/bin/env python3
"""Issue 5: SIGHUP reloads the mapping atomically, MariaDB source: the binlog
reader thread switches maps at a transaction start (see reload_mapping.py for
the steps)."""
import sys

import reload_mapping
import tpmy


def body(c):
    reload_mapping.body(c, c.db, lambda log: log.count("source my: streaming"))


if __name__ == "__main__":
    sys.exit(tpmy.run("my_reload_mapping", body))
