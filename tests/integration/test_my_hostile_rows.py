#!/usr/bin/env python3
"""Issue 6: hostile row values through MariaDB (see hostile_rows.py): NUL and
invalid UTF-8 bytes in a VARBINARY/LONGBLOB column reach the tag as %00, %FF."""
import sys

import hostile_rows
import tpmy


def body(c):
    c.sql("CREATE TABLE blobs(id int PRIMARY KEY, b longblob); "
          "CREATE TABLE texts(id int PRIMARY KEY, t longtext) CHARSET utf8mb4")
    hostile_rows.run(c, c.db, {
        "binary": lambda b: f"X'{b.hex()}'",
        "text": lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'")
        .replace("\r", "\\r").replace("\n", "\\n") + "'",
        "big": lambda n: f"REPEAT('a', {n})",
        "shown": lambda b: b,
    })


if __name__ == "__main__":
    sys.exit(tpmy.run("my_hostile_rows", body))
