#!/usr/bin/env python3
"""Hostile configuration files (issue 6): every one gives exit 0, or exit 2
with one error line naming file:line:column; never a crash, never another
exit code.  Generated from deploy/tagpurge.example.json and its mapping:

  - the config and the mapping file cut at many byte offsets;
  - every value (and every container) replaced by each wrong type;
  - huge arrays and strings: 200 000 nodes, 50 000 sinks, 1 000 sources,
    200 000 mapped tables, 200 000 templates in one table, a 10 MB template,
    a 10 MB key, 100 000 levels of nesting;
  - raw bytes: NUL, invalid UTF-8, a byte-order mark, an empty file.

Also asserts the limits that keep a huge config from costing minutes: each
of the huge cases runs within 20 s.

  hostile_configs.py TAGPURGE_BINARY
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ERROR = re.compile(r"^tagpurge: error: (.+?):(\d+):(\d+): \S")
WRONG = [None, True, 0, -1, 1e300, "", "x" * 300, [], [1], {}, {"a": 1}]


class Runner:
    def __init__(self, binary, tmp):
        self.cmd = shlex.split(os.environ.get("TAGPURGE_EMULATOR", "")) + [binary, "check", "-c"]
        self.tmp = tmp
        self.runs = 0
        self.failures = []

    def check(self, what, text=None, raw=None, mapping=None, want=None, max_s=20.0):
        """Write the config (and mapping.json), run check; record what is wrong."""
        cfg = self.tmp / "config.json"
        cfg.write_bytes(raw if raw is not None else text.encode())
        if mapping is not None:
            (self.tmp / "mapping.json").write_bytes(mapping)
        t0 = time.monotonic()
        p = subprocess.run(self.cmd + [str(cfg)], capture_output=True, timeout=120)
        took = time.monotonic() - t0
        self.runs += 1
        err = p.stderr.decode(errors="replace")
        lines = [ln for ln in err.splitlines() if ln.startswith("tagpurge: error:")]
        bad = None
        if p.returncode not in (0, 2):
            bad = f"exit {p.returncode}"
        elif p.returncode == 2 and (len(lines) != 1 or not ERROR.match(lines[0])):
            bad = "exit 2 without one file:line:col error line"
        elif p.returncode == 2 and not lines[0].split(": ", 3)[2].startswith(str(self.tmp)):
            bad = "the error does not name the file"
        elif want is not None and want not in err and p.returncode != 0:
            bad = f"error lacks {want!r}"
        elif want is not None and p.returncode == 0:
            bad = f"accepted; expected an error with {want!r}"
        elif took > max_s:
            bad = f"took {took:.1f} s"
        if bad:
            self.failures.append(f"{what}: {bad}\n    {err.strip()[:300]}")
        return p.returncode, err


def leaves(node, path=()):
    """Every path into the JSON document, containers included."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))


def replaced(doc, path, value):
    doc = json.loads(json.dumps(doc))
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def truncations(r, cfg_text, map_bytes):
    text = cfg_text.encode()
    step = max(1, len(text) // 120)
    for k in range(0, len(text), step):
        r.check(f"config cut at byte {k}", raw=text[:k], mapping=map_bytes)
    step = max(1, len(map_bytes) // 60)
    for k in range(0, len(map_bytes), step):
        r.check(f"mapping cut at byte {k}", text=cfg_text, mapping=map_bytes[:k])


def wrong_types(r, cfg, map_bytes):
    for path in leaves(cfg):
        if not path:
            continue
        for w in WRONG:
            r.check(f"config {list(path)} = {json.dumps(w)[:20]}",
                    text=json.dumps(replaced(cfg, path, w), indent=1), mapping=map_bytes)
    mapping = json.loads(map_bytes)
    text = json.dumps(cfg)
    for path in leaves(mapping):
        if not path:
            continue
        for w in WRONG:
            r.check(f"mapping {list(path)} = {json.dumps(w)[:20]}", text=text,
                    mapping=json.dumps(replaced(mapping, path, w), indent=1).encode())


def huge(r, cfg, map_bytes):
    sink = cfg["sinks"][0]
    big = dict(cfg, sinks=[dict(sink, nodes=[f"http://127.0.0.1:{1024 + i % 60000}/{i}"
                                             for i in range(200000)])])
    r.check("200 000 nodes", text=json.dumps(big), mapping=map_bytes, want="at most 4096")
    big = dict(cfg, sinks=[dict(sink, name=f"s{i}") for i in range(50000)])
    r.check("50 000 sinks", text=json.dumps(big), mapping=map_bytes, want="at most 256")
    src = cfg["sources"][0]
    big = dict(cfg, sources=[dict(src, name=f"s{i}") for i in range(1000)])
    r.check("1 000 sources", text=json.dumps(big), mapping=map_bytes, want="at most 64")
    tables = {f"public.t{i}": {"tags": [f"t{i}-{{id}}"]} for i in range(200000)}
    rc, _ = r.check("200 000 mapped tables", text=json.dumps(dict(cfg, mapping=tables)))
    if rc != 0:
        r.failures.append("200 000 mapped tables: refused")
    one = {"public.t": {"tags": [f"t{i}-{{id}}" for i in range(200000)]}}
    rc, _ = r.check("200 000 templates", text=json.dumps(dict(cfg, mapping=one)))
    if rc != 0:
        r.failures.append("200 000 templates in one table: refused")
    long_tpl = {"public.t": {"tags": ["t-{id}" + "x" * 10_000_000]}}
    r.check("10 MB template", text=json.dumps(dict(cfg, mapping=long_tpl)),
            want="more than max_tag_bytes")
    long_fb = {"public.t": {"tags": ["t-{id}"], "fallback_tags": ["f" * 10_000_000]}}
    r.check("10 MB fallback tag", text=json.dumps(dict(cfg, mapping=long_fb)),
            want="longer than max_tag_bytes")
    r.check("10 MB key", text=json.dumps(dict(cfg, **{"k" * 10_000_000: 1})),
            mapping=map_bytes, want="unknown key")
    r.check("100 000 levels", text='{"mapping": ' + "[" * 100000 + "]" * 100000 + "}")


def raw_bytes(r, cfg_text, map_bytes):
    text = cfg_text.encode()
    cut = text.index(b'"sinks"')
    r.check("NUL byte", raw=text[:cut] + b"\0" + text[cut:], mapping=map_bytes)
    r.check("NUL in a string", raw=text.replace(b'"edge"', b'"ed\\u0000ge"', 1),
            mapping=map_bytes)
    r.check("invalid UTF-8", raw=text.replace(b'"edge"', b'"ed\xff\xfege"', 1), mapping=map_bytes)
    r.check("byte-order mark", raw=b"\xef\xbb\xbf" + text, mapping=map_bytes)
    r.check("empty file", raw=b"", mapping=map_bytes)
    r.check("mapping: invalid UTF-8", text=cfg_text, mapping=map_bytes.replace(b"-{", b"\xc3-{", 1))
    r.check("mapping: NUL byte", text=cfg_text, mapping=b"\0" + map_bytes)


def main():
    binary = sys.argv[1]
    tmp = Path(tempfile.mkdtemp(prefix="tp-hostile-cfg-"))
    try:
        cfg = json.loads((ROOT / "deploy" / "tagpurge.example.json").read_text())
        map_bytes = (ROOT / "deploy" / cfg["mapping"]).read_bytes()
        cfg["mapping"] = "mapping.json"
        cfg["state_dir"] = str(tmp / "state")
        r = Runner(binary, tmp)
        cfg_text = json.dumps(cfg, indent=2)
        if r.check("the example", text=cfg_text, mapping=map_bytes)[0] != 0:
            print("the example config does not pass: " + "\n".join(r.failures))
            return 1
        t0 = time.monotonic()
        truncations(r, cfg_text, map_bytes)
        wrong_types(r, cfg, map_bytes)
        huge(r, cfg, map_bytes)
        raw_bytes(r, cfg_text, map_bytes)
        print(f"{r.runs} hostile configs in {time.monotonic() - t0:.1f} s: "
              f"{len(r.failures)} wrong")
        for f in r.failures[:30]:
            print("  " + f)
        return 1 if r.failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
