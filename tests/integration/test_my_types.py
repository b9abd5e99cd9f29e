#!/usr/bin/env python3
"""Issue 3 test 1: a table with one column of every type; INSERT, UPDATE and
DELETE; the value text tagpurge decodes from the binlog equals what SELECT
returns for every column (the server's own text, fetched with TO_BASE64),
old and new rows alike; and tags built from DECIMAL, DATETIME2 and utf8mb4
VARCHAR purge exactly on a real Varnish through the live connector."""
import base64
import glob
import subprocess
import sys
import urllib.parse

import tp
import tpmy

COLUMNS = [
    ("ti", "tinyint"), ("tiu", "tinyint unsigned"), ("si", "smallint"),
    ("siu", "smallint unsigned"), ("mi", "mediumint"), ("miu", "mediumint unsigned"),
    ("i", "int"), ("iu", "int unsigned"), ("bi", "bigint"), ("biu", "bigint unsigned"),
    ("d1", "decimal(10,2)"), ("d2", "decimal(30,10)"), ("du", "decimal(5,0) unsigned"),
    ("f", "float"), ("db", "double"), ("b3", "bit(3)"), ("b10", "bit(10)"), ("y", "year"),
    ("dt", "date"), ("tm", "time"), ("tm3", "time(3)"), ("dtt", "datetime"),
    ("dt6", "datetime(6)"), ("ts", "timestamp NULL"), ("ts3", "timestamp(3) NULL"),
    ("c10", "char(10)"), ("c100", "char(100) charset utf8mb4"), ("vc", "varchar(50)"),
    ("vc300", "varchar(300) charset utf8mb4"), ("vl", "varchar(30) charset latin1"),
    ("bn", "binary(8)"), ("vb", "varbinary(20)"), ("tt", "tinytext"), ("tx", "text"),
    ("mt", "mediumtext"), ("lt", "longtext"), ("tb", "tinyblob"), ("bl", "blob"),
    ("mb", "mediumblob"), ("lb", "longblob"), ("e", "enum('a','b','c')"),
    ("s", "set('x','y','z')"), ("j", "json"), ("g", "point"),
]
# Not here: MariaDB's UUID/INET4/INET6 are data-type plugins that the binlog
# records as plain BINARY; their SELECT text needs information_schema (README).
NAMES = [c for c, _ in COLUMNS]

ROWS = [
    "1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    "-9223372036854775808, 18446744073709551615, -12345678.90, "
    "-12345678901234567890.0123456789, 99999, 3.14159, 1e20, b'101', b'1111111111', 2024, "
    "'2026-01-02', '-838:59:59', '12:34:56.789', '2026-01-02 03:04:05', "
    "'2026-01-02 03:04:05.120000', '2038-01-19 03:14:07', '2026-01-02 03:04:05.123', "
    "'ab', REPEAT('é', 100), 'plain', CONCAT(REPEAT('€', 20), '😀'), 'café', "
    "0x0001, 0x00ff00, 't', REPEAT('x', 300), 'm', 'l', 0x01, 0x0203, 0x04, 0x05, "
    "'b', 'x,z', '{\"a\": [1, 2.5, \"x\"], \"b\": null}', POINT(1, 2)",
    "2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 0.5, 0, 0, "
    "1e-7, 0.1, b'0', b'0', 0, '0000-00-00', '00:00:00', '-00:00:01.5', "
    "'0000-00-00 00:00:00', '9999-12-31 23:59:59.999999', NULL, '1970-01-01 00:00:01.000', "
    "'', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', '[]', NULL",
    "3" + ", NULL" * len(COLUMNS),
]


def select_expr(name):
    """What a UTF-8 client's SELECT shows: character columns in utf8mb4."""
    return f"CONVERT(`{name}` USING utf8mb4)" if name == "vl" else f"`{name}`"


def expected_tags(c, row_id):
    """The tags SELECT's text implies for one row, from the server's bytes."""
    out = c.sql("SET time_zone = '+00:00'; SELECT " +
                   ", ".join(f"TO_BASE64({select_expr(n)})" for n in NAMES) +
                   f" FROM alltypes WHERE id = {row_id}")
    tags = set()
    for name, v in zip(NAMES, out.split("\t")):
        if v != "NULL":
            # TO_BASE64 wraps at 76 columns; batch mode prints those newlines as "\n".
            raw = base64.b64decode(v.replace("\\n", ""))
            tags.add(f"{name}-" + urllib.parse.quote(raw, safe="-._~"))
    return tags


def replay_lines(c):
    files = sorted(glob.glob(f"{c.my.datadir}/binlog.[0-9]*"))
    out = subprocess.run([c.bin, "replay", "--all", "-c", str(c.cfg_path), "--binlog"] + files,
                         capture_output=True, text=True, timeout=120)
    tp.check(out.returncode == 0, f"replay failed: {out.stderr}")
    return [set(l.split()[2:]) for l in out.stdout.splitlines()]


def compare(got, want, what):
    if got != want:
        missing = sorted(want - got)
        extra = sorted(got - want)
        raise tp.Fail(f"{what}: decoded tags differ from SELECT\n  missing: {missing}\n"
                      f"  extra:   {extra}")


def body(c):
    cols = ", ".join(f"`{n}` {t}" for n, t in COLUMNS)
    c.sql(f"SET SESSION sql_mode = ''; "
          f"CREATE TABLE alltypes(id int PRIMARY KEY, {cols}) CHARSET utf8mb4")
    table = f"{c.db}.alltypes"
    mapping = tpmy.mapping(c.db)
    mapping[table] = {"tags": [f"{n}-{{{n}}}" for n in NAMES], "fallback_tags": ["alltypes"]}
    c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}], mapping=mapping)
    c.start()
    # Live: DECIMAL, DATETIME2 and utf8mb4 VARCHAR tags purge exactly.
    live = ["d1--12345678.90", "dt6-2026-01-02%2003%3A04%3A05.120000",
            "vc300-" + urllib.parse.quote(("€" * 20 + "😀").encode(), safe="-._~")]
    near = ["d1--12345678.9", "dt6-2026-01-02%2003%3A04%3A05.12", "vc300-%E2%82%AC"]
    before = c.warm_all(live + near, nodes=[0])
    c.sql("SET SESSION sql_mode = ''; SET time_zone = '+00:00'; " +
          "".join(f"INSERT INTO alltypes VALUES ({r}); " for r in ROWS))
    c.wait_confirmed(c.position())
    for t in live:
        c.assert_purged(0, t, before[0, t])
    for t in near:
        c.assert_cached(0, t, before[0, t])
    inserted = set().union(*(expected_tags(c, i) for i in (1, 2, 3)))
    old1, old2 = expected_tags(c, 1), expected_tags(c, 2)
    c.sql("SET time_zone = '+00:00'; UPDATE alltypes SET ti = ti + 1, dt6 = '2027-03-04 05:06:07.000008', "
          "vc300 = 'ñ', d1 = d1 - 1, e = 'c', s = 'y', j = '{\"k\": true}' WHERE id = 1")
    updated = old1 | expected_tags(c, 1)
    c.sql("DELETE FROM alltypes WHERE id = 2")
    c.wait_confirmed(c.position())
    c.stop()
    lines = replay_lines(c)
    tp.check(len(lines) >= 5, f"replay printed {len(lines)} transactions")
    compare(lines[-5] | lines[-4] | lines[-3], inserted, "INSERT of 3 rows (autocommitted)")
    compare(lines[-2], updated, "UPDATE (old and new row)")
    compare(lines[-1], old2, "DELETE (old row)")
    print(f"{len(inserted)} insert tags, {len(updated)} update tags, {len(old2)} delete tags "
          f"equal SELECT's text across {len(COLUMNS)} column types")


if __name__ == "__main__":
    sys.exit(tpmy.run("my_types", body))
