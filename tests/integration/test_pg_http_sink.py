#!/usr/bin/env python3
"""Issue 4 test 7: "type": "http" sinks modelled on the README presets (Fastly,
Cloudflare, Symfony PURGETAGS, plain per-tag PURGE, tags in the URL), each
against its own recording stub, purge one transaction of 37 tags.

Per stub: every request is the preset's method, path, header lines and body
filled with its own tags, byte for byte; every request is within each limit
(count, "Name: value" line, body, URL); each request is full (the next
request's first tag would break a limit), so chunks end only where a limit
says so; the requests' tags are exactly the transaction's tags, each once;
JSON bodies parse with the right shape; token headers carry the exact
secret.  The secrets appear nowhere in tagpurge's -v log, including the
logged 401 and 503 failures, nor in `tagpurge check` output."""
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse

import tp

MAX_URL = 8000               # sinks/sink_http.c HTTP_MAX_URL_BYTES
DEFAULT_HEADER = 7500
DEFAULT_BODY = 1048576
COUNT, HEADER, BODY, URL = "max_tags_per_request", "max_header_bytes", "max_body_bytes", "url"

N_PRODUCTS = 15
# Long values of mostly non-unreserved bytes: tags of 940 bytes, a third of them
# "%", which the URL template encodes again (%25).  Six of them pass 8000 URL bytes.
# With these tags, one Symfony header line is exactly 1100 bytes and one body of
# "urlbody" exactly 2121: the limits are inclusive.
NAMES = [f"{i}:" + "é," * 103 + " x" for i in range(1, 7)]
SYMFONY_HEADER, URLBODY_BODY = 1100, 2121


def quote(s):
    return urllib.parse.quote(s, safe="-._~")


def expected_tags():
    tags = {"product-list"}
    for i in range(1, N_PRODUCTS + 1):
        tags |= {f"product-{i}", f"category-{100 + i}"}
    return tags | {"name-" + quote(v) for v in NAMES}


def tags_json(tags):
    return "[" + ",".join(f'"{t}"' for t in tags) + "]"


class Preset:
    """One sink: its config, how a chunk of tags renders, how to read them back."""

    def __init__(self, name, stub, path, sink, headers, render, read, limits):
        self.name, self.stub, self.path = name, stub, path
        self.sink = dict(sink, name=name, type="http", nodes=[stub.url + path])
        self.headers = headers   # "Name: value" lines every request carries (secrets resolved)
        self.render = render     # tags -> (request target, templated header lines, body or None)
        self.read = read         # (target, {header: value}, body) -> tags
        self.limits = limits


def presets(c, tok):
    stubs = {n: c.stub(n, *args) for n, args in [
        ("fastly", ["--fail", 1, "--status", 401]), ("cloudflare", ["--fail", 1, "--status", 503]),
        ("symfony", []), ("plain", []), ("urlbody", []), ("url", [])]}

    def path_tags(prefix):
        def read(target, hdrs, body):
            tp.check(target.startswith(prefix), f"target {target[:80]} not under {prefix}")
            return urllib.parse.unquote(target[len(prefix):]).split(",")
        return read

    def json_tags(key):
        def read(target, hdrs, body):
            doc = json.loads(body)
            tp.check(isinstance(doc, dict) and list(doc) == [key] and isinstance(doc[key], list)
                     and all(isinstance(t, str) for t in doc[key]),
                     f"body is not {{\"{key}\": [strings]}}: {body[:200]}")
            return doc[key]
        return read

    def urlbody_read(target, hdrs, body):
        in_url = path_tags("/purge/")(target, hdrs, body)
        in_body = json_tags("tags")(target, hdrs, body)
        tp.check(in_url == in_body, f"URL tags {in_url} != body tags {in_body}")
        return in_url

    p = [
        # README preset "Fastly": soft purge by surrogate key; 7 instead of 256 per request.
        Preset("fastly", stubs["fastly"], "/service/SVC/purge",
               {"method": "POST",
                "headers": {"Fastly-Key": {"env": "TP_TEST_FASTLY_KEY"}, "Fastly-Soft-Purge": "1",
                            "Content-Type": "application/json", "Accept": "application/json"},
                "body": '{"surrogate_keys":{tags_json}}', "max_tags_per_request": 7,
                "rate_per_s": 10, "rate_burst": 50, "flush": {"url": "/service/SVC/purge_all"}},
               [f"Fastly-Key: {tok['fastly']}", "Fastly-Soft-Purge: 1",
                "Content-Type: application/json", "Accept: application/json"],
               lambda t: ("/service/SVC/purge", [], '{"surrogate_keys":' + tags_json(t) + "}"),
               json_tags("surrogate_keys"), {COUNT: 7}),
        # README preset "Cloudflare": Bearer token, tags in a JSON body; 5 instead of 100.
        Preset("cloudflare", stubs["cloudflare"], "/client/v4/zones/ZONE/purge_cache",
               {"headers": {"Authorization": {"env": "TP_TEST_CF_TOKEN", "prefix": "Bearer "},
                            "Content-Type": "application/json"},
                "body": '{"tags":{tags_json}}', "max_tags_per_request": 5,
                "rate_per_s": 5, "rate_burst": 25, "flush": {"body": '{"purge_everything":true}'}},
               [f"Authorization: Bearer {tok['cloudflare']}", "Content-Type: application/json"],
               lambda t: ("/client/v4/zones/ZONE/purge_cache", [], '{"tags":' + tags_json(t) + "}"),
               json_tags("tags"), {COUNT: 5}),
        # README preset "Symfony HttpCache": PURGETAGS, comma-separated; a token from a file.
        # 1100 instead of 7500: an http sink accepts no less than a 1024-byte tag's line.
        Preset("symfony", stubs["symfony"], "/",
               {"method": "PURGETAGS",
                "headers": {"X-Cache-Tags": "{tags_comma}",
                            "X-Purge-Token": {"file": str(c.tmp / "token")}},
                "max_header_bytes": SYMFONY_HEADER},
               [f"X-Purge-Token: {tok['file']}"],
               lambda t: ("/", ["X-Cache-Tags: " + ",".join(t)], None),
               lambda target, h, b: h["x-cache-tags"].split(","), {HEADER: SYMFONY_HEADER}),
        # README preset "plain per-tag PURGE".
        Preset("plain", stubs["plain"], "/",
               {"method": "PURGE", "headers": {"xkey-purge": "{tags_space}"},
                "max_tags_per_request": 1},
               [], lambda t: ("/", ["xkey-purge: " + " ".join(t)], None),
               lambda target, h, b: h["xkey-purge"].split(" "), {COUNT: 1}),
        # Tags in the URL and in a small body (method defaults to POST).
        Preset("urlbody", stubs["urlbody"], "/purge/{tags_comma}",
               {"headers": {"Content-Type": "application/json"},
                "body": '{"tags":{tags_json}}', "max_body_bytes": URLBODY_BODY},
               ["Content-Type: application/json"],
               lambda t: ("/purge/" + quote(",".join(t)), [], '{"tags":' + tags_json(t) + "}"),
               urlbody_read, {BODY: URLBODY_BODY}),
        # Tags in the URL only: the 8000-byte URL limit splits.
        Preset("url", stubs["url"], "/purge?tags={tags_comma}",
               {"method": "PURGE"}, [],
               lambda t: ("/purge?tags=" + quote(",".join(t)), [], None),
               path_tags("/purge?tags="), {}),
    ]
    return p


def parse(raw):
    """(request line, [header lines], body) of one recorded request, exactly as sent."""
    head, _, body = raw.partition("\r\n\r\n")
    lines = head.split("\r\n")
    return lines[0], lines[1:], body


def broken_limits(p, stub_url, tags):
    """The limits the request carrying tags would break."""
    target, lines, body = p.render(tags)
    out = set()
    if len(tags) > p.limits.get(COUNT, len(tags)):
        out.add(COUNT)
    if any(len(ln) > p.limits.get(HEADER, DEFAULT_HEADER) for ln in lines + p.headers):
        out.add(HEADER)
    if body is not None and len(body.encode()) > p.limits.get(BODY, DEFAULT_BODY):
        out.add(BODY)
    if len(stub_url + target) > MAX_URL:
        out.add(URL)
    return out


def check_preset(p, want, tok):
    """Assert everything about one stub's requests; return (requests' tags, split reasons,
    {HEADER: longest templated header line, BODY: longest body})."""
    recs = p.stub.requests()
    tp.check(recs, f"{p.name}: no requests")
    ok, seen, reasons, peak = [], [], [], {HEADER: 0, BODY: 0}
    method = p.sink.get("method", "POST")
    for i, (_, _, _, rec) in enumerate(recs):
        reqline, lines, body = parse(rec["raw"])
        if rec["status"] != 200:
            # The failed request is sent again, unchanged, before anything else.
            tp.check(i + 1 < len(recs) and recs[i + 1][3]["raw"] == rec["raw"],
                     f"{p.name}: request {i} failed ({rec['status']}) and was not retried as is")
            continue
        verb, target, proto = reqline.split(" ")
        tp.check(verb == method and proto == "HTTP/1.1", f"{p.name}: request line {reqline[:100]}")
        hdrs = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines}
        tags = p.read(target, hdrs, body)
        # Byte for byte the preset filled with these tags: no tag split, mangled or re-encoded.
        w_target, w_lines, w_body = p.render(tags)
        tp.check(target == w_target, f"{p.name}: target {target[:200]}\nwant {w_target[:200]}")
        for ln in w_lines + p.headers:
            tp.check(lines.count(ln) == 1, f"{p.name}: header line {ln[:100]!r} not sent once: "
                     f"{[x[:60] for x in lines]}")
        w_body = w_body or ""
        tp.check(body == w_body, f"{p.name}: body {body[:200]}\nwant {w_body[:200]}")
        if w_body:
            tp.check(f"Content-Length: {len(w_body.encode())}" in lines,
                     f"{p.name}: no exact Content-Length")
        # Every limit, on the request as it arrived.
        tp.check(len(tags) <= p.limits.get(COUNT, len(tags)),
                 f"{p.name}: {len(tags)} tags in one request, over {p.limits.get(COUNT)}")
        for ln in lines:
            tp.check(len(ln.encode("latin-1")) <= p.limits.get(HEADER, DEFAULT_HEADER),
                     f"{p.name}: header line of {len(ln)} bytes: {ln[:80]}")
        tp.check(len(body.encode("latin-1")) <= p.limits.get(BODY, DEFAULT_BODY),
                 f"{p.name}: body of {len(body)} bytes")
        tp.check(len(p.stub.url + target) <= MAX_URL, f"{p.name}: URL of {len(target)} bytes")
        if p.name in ("fastly", "cloudflare", "symfony"):
            name = {"fastly": "fastly-key", "cloudflare": "authorization",
                    "symfony": "x-purge-token"}[p.name]
            secret = {"fastly": tok["fastly"], "cloudflare": "Bearer " + tok["cloudflare"],
                      "symfony": tok["file"]}[p.name]
            tp.check(hdrs.get(name) == secret, f"{p.name}: {name} is not the exact secret")
        peak[HEADER] = max([peak[HEADER]] + [len(ln) for ln in w_lines])
        peak[BODY] = max(peak[BODY], len(body.encode("latin-1")))
        ok.append(tags)
        seen += tags
    tp.check(len(seen) == len(set(seen)), f"{p.name}: a tag went twice: "
             f"{sorted(t for t in set(seen) if seen.count(t) > 1)}")
    tp.check(set(seen) == want, f"{p.name}: tags differ: missing {sorted(want - set(seen))}, "
             f"extra {sorted(set(seen) - want)}")
    # Greedy: a request ends only because its successor's first tag would break a limit.
    for a, b in zip(ok, ok[1:]):
        why = broken_limits(p, p.stub.url, a + [b[0]])
        tp.check(why, f"{p.name}: a request of {len(a)} tags could also have carried {b[0]}")
        reasons += sorted(why)
    return ok, reasons, peak


def run_check(c, env):
    res = subprocess.run([c.bin, "check", "-c", str(c.cfg_path)], capture_output=True,
                         text=True, env=env, timeout=30)
    return res.returncode, res.stdout + res.stderr


def body(c):
    t0 = time.monotonic()
    tok = {"fastly": "fk-" + secrets.token_hex(16), "cloudflare": "cf-" + secrets.token_hex(16),
           "file": "ft-" + secrets.token_hex(16)}
    (c.tmp / "token").write_text(tok["file"] + "\n")
    os.environ["TP_TEST_FASTLY_KEY"] = tok["fastly"]
    os.environ["TP_TEST_CF_TOKEN"] = tok["cloudflare"]
    ps = presets(c, tok)
    c.config([p.sink for p in ps],
             delivery={"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 200,
                       "timeout_ms": 2000})
    tp.check(not any(t in c.cfg_path.read_text() for t in tok.values()), "a secret in the config")

    rc, out = run_check(c, dict(os.environ))
    tp.check(rc == 0, f"tagpurge check: exit {rc}:\n{out}")
    # A token that is not a valid header value: the error names the header, not the value.
    rc2, out2 = run_check(c, dict(os.environ, TP_TEST_CF_TOKEN=tok["cloudflare"] + "\x01"))
    tp.check(rc2 == 2 and "Authorization" in out2, f"check with a bad token: exit {rc2}:\n{out2}")
    for t in tok.values():
        tp.check(t not in out and t not in out2, "tagpurge check printed a token")

    c.start()
    values = ", ".join(f"({i}, {100 + i}, 'p{i}')" for i in range(1, N_PRODUCTS + 1))
    names = ", ".join(f"({i}, '{v}')" for i, v in enumerate(NAMES, 1))
    c.wait_confirmed(c.commit(f"INSERT INTO products(id, category_id, name) VALUES {values}; "
                              f"INSERT INTO names VALUES {names}"), timeout=20)
    want = expected_tags()
    tp.check(len(want) == 37, f"{len(want)} expected tags")
    summary, reasons, peaks = [], set(), {}
    for p in ps:
        ok, why, peaks[p.name] = check_preset(p, want, tok)
        reasons |= set(why)
        summary.append(f"{p.name} {len(ok)}")
    # Each kind of limit ended a request somewhere; a request exactly at a limit is sent whole.
    tp.check(reasons == {COUNT, HEADER, BODY, URL}, f"limits that split: {sorted(reasons)}")
    tp.check(peaks["symfony"][HEADER] == SYMFONY_HEADER,
             f"longest X-Cache-Tags line {peaks['symfony'][HEADER]}, want exactly {SYMFONY_HEADER}")
    tp.check(peaks["urlbody"][BODY] == URLBODY_BODY,
             f"longest urlbody body {peaks['urlbody'][BODY]}, want exactly {URLBODY_BODY}")
    c.stop()
    log = c.log.read_text(encoding="latin-1")
    tp.check("answers HTTP 401" in log and "purge failed: HTTP 503" in log,
             "the 401 and 503 failures are not in the log")
    for k, t in tok.items():
        tp.check(t not in log, f"the {k} token is in tagpurge's log")
    print(f"requests: {', '.join(summary)}; {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(tp.run("pg_http_sink", body))
