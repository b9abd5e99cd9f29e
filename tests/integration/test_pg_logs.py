#!/usr/bin/env python3
"""Issue 5: log formats.  "log_format": "json" makes every line one JSON object
(ts, level, msg), a hostile value's CR/LF included; under systemd (stderr is
the journal stream named by JOURNAL_STREAM) lines carry syslog priority
prefixes instead of timestamps.  A header token never appears.  A source
password that cannot be read at start is one error line and exit 1."""
import json
import os
import subprocess
import sys

import tp

TOKEN = "sEcReT-tOkEn-77"


def body(c):
    sinks = [{"name": "edge", "type": "xkey", "nodes": [c.node_url(0), "http://127.0.0.1:9/"],
              "headers": {"X-Token": {"env": "TP_TEST_TOKEN"}}}]
    c.config(sinks, delivery={"coalesce_ms": 5, "retry_initial_ms": 50, "retry_max_ms": 200,
                              "timeout_ms": 300})
    cfg = json.loads(c.cfg_path.read_text())
    cfg["log_format"] = "json"
    c.cfg_path.write_text(json.dumps(cfg))
    c.start(env={"TP_TEST_TOKEN": TOKEN})
    c.commit("INSERT INTO names VALUES (1, E'a\\r\\nb')")
    tp.wait(lambda: "purge failed" in c.log.read_text(), "a failure to log (port 9 refuses)", 5)
    c.kill()
    lines = c.log.read_text().splitlines()
    levels = set()
    for ln in lines:
        rec = json.loads(ln)  # raises on any non-JSON line
        tp.check(set(rec) == {"ts", "level", "msg"}, f"fields: {rec}")
        levels.add(rec["level"])
    tp.check({"info", "warning", "debug"} <= levels, f"levels seen: {levels}")
    tp.check(TOKEN not in c.log.read_text(), "the token was logged")

    # Under systemd: stderr is the journal stream -> "<prio>message".
    journal = c.tmp / "journal.log"
    cfg["log_format"] = "text"
    c.cfg_path.write_text(json.dumps(cfg))
    c.log = journal
    journal.touch()
    st = os.stat(journal)
    c.start(env={"TP_TEST_TOKEN": TOKEN, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    tp.wait(lambda: "<4>" in journal.read_text(), "a warning line", 10)
    c.stop()
    jl = journal.read_text().splitlines()
    tp.check(all(ln[:3] in ("<3>", "<4>", "<6>", "<7>") for ln in jl), f"prefixes: {jl[:3]}")
    tp.check(any(ln.startswith("<6>tagpurge ") for ln in jl), "the start line at info (<6>)")
    tp.check(TOKEN not in journal.read_text(), "the token was logged")
    print(f"{len(lines)} JSON lines, levels {sorted(levels)}; {len(jl)} journal lines")

    # A secret that cannot be read at start: one clear line, exit 1, no crash.
    cfg["sources"][0]["password_env"] = "TP_TEST_UNSET_PW"
    c.cfg_path.write_text(json.dumps(cfg))
    out = subprocess.run([c.bin, "run", "-c", str(c.cfg_path)], capture_output=True, text=True,
                         timeout=20, env=dict({k: v for k, v in os.environ.items()
                                               if k != "TP_TEST_UNSET_PW"}, TP_TEST_TOKEN=TOKEN))
    tp.check(out.returncode == 1 and "password_env: environment variable TP_TEST_UNSET_PW is "
             "not set" in out.stderr and "Assertion" not in out.stderr,
             f"start without the password: exit {out.returncode}\n{out.stderr[-2000:]}")


if __name__ == "__main__":
    sys.exit(tp.run("pg_logs", body))
