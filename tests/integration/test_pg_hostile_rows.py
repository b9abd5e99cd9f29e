#!/usr/bin/env python3
"""Issue 6: hostile row values through PostgreSQL (see hostile_rows.py).  A
text value cannot hold NUL or invalid UTF-8 here, so those bytes go through
a bytea column, whose change-stream text is its hex form."""
import sys

import hostile_rows
import tp


def body(c):
    c.sql("CREATE TABLE blobs(id int PRIMARY KEY, b bytea); "
          "CREATE TABLE texts(id int PRIMARY KEY, t text)")
    hostile_rows.run(c, "public", {
        "binary": lambda b: f"'\\x{b.hex()}'::bytea",
        "text": lambda s: "E'" + s.replace("\\", "\\\\").replace("'", "\\'")
        .replace("\r", "\\r").replace("\n", "\\n") + "'",
        "big": lambda n: f"repeat('a', {n})",
        "shown": lambda b: b"\\x" + b.hex().encode(),
    })


if __name__ == "__main__":
    sys.exit(tp.run("pg_hostile_rows", body))
