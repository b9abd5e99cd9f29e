#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

    python3 tests/fuzz/make_seeds.py [FIXTURES_DIR]

Generated seeds are named gen-*; the script replaces only those, so regression
inputs (regress-*, the inputs that once crashed a target) and captured ones
(pg15-*, see capture_pg15() and --pg-port) stay.  Sources:

  binlog_events  the recorded binlog files of FIXTURES_DIR (default
                 ../shared/fixtures/mysql beside the repository) as raw events,
                 a large file cut after whole transactions, and the event-body
                 vectors of its .hex files (TABLE_MAP + rows pairs, GTIDs, XA,
                 a zstd TRANSACTION_PAYLOAD) wrapped by the target's body mode
  binlog_value   the DECIMAL, DATETIME2/TIME2 and binary JSON value vectors
  pgoutput       hand-built protocol-1 messages for each message type
  config         tests/config/*/*/config.json, the shipped example, and
                 hand-written configs (secrets, presets, dns://, mysql)
  tagmap         the repository's mappings with hostile row images

The input formats are described at the top of each tests/fuzz/fuzz_*.c.
Everything stays small (each generated seed <= 8 KiB, the whole corpus well under 1 MB).
"""
import glob
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
MAX_SEED = 8192


def u16(n):
    return struct.pack("<H", n)


class Corpus:
    """One target's folder: clears its gen-* files, then collects new ones."""

    def __init__(self, target):
        self.dir = CORPUS / target
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("gen-*"):
            old.unlink()
        self.count = 0

    def add(self, name, data):
        assert len(data) <= MAX_SEED, (name, len(data))
        (self.dir / f"gen-{name}").write_bytes(bytes(data))
        self.count += 1


# ---------------------------------------------------------------- binlog

OPT_FDE_MYSQL8, OPT_FDE_MARIADB, OPT_FDE_MYSQL57_CRC = 1, 2, 3
OPT_RAW, OPT_VERIFY, OPT_POSITIONAL, OPT_NAMES = 0x04, 0x08, 0x10, 0x20


def events_of(data):
    """Events of a binlog file (after the 4-byte magic)."""
    off, out = 4, []
    while off + 19 <= len(data):
        size = struct.unpack_from("<I", data, off + 9)[0]
        out.append(data[off:off + size])
        off += size
    return out


def starts_txn(ev):
    # GTID, ANONYMOUS_GTID, GTID_TAGGED, MariaDB GTID; ROWS_QUERY for files without GTIDs
    return ev[4] in (33, 34, 42, 162, 29)


def framed(opts, parts):
    return bytes([opts]) + b"".join(u16(len(p)) + p for p in parts)


def binlog_file_seeds(c, fixtures):
    for path in sorted(fixtures.glob("*.binlog")):
        evs = events_of(path.read_bytes())
        head = [e for e in evs[:2] if not starts_txn(e)]  # FDE (+ PREVIOUS_GTIDS)
        chunk, n = list(head), 0
        for ev in evs[len(head):]:
            if starts_txn(ev) and sum(map(len, chunk)) > 3000:
                c.add(f"{path.stem}-{n}", framed(OPT_RAW | OPT_VERIFY, chunk))
                chunk, n = list(head), n + 1
            chunk.append(ev)
        if len(chunk) > len(head) or n == 0:
            c.add(f"{path.stem}-{n}", framed(OPT_RAW | OPT_VERIFY, chunk))


def hex_lines(fixtures, stem):
    return [bytes.fromhex(x) for x in (fixtures / f"{stem}.hex").read_text().split()]


def cases(fixtures, stem):
    return json.loads((fixtures / f"{stem}.expected.json").read_text())["cases"]


def rows_type(text):
    for word, code in (("PARTIAL", 39), ("WRITE", 30), ("UPDATE", 31), ("DELETE", 32)):
        if word in text:
            return code
    raise ValueError(text)


XID = bytes([16]) + struct.pack("<Q", 7)
BEGIN = bytes([2]) + struct.pack("<IIBHH", 1, 0, 4, 0, 0) + b"test\0BEGIN"


def body(t, b):
    return bytes([t]) + b


def binlog_body_seeds(c, fixtures):
    # TABLE_MAP + rows pairs: a table map line, then its rows lines.
    for stem in ("gomysql_rows_enum_set", "gomysql_rows_extra_data_partition_ndb",
                 "gomysql_rows_json_decimal", "gomysql_rows_json_virtual_column_compat",
                 "gomysql_rows_json_zero_length", "gomysql_rows_trailing_null"):
        lines, tm = hex_lines(fixtures, stem), None
        for i, case in enumerate(cases(fixtures, stem)):
            if case["role"].startswith("TABLE_MAP"):
                tm = lines[i]
                continue
            parts = [BEGIN, body(19, tm), body(rows_type(case["role"]), lines[i]), XID]
            for opts in (OPT_FDE_MYSQL8, OPT_FDE_MYSQL57_CRC):
                c.add(f"{stem}-{i}-{opts}", framed(opts, parts))
    tms = hex_lines(fixtures, "mageos_tablemaps_percona")
    lines = hex_lines(fixtures, "mageos_rows_json_partial_update_percona80")
    for i, case in enumerate(cases(fixtures, "mageos_rows_json_partial_update_percona80")):
        parts = [body(19, tms[case["table_map_line"] - 1]),
                 body(rows_type(case["event_type"]), lines[i]), XID]
        c.add(f"mageos-rows-{i}", framed(OPT_FDE_MYSQL8, parts))
    # TABLE_MAP alone (optional metadata), then a QUERY that names the table.
    for stem in ("gomysql_tablemap_nullable", "gomysql_tablemap_optmeta_charsets_geometry_signedness",
                 "gomysql_tablemap_optmeta_column_names", "gomysql_tablemap_optmeta_primary_key",
                 "gomysql_tablemap_optmeta_visibility", "mageos_tablemaps_percona"):
        for i, tm in enumerate(hex_lines(fixtures, stem)):
            opts = OPT_FDE_MARIADB if i % 2 else OPT_FDE_MYSQL8
            c.add(f"{stem}-{i}", framed(opts | OPT_NAMES, [BEGIN, body(19, tm), XID]))
    for stem, t in (("gomysql_gtid_event_mysql8_fields", 33), ("mbcj_gtid_event_variants", 33),
                    ("mbcj_xa_prepare", 38), ("gomysql_previous_gtids_tagged", 35),
                    ("mbcj_previous_gtids_classic", 35), ("gomysql_heartbeat_v1_v2", 27)):
        parts = [body(t, b) for b in hex_lines(fixtures, stem)] + [BEGIN, XID]
        c.add(stem, framed(OPT_FDE_MYSQL8, parts))
    full = hex_lines(fixtures, "gomysql_full_events_with_header")
    c.add("gomysql_full_events_with_header", framed(OPT_RAW, full))
    frame = hex_lines(fixtures, "gomysql_transaction_payload_zstd_frame")[0]

    def tlv(t, v):
        return bytes([t, 1, v]) if v < 0xfb else bytes([t, 3, 0xfc]) + struct.pack("<H", v)

    payload = tlv(1, len(frame)) + tlv(2, 0) + tlv(3, 2442) + b"\0" + frame
    c.add("gomysql_transaction_payload_zstd", framed(OPT_FDE_MYSQL8, [body(40, payload)]))


def binlog_value_seeds(c, fixtures):
    for i, (case, v) in enumerate(zip(cases(fixtures, "gomysql_values_decimal"),
                                      hex_lines(fixtures, "gomysql_values_decimal"))):
        if i % 4 == 0:  # a quarter of the 199 vectors covers their shapes
            c.add(f"decimal-{i}", bytes([246, case["precision"], case["scale"], 0, 0xff]) + v)
    for i, (case, v) in enumerate(zip(cases(fixtures, "gomysql_values_datetime2_time2"),
                                      hex_lines(fixtures, "gomysql_values_datetime2_time2"))):
        t = 18 if case["column_type"].startswith("DATETIME2") else 19
        c.add(f"temporal-{i}", bytes([t, case["fsp"], 0, 0, 0xff]) + v)
    for stem in ("vitess_json_binary_values", "mbcj_json_binary_after_json_remove"):
        for i, v in enumerate(hex_lines(fixtures, stem)):
            if len(v) + 9 <= MAX_SEED:
                c.add(f"json-{stem[:5]}-{i}", bytes([245, 4, 0, 0, 0xff]) +
                      struct.pack("<I", len(v)) + v)
    # A few plain types: LONG, VARCHAR(255) utf8mb4, ENUM with names, BIT(3), YEAR.
    c.add("long", bytes([3, 0, 0, 1, 0xff]) + struct.pack("<i", -42))
    c.add("varchar", bytes([15, 255, 0, 2 << 1, 0xff]) + b"\x05h\xc3\xa9llo")
    c.add("enum", bytes([254, 0xf7, 1, 0, 5]) + b"\x03")
    c.add("bit", bytes([16, 3, 0, 0, 0xff]) + b"\x05")
    c.add("year", bytes([13, 0, 0, 0, 0xff]) + b"\x7c")


# ---------------------------------------------------------------- pgoutput

def cstr(s):
    return s.encode() + b"\0"


def pg_relation(relid, ns, name, cols, ident=b"d"):
    out = b"R" + struct.pack(">I", relid) + cstr(ns) + cstr(name) + ident
    out += struct.pack(">H", len(cols))
    for key, cname, oid in cols:
        out += bytes([key]) + cstr(cname) + struct.pack(">Ii", oid, -1)
    return out


def pg_tuple(vals):
    out = struct.pack(">H", len(vals))
    for v in vals:
        if v is None:
            out += b"n"
        elif v == "TOAST":
            out += b"u"
        elif isinstance(v, bytes):
            out += b"b" + struct.pack(">I", len(v)) + v
        else:
            b = v.encode() if isinstance(v, str) else v
            out += b"t" + struct.pack(">I", len(b)) + b
    return out


def pg_begin(xid):
    return b"B" + struct.pack(">QqI", 0x16B3748, 800000000000000, xid)


def pg_commit():
    return b"C" + b"\0" + struct.pack(">QQq", 0x16B3748, 0x16B3778, 800000000000001)


def pg_framed(msgs):
    return b"".join(u16(len(m)) + m for m in msgs)


def pgoutput_seeds(c):
    cols = [(1, "id", 23), (0, "name", 25), (0, "category_id", 23), (0, "updated_at", 1184)]
    rel = pg_relation(16384, "fuzz", "t", cols)
    rel_full = pg_relation(16384, "fuzz", "t", cols, b"f")
    row1 = ["1", "a,b c", "3", "2026-01-02 03:04:05+00"]
    row2 = ["1", "\r\nx\x00y\xff", "4", "2026-01-02 03:04:06+00"]
    ins = b"I" + struct.pack(">I", 16384) + b"N" + pg_tuple(row1)
    upd_key = b"U" + struct.pack(">I", 16384) + b"N" + pg_tuple(row2)
    upd_k = b"U" + struct.pack(">I", 16384) + b"K" + pg_tuple(["1", None, None, None]) + \
        b"N" + pg_tuple(["2", "TOAST", "4", None])
    upd_o = b"U" + struct.pack(">I", 16384) + b"O" + pg_tuple(row1) + b"N" + \
        pg_tuple(["1", "TOAST", "5", b"\x00\x01"])
    del_k = b"D" + struct.pack(">I", 16384) + b"K" + pg_tuple(["1", None, None, None])
    del_o = b"D" + struct.pack(">I", 16384) + b"O" + pg_tuple(row2)
    trunc = b"T" + struct.pack(">IB", 2, 1) + struct.pack(">II", 16384, 99)
    typ = b"Y" + struct.pack(">I", 16500) + cstr("public") + cstr("mood")
    origin = b"O" + struct.pack(">Q", 0x16B3748) + cstr("origin1")
    message = b"M" + b"\1" + struct.pack(">Q", 0x16B3748) + cstr("prefix") + \
        struct.pack(">I", 5) + b"hello"
    c.add("insert", pg_framed([pg_begin(700), rel, ins, pg_commit()]))
    c.add("update-key", pg_framed([pg_begin(701), rel, upd_key, upd_k, pg_commit()]))
    c.add("update-full", pg_framed([pg_begin(702), rel_full, upd_o, del_o, pg_commit()]))
    c.add("delete-key", pg_framed([rel, pg_begin(703), del_k, pg_commit()]))
    c.add("truncate", pg_framed([pg_begin(704), rel, trunc, pg_commit()]))
    c.add("other", pg_framed([typ, origin, pg_begin(705), message, rel, ins, pg_commit()]))
    many = [(0, f"c{i}", 25) for i in range(300)]
    wide = pg_relation(7, "fuzz", "wide", many)
    wide_ins = b"I" + struct.pack(">I", 7) + b"N" + pg_tuple([str(i) for i in range(300)])
    c.add("wide", pg_framed([pg_begin(706), wide, wide_ins, pg_commit()]))
    c.add("no-relation", pg_framed([pg_begin(707), ins, pg_commit(), pg_commit()]))


# ---------------------------------------------------------------- config / tagmap

def config_seed(cfg_text, map_text=None):
    data = bytes([1 if map_text is not None else 0]) + u16(len(cfg_text)) + cfg_text
    return data + (map_text or b"")


def config_seeds(c):
    files = sorted(glob.glob(str(REPO / "tests/config/*/*/config.json")))
    files.append(str(REPO / "deploy/tagpurge.example.json"))
    files.append(str(REPO / "deploy/docker/config/tagpurge.json"))
    for f in files:
        text = Path(f).read_bytes()
        name = f"{Path(f).parent.parent.name}-{Path(f).parent.name}"
        if len(text) > MAX_SEED - 512:
            continue  # secret_prefix_too_long: its regress-* input covers it
        try:
            mapping = json.loads(text).get("mapping")
        except (ValueError, AttributeError):
            mapping = None
        map_text = None
        if isinstance(mapping, str) and (Path(f).parent / mapping).exists():
            map_text = (Path(f).parent / mapping).read_bytes()
            text = text.replace(json.dumps(mapping).encode(), b'"map.json"')
        c.add(name, config_seed(text, map_text))
    hand = {
        "secrets": {
            "mapping": "map.json", "sources": [], "sinks": [
                {"name": "cf", "type": "http", "nodes": ["https://api.example/purge"],
                 "headers": {"Authorization": {"env": "TAGPURGE_FUZZ_TOKEN", "prefix": "Bearer "},
                             "X-Key": {"file": "secret.txt"}, "Content-Type": "application/json"},
                 "body": "{\"tags\":{tags_json}}", "max_tags_per_request": 100,
                 "flush": {"body": "{\"purge_everything\":true}"}}]},
        "mysql": {
            "mapping": {"shop.products": {"tags": ["product-{id}"], "fallback_tags": ["p"]}},
            "max_tag_bytes": 64, "log_format": "json", "listen": "",
            "sources": [{"name": "my", "type": "mysql", "host": "127.0.0.1", "port": 3306,
                         "user": "tp", "password_file": "secret.txt", "server_id": 77,
                         "start": {"file": "binlog.000042", "pos": 4}, "gap_tags": ["site"],
                         "ssl_mode": "preferred", "heartbeat_ms": 500}],
            "sinks": [{"name": "x", "type": "xkey", "nodes": ["dns://varnish.internal:6081/p"],
                       "soft": True, "headers": {"X-Token": {"file": "secret.txt"}}}]},
        "presets": {
            "mapping": {"public.t": {"tags": ["t-{id}", "t"]}}, "sources": [],
            "max_tag_bytes": 100,
            "sinks": [
                {"name": "symfony", "type": "http", "method": "PURGETAGS",
                 "nodes": ["http://127.0.0.1:8000/"], "headers": {"X-Cache-Tags": "{tags_comma}"},
                 "max_header_bytes": 7500},
                {"name": "plain", "type": "http", "method": "PURGE",
                 "nodes": ["http://127.0.0.1:6081/{tags_space}"], "max_tags_per_request": 1,
                 "after": "symfony", "rate_per_s": 0.5, "rate_burst": 2},
                {"name": "ban", "type": "ban", "nodes": ["http://[::1]:6091"],
                 "max_header_bytes": 4096, "ca_file": "ca.pem", "client_cert": "c.pem",
                 "client_key": "k.pem", "tls_verify": False}]},
    }
    maps = {"secrets": b'{"public.products": {"tags": ["product-{id}", "list"]}}'}
    for name, cfg in hand.items():
        c.add(f"hand-{name}", config_seed(json.dumps(cfg, indent=1).encode(), maps.get(name)))


def tagmap_value(state, data=b"", huge=False):
    if state != 2:
        return bytes([state])
    return bytes([2 | (0x80 if huge else 0)]) + u16(len(data)) + data


def tagmap_seed(opts, mapping, cols):
    out = bytes([opts]) + u16(len(mapping)) + mapping + bytes([len(cols)])
    for name, old, new in cols:
        out += bytes([len(name)]) + name + old + new
    return out


def tagmap_seeds(c):
    mappings = [REPO / "deploy/mapping.example.json",
                REPO / "tests/config/valid/issue_example/mapping.json",
                REPO / "deploy/docker/config/mapping.json"]
    rows = [
        [(b"id", tagmap_value(2, b"42"), tagmap_value(2, b"42")),
         (b"category_id", tagmap_value(2, b"3"), tagmap_value(2, b"4")),
         (b"name", tagmap_value(2, b"a,b c"), tagmap_value(2, "\u00e9t\u00e9".encode()))],
        [(b"id", tagmap_value(2, b"\r\n\x00 ,"), tagmap_value(1)),
         (b"category_id", tagmap_value(0), tagmap_value(2, b"\xff\xfe", huge=True)),
         (b"view_count", tagmap_value(2, b"1"), tagmap_value(2, b"2"))],
        [(b"id", tagmap_value(2, b""), tagmap_value(2, b"")),
         (b"category_id", tagmap_value(2, b"7"), tagmap_value(2, b"7")),
         (b"updated_at", tagmap_value(2, b"x"), tagmap_value(2, b"y"))],
    ]
    for i, m in enumerate(mappings):
        for j, row in enumerate(rows):
            for op in range(4):
                opts = (op << 2) | (j % 4)
                c.add(f"{m.parent.name}-{m.stem}-{j}-{op}", tagmap_seed(opts, m.read_bytes(), row))
    multi = json.dumps({
        "db.t": {"tags": ["{a}{b}", "x-{a}-{a}", "lit~._-", "{b}"], "ignore_columns": ["c"]},
        "s.u": {"tags": ["u-{c}"], "fallback_tags": ["u", "all"]},
    }).encode()
    cols = [(b"a", tagmap_value(2, b"%41"), tagmap_value(2, b"~")),
            (b"b", tagmap_value(2, b"x" * 40), tagmap_value(1)),
            (b"c", tagmap_value(2, b"1"), tagmap_value(2, b"2"))]
    for opts in (0x04, 0x14, 0x24, 0x05, 0x08, 0x0c):
        c.add(f"multi-{opts:02x}", tagmap_seed(opts, multi, cols))
    c.add("bad-template", tagmap_seed(0, b'{"a.b": {"tags": ["x {id}"]}}', []))
    c.add("bad-fallback", tagmap_seed(0, b'{"a.b": {"tags": ["x"], "fallback_tags": ["%"]}}', []))


# ---------------------------------------------------------------- PostgreSQL 15 capture

def capture_pg15(port, c):
    """Real pgoutput messages: a throwaway server's slot, peeked through SQL, one
    seed per transaction group.  Needs a server with wal_level=logical on port."""
    sql = """
DROP TABLE IF EXISTS fuzz_t; DROP PUBLICATION IF EXISTS fuzz_pub;
SELECT pg_drop_replication_slot('fuzz_slot') FROM pg_replication_slots WHERE slot_name='fuzz_slot';
CREATE TABLE fuzz_t (id int PRIMARY KEY, name text, category_id int, doc text, b bytea);
CREATE PUBLICATION fuzz_pub FOR TABLE fuzz_t;
SELECT 'ok' FROM pg_create_logical_replication_slot('fuzz_slot', 'pgoutput');
INSERT INTO fuzz_t VALUES (1, 'a,b c', 3,
  (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i), '\\x00ff');
UPDATE fuzz_t SET category_id = 4 WHERE id = 1;
ALTER TABLE fuzz_t REPLICA IDENTITY FULL;
UPDATE fuzz_t SET name = E'\\r\\nx y' WHERE id = 1;
BEGIN; INSERT INTO fuzz_t VALUES (2, NULL, NULL, 'é', NULL); DELETE FROM fuzz_t WHERE id = 1; COMMIT;
SELECT pg_logical_emit_message(true, 'fuzz', 'hello');
TRUNCATE fuzz_t;
"""
    base = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-qAt"]
    # One statement per transaction (psql -c would run them all in one).
    subprocess.run(base + ["-f", "-"], input=sql, check=True, capture_output=True, text=True)
    peek = ("SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('fuzz_slot', NULL,"
            " NULL, 'proto_version', '1', 'publication_names', 'fuzz_pub', 'messages', 'true')")
    out = subprocess.run(base + ["-c", peek], check=True, capture_output=True, text=True).stdout
    msgs = [bytes.fromhex(x) for x in out.split()]
    subprocess.run(base + ["-c", "SELECT pg_drop_replication_slot('fuzz_slot')"], check=True,
                   capture_output=True)
    group, n = [], 0
    for m in msgs:
        group.append(m)
        if m[:1] == b"C":
            (c.dir / f"pg15-{n}").write_bytes(pg_framed(group))
            group, n = [], n + 1
    print(f"pgoutput: {n} transactions captured from PostgreSQL on port {port}")


def main():
    args = sys.argv[1:]
    pg_port = None
    if "--pg-port" in args:
        i = args.index("--pg-port")
        pg_port = int(args[i + 1])
        del args[i:i + 2]
    fixtures = Path(args[0]) if args else REPO.parent / "shared" / "fixtures" / "mysql"
    if not fixtures.is_dir():
        sys.exit(f"no fixtures at {fixtures}")
    b = Corpus("binlog_events")
    binlog_file_seeds(b, fixtures)
    binlog_body_seeds(b, fixtures)
    v = Corpus("binlog_value")
    binlog_value_seeds(v, fixtures)
    p = Corpus("pgoutput")
    pgoutput_seeds(p)
    if pg_port is not None:
        capture_pg15(pg_port, p)
    cf = Corpus("config")
    config_seeds(cf)
    t = Corpus("tagmap")
    tagmap_seeds(t)
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    for c in (b, v, p, cf, t):
        print(f"{c.dir.name}: {c.count} generated seeds")
    print(f"corpus: {total} bytes")


if __name__ == "__main__":
    main()
