"""Issue 6, hostile input through a real database (test_pg_hostile_rows,
test_my_hostile_rows): row values with NUL, invalid UTF-8, CR/LF, commas,
spaces, regex metacharacters and 1 MB sizes.  Each transaction must become
exactly one request per sink whose tag is the percent-encoded value (xkey)
or its escaped, anchored regex (BAN), or, for a value whose tag would pass
max_tag_bytes, the table's fallback tag, counted.  Recording stubs see the
raw requests: only printable ASCII, exactly the expected header lines.
"""
import urllib.parse

import tp

XKEY_HEADERS = ["host", "user-agent", "xkey-purge"]
BAN_HEADERS = ["host", "user-agent", "x-cache-tags", "x-host", "x-url", "x-content-type"]
MB = 1 << 20


def mapping(schema):
    return {f"{schema}.blobs": {"tags": ["blob-{b}"], "fallback_tags": ["blobs"]},
            f"{schema}.texts": {"tags": ["text-{t}"], "fallback_tags": ["texts"]}}


def encoded(prefix, value: bytes):
    return prefix + urllib.parse.quote_from_bytes(value, safe="-._~")


def ban_regex(tag):
    return "(^|,)(" + "".join("\\" + ch if ch in "\\^$.|?*+()[]{}" else ch for ch in tag) + \
        ")(,|$)"


def head_lines(raw):
    return raw.split("\r\n\r\n")[0].split("\r\n")


def check_request(raw, names, header, want):
    lines = head_lines(raw)
    got = [ln.split(":", 1)[0].lower() for ln in lines[1:]]
    tp.check(got == names, f"header lines {got}, want {names}:\n{raw[:500]!r}")
    tp.check(all(0x20 <= ord(ch) < 0x7f for ch in raw.replace("\r\n", "")),
             f"a control or non-ASCII byte reached the request:\n{raw[:500]!r}")
    value = next(ln.split(": ", 1)[1] for ln in lines[1:] if ln.lower().startswith(header))
    tp.check(value == want, f"{header}: {value[:200]!r}, want {want[:200]!r}")


def sinks(xkey, ban):
    return [{"name": "edge", "type": "xkey", "nodes": [xkey.url]},
            {"name": "legacy", "type": "ban", "nodes": [ban.url]}]


def expect(c, xkey, ban, sql, tag):
    """Commit sql; each stub must get exactly one request for exactly tag."""
    nx, nb = len(xkey.requests()), len(ban.requests())
    c.wait_confirmed(c.commit(sql))
    rx = [r[3]["raw"] for r in xkey.requests()[nx:]]
    rb = [r[3]["raw"] for r in ban.requests()[nb:]]
    tp.check(len(rx) == 1 and len(rb) == 1,
             f"{sql[:80]}: expected one request per sink, got {len(rx)} xkey, {len(rb)} ban")
    check_request(rx[0], XKEY_HEADERS, "xkey-purge", tag)
    check_request(rb[0], BAN_HEADERS, "x-cache-tags", ban_regex(tag))
    return tag


def run(c, schema, dialect):
    """dialect: binary(bytes) -> SQL literal, text(str) -> SQL literal,
    big(n) -> an n-byte text expression, shown(bytes) -> the bytes the change
    stream carries for a binary value (PostgreSQL: bytea's hex text)."""
    xkey, ban = c.stub("xkey"), c.stub("ban")
    c.config(sinks(xkey, ban), mapping=mapping(schema))
    c.start()
    raw = b"\x00\xff\r\nA\xfe, |(.*)[x]{2}$^+?\\\x00"
    injection = "x\r\nX-Injected: 1\r\n\r\nPURGEKEYS / HTTP/1.1\r\nxkey-purge: everything"
    tags = [
        expect(c, xkey, ban, f"INSERT INTO blobs VALUES (1, {dialect['binary'](raw)})",
               encoded("blob-", dialect["shown"](raw))),
        expect(c, xkey, ban, f"INSERT INTO texts VALUES (1, {dialect['text'](injection)})",
               encoded("text-", injection.encode())),
        # 1 MB values: the tag would pass max_tag_bytes, so the fallback tag, counted.
        expect(c, xkey, ban, f"INSERT INTO texts VALUES (2, {dialect['big'](MB)})", "texts"),
        expect(c, xkey, ban, "INSERT INTO blobs VALUES (2, "
               f"{dialect['binary'](bytes(range(256)) * (MB // 256))})", "blobs"),
    ]
    st = c.stats()
    c.stop()
    tp.check(st["fallback_purges"] == 2, f"fallback_purges {st['fallback_purges']}, want 2")
    print("tags: " + " ".join(t if len(t) < 80 else t[:77] + "..." for t in tags))
