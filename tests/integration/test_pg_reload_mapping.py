#!/usr/bin/env python3
"""Issue 5: SIGHUP reloads the mapping atomically, PostgreSQL source (see
reload_mapping.py for the steps)."""
import sys

import reload_mapping
import tp


def body(c):
    reload_mapping.body(c, "public", lambda log: log.count("source shop: streaming"))


if __name__ == "__main__":
    sys.exit(tp.run("pg_reload_mapping", body))
