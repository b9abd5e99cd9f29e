#!/usr/bin/env python3
"""Issue test 6: a value with CR/LF, comma, space and regex metacharacters
produces no extra header and an exactly-matching encoded tag, over xkey and
BAN: the raw requests are recorded by a stub node; real Varnish nodes purge
exactly the encoded tag."""
import json
import subprocess
import sys
import urllib.parse

import tp

VALUE = "a,b c\r\nX-Injected: 1|(.*)[x]{2}$^+?\\ é"


def expected_tag():
    return "name-" + urllib.parse.quote(VALUE.encode(), safe="-._~")


def ban_escape(tag):
    return "".join("\\" + ch if ch in "\\^$.|?*+()[]{}" else ch for ch in tag)


def body(c):
    port = tp.services.free_ports(1)[0]
    caplog = c.tmp / "capture.jsonl"
    cap = subprocess.Popen([sys.executable, str(tp.HERE.parent / "harness" / "capture.py"),
                            str(port), str(caplog)], stdout=subprocess.PIPE, text=True)
    try:
        tp.check(cap.stdout.readline().strip() == "ready", "capture stub did not start")
        stub = f"http://127.0.0.1:{port}"
        c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), stub]},
                  {"name": "legacy", "type": "ban", "nodes": [c.node_url(1), stub]}])
        c.start()
        tag = expected_tag()
        near = ["name-a%2Cb", "name-a", tag + "x", "x" + tag]
        before = c.warm_all([tag] + near)
        sql_value = VALUE.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        c.wait_confirmed(c.commit(f"INSERT INTO names VALUES (1, E'{sql_value}')"))
        for n in (0, 1):
            c.assert_purged(n, tag, before[n, tag])
            for t in near:
                c.assert_cached(n, t, before[n, t])
        raws = [json.loads(line)["raw"] for line in caplog.read_text().splitlines()]
        tp.check(len(raws) == 2, f"expected 2 recorded requests, got {len(raws)}")
        xkey = next(r for r in raws if r.startswith("PURGEKEYS "))
        ban = next(r for r in raws if r.startswith("BAN "))
        expect_names = {xkey: ["host", "user-agent", "xkey-purge"],
                        ban: ["host", "user-agent", "x-cache-tags", "x-host", "x-url",
                              "x-content-type"]}
        for raw, names in expect_names.items():
            head = raw.split("\r\n\r\n")[0].split("\r\n")[1:]
            got = [line.split(":", 1)[0].lower() for line in head]
            tp.check(got == names, f"unexpected header lines {got}, want {names}:\n{raw}")
            tp.check(all(0x20 <= ord(ch) < 0x7f for ch in raw.replace("\r\n", "")),
                     f"a raw control or non-ASCII byte reached the request:\n{raw!r}")
        lines = xkey.split("\r\n")
        tp.check(f"xkey-purge: {tag}" in lines, f"xkey header is not exactly the tag:\n{xkey}")
        lines = ban.split("\r\n")
        want = f"X-Cache-Tags: (^|,)({ban_escape(tag)})(,|$)"
        tp.check(want in lines, f"BAN header is not the escaped, anchored tag:\n{ban}\nwant {want}")
        print(f"tag: {tag}")
        c.stop()
    finally:
        cap.kill()
        cap.wait()


if __name__ == "__main__":
    sys.exit(tp.run("pg_hostile_values", body))
