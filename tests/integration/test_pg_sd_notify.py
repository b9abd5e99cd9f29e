#!/usr/bin/env python3
"""systemd notifications (sd_notify protocol) seen from a stand-in service
manager: a unix datagram socket given as NOTIFY_SOCKET, with WATCHDOG_USEC=400000
and WATCHDOG_PID set the way systemd sets them (the main process's pid).

- While the database refuses connections the source cannot stream: no READY=1,
  but WATCHDOG=1 keeps coming and STATUS= says "0/1 sources".
- Once connections are allowed, READY=1 arrives, and only after the source is
  streaming: when it arrives, tagpurge has logged "source shop: streaming" and
  the slot is active.
- WATCHDOG=1 every ~200 ms (half of WATCHDOG_USEC), never 400 ms apart, from
  start to stop.
- SIGHUP: RELOADING=1 (with MONOTONIC_USEC=) then READY=1; a broken file too,
  with STATUS= telling the reload was refused.
- SIGTERM: STOPPING=1, then a clean exit; no READY=1 after it.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import tp

WATCHDOG_USEC = 400000


class Manager:
    """Receives datagrams on a thread; msgs is [(monotonic time, text)]."""

    def __init__(self, c, path):
        self.c = c
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.msgs = []
        self.at_ready = None  # what was true when the first READY=1 arrived
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            t = time.monotonic()
            text = data.decode()
            if "READY=1" in text.split("\n") and self.at_ready is None:
                # Look at once, before tagpurge moves on.
                self.at_ready = {
                    "logged_streaming": "source shop: streaming" in self.c.log.read_text(),
                    "slot_active": self.c.pg.psql(
                        f"SELECT active FROM pg_replication_slots "
                        f"WHERE slot_name = '{self.c.slot}'") == "t",
                }
            with self.lock:
                self.msgs.append((t, text))

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def texts(self, since=0):
        return [m for _, m in self.snapshot()[since:]]

    def wait_for(self, pred, what, since=0, timeout=15.0):
        """The index of the first message from since on that pred accepts."""
        def found():
            for i, m in enumerate(self.texts(since)):
                if pred(m):
                    return since + i + 1
            return None
        return tp.wait(found, what, timeout) - 1

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()


def fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


def statuses(msgs):
    return [fields(m)["STATUS"] for m in msgs if "STATUS" in fields(m)]


def body(c):
    mgr = Manager(c, c.tmp / "notify.sock")
    try:
        run(c, mgr)
    finally:
        mgr.close()


def run(c, mgr):
    cfg = c.config([{"name": "edge", "type": "xkey", "nodes": [c.node_url(0)]}])
    good = cfg.read_text()
    c.pg.psql(f"ALTER DATABASE {c.db} ALLOW_CONNECTIONS false")
    env = dict(os.environ, NOTIFY_SOCKET=str(c.tmp / "notify.sock"),
               WATCHDOG_USEC=str(WATCHDOG_USEC))
    c.logf = open(c.log, "a")
    t_start = time.monotonic()
    # systemd's WATCHDOG_PID is the main pid: exec keeps the shell's.
    c.proc = subprocess.Popen(["sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", c.bin, "run",
                               "-c", str(cfg), "-v"],
                              env=env, stdout=c.logf, stderr=subprocess.STDOUT)

    # 1. The database refuses: not ready, but alive and saying why.
    tp.wait(lambda: "reconnecting" in c.log.read_text(), "a refused connection in the log")
    # For 1.5 s of refusals: alive and never READY=1.
    tp.hold(lambda: c.proc.poll() is None and not any("READY=1" in m for m in mgr.texts()),
            lambda: f"tagpurge exited ({c.proc.poll()}) or READY=1 before streaming: "
            f"{mgr.texts()}", 1.5)
    tp.check(c.proc.poll() is None, f"tagpurge exited {c.proc.returncode}")
    early = mgr.texts()
    tp.check(not any("READY=1" in m for m in early), f"READY=1 before streaming: {early}")
    tp.check(sum(m == "WATCHDOG=1" for m in early) >= 5,
             f"expected WATCHDOG=1 about every 200 ms while connecting, got {early}")
    tp.check(any(s.startswith("streaming 0/1 sources") for s in statuses(early)),
             f"no 'streaming 0/1 sources' STATUS= while connecting: {statuses(early)}")

    # 2. Connections allowed: READY=1 once the slot streams.
    c.pg.psql(f"ALTER DATABASE {c.db} ALLOW_CONNECTIONS true")
    i_ready = mgr.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1", timeout=20)
    tp.check(mgr.at_ready == {"logged_streaming": True, "slot_active": True},
             f"READY=1 arrived before the source streamed: {mgr.at_ready}")
    ready = fields(mgr.texts()[i_ready])
    tp.check(re.fullmatch(r"streaming 1/1 sources, 1 nodes, \d+ pending", ready.get("STATUS", "")),
             f"READY=1 without the expected STATUS=: {ready}")
    c.wait_confirmed(c.commit("INSERT INTO products(id, category_id, name) VALUES (1, 3, 'a')"))

    # 3. Reload: RELOADING=1 then READY=1.
    n = len(mgr.snapshot())
    c.signal(signal.SIGHUP)
    i = mgr.wait_for(lambda m: "RELOADING=1" in m.split("\n"), "RELOADING=1", since=n)
    tp.check(re.fullmatch(r"\d+", fields(mgr.texts()[i]).get("MONOTONIC_USEC", "")),
             f"RELOADING=1 without MONOTONIC_USEC=: {mgr.texts()[i]!r}")
    tp.check(not any("READY=1" in m for m in mgr.texts(n)[:i - n]), "READY=1 before RELOADING=1")
    mgr.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1 after RELOADING=1", since=i + 1)

    # A broken file is refused: still RELOADING=1 then READY=1, and STATUS= says so.
    cfg.write_text("{ not json")
    n = len(mgr.snapshot())
    c.signal(signal.SIGHUP)
    i = mgr.wait_for(lambda m: "RELOADING=1" in m.split("\n"), "RELOADING=1 (broken file)", since=n)
    j = mgr.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1 (broken file)", since=i + 1)
    tp.check("last reload refused" in fields(mgr.texts()[j]).get("STATUS", ""),
             f"STATUS= does not tell the reload was refused: {mgr.texts()[j]!r}")
    cfg.write_text(good)

    # 4. SIGTERM: STOPPING=1, exit 0, nothing READY after.  First the loop is alive again
    # after the refused reload: a watchdog ping after its READY=1.
    mgr.wait_for(lambda m: m == "WATCHDOG=1", "WATCHDOG=1 after the refused reload", since=j + 1)
    n = len(mgr.snapshot())
    c.signal(signal.SIGTERM)
    i = mgr.wait_for(lambda m: m == "STOPPING=1", "STOPPING=1", since=n)
    tp.check(c.proc.wait(timeout=10) == 0, f"tagpurge exited {c.proc.returncode}")
    t_end = time.monotonic()
    # The process is gone; a datagram it sent last may still be unread for a moment.
    tp.hold(lambda: not any("READY=1" in m for m in mgr.texts(i)), "READY=1 after STOPPING=1",
            0.3)

    # 5. The watchdog, from start to stop: ~every 200 ms, never a gap of WATCHDOG_USEC.
    pings = [t for t, m in mgr.snapshot() if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    gaps.sort()
    median = gaps[len(gaps) // 2]
    first = pings[0] - t_start
    tp.check(0.15 <= median <= 0.25, f"WATCHDOG=1 median interval {median * 1000:.0f} ms")
    tp.check(first < WATCHDOG_USEC / 1e6 and gaps[-1] < WATCHDOG_USEC / 1e6,
             f"a watchdog deadline was missed: first ping after {first * 1000:.0f} ms, "
             f"longest gap {gaps[-1] * 1000:.0f} ms")
    print(f"{len(pings)} WATCHDOG=1 over {t_end - t_start:.1f} s: median {median * 1000:.0f} ms, "
          f"max {gaps[-1] * 1000:.0f} ms; READY=1 with STATUS={ready['STATUS']!r}")


if __name__ == "__main__":
    sys.exit(tp.run("pg_sd_notify", body))
