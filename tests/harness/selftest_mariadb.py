#!/usr/bin/env python3
"""Self-check of the MariaDB part of the test harness (not a ctest).

    python3 tests/harness/selftest_mariadb.py

Times `services.py up`/`down` without and with --mariadb, then checks the MariaDB
started by `up --mariadb`: binlog settings, binlog files, FLUSH LOGS, restart on the
same port with the data kept, extra_args on restart, SIGKILL recovery, SIGSTOP/SIGCONT,
the repl and norepl users over TCP, exit 77 when mariadbd is missing, and that `down`
stops it. Prints PASS/FAIL per step and the timings.
Exit status 0 only if every step passed (77 if a server binary is missing).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import services  # noqa: E402

SERVICES = [sys.executable, str(HERE / "services.py")]
results = []
timings = []


def step(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)
    return ok


def services_cli(*args, env=None):
    t0 = time.monotonic()
    res = subprocess.run(SERVICES + list(args), capture_output=True, text=True, env=env)
    return res, time.monotonic() - t0


def up(d, *extra):
    res, dt = services_cli("up", "--dir", str(d), *extra)
    label = " ".join(["up"] + list(extra))
    timings.append((label, dt))
    if res.returncode == services.SKIP:
        print(f"SKIP: {res.stderr.strip()}")
        sys.exit(services.SKIP)
    step(f"services.py {label}", res.returncode == 0,
         f"{dt:.2f}s" if res.returncode == 0 else res.stderr.strip())
    return res.returncode == 0


def down(d, label):
    res, dt = services_cli("down", "--dir", str(d))
    timings.append((f"down ({label})", dt))
    step(f"services.py down ({label})", res.returncode == 0,
         f"{dt:.2f}s" if res.returncode == 0 else res.stderr.strip())


def client_tcp(my, user, password, query):
    """mariadb over TCP 127.0.0.1:port -> CompletedProcess."""
    argv = [services.mariadb_binary("mariadb"), "--no-defaults", f"-h{my.host}", "-P", str(my.port),
            f"-u{user}", f"-p{password}", "-N", "-B", "-e", query]
    return subprocess.run(argv, capture_output=True, text=True, env=services.mariadb_env(), timeout=30)


def binlog_files(my):
    return [line.split("\t")[0] for line in my.sql("SHOW BINARY LOGS").splitlines() if line]


def attempt(name, fn):
    """Run fn() -> (ok, detail); an exception is a FAIL with its message."""
    try:
        ok, detail = fn()
    except Exception as e:  # report and continue with the next step
        ok, detail = False, f"{type(e).__name__}: {e}"
    return step(name, ok, detail)


def run_checks(env):
    my = env.mariadb
    if not step("env.json has a mariadb entry; Env.mariadb set", my is not None
                and all(k in env.data.get("mariadb", {})
                        for k in ("port", "host", "socket", "datadir", "pid", "log")),
                json.dumps(env.data.get("mariadb"))):
        return
    step("socket in <root>/my/sock, datadir <root>/my/data",
         my.socket == str(Path(env.root, "my", "sock")) and Path(my.socket).is_socket()
         and my.datadir == str(Path(env.root, "my", "data")), my.socket)
    step("mariadbd pid alive and ours", services.pid_alive(my.pid) and my._is_ours(my.pid),
         services.pid_cmdline(my.pid)[:80])

    settings = "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id"
    attempt("log_bin, binlog_format, row_image, row_metadata, server_id = 1 ROW FULL FULL 1",
            lambda: ((got := my.sql(settings)) == "1\tROW\tFULL\tFULL\t1", repr(got)))
    attempt("bound to 127.0.0.1 on the recorded port",
            lambda: ((got := my.sql("SELECT @@bind_address, @@port")) == f"127.0.0.1\t{my.port}", repr(got)))

    def create():
        my.sql("CREATE DATABASE shop;\n"
               "CREATE TABLE shop.products (id INT PRIMARY KEY, sku VARCHAR(32));\n"
               "INSERT INTO shop.products VALUES (1, 'a'), (2, 'b');")
        got = my.sql("SELECT id, sku FROM products ORDER BY id", db="shop")
        return got == "1\ta\n2\tb", repr(got)
    attempt("multi-statement sql(): create table, insert, select with db=", create)

    files = []

    def show_logs():
        files[:] = binlog_files(my)
        return len(files) >= 1 and files[0].startswith("binlog."), repr(files)
    attempt("SHOW BINARY LOGS lists a file", show_logs)

    def flush():
        before = len(files)
        my.sql("FLUSH BINARY LOGS")
        after = binlog_files(my)
        return len(after) == before + 1, f"{before} -> {len(after)}: {after}"
    attempt("FLUSH LOGS creates another binlog file", flush)

    def sql_error():
        try:
            my.sql("SELECT 1; SELEC 2; SELECT 3")
        except services.ServiceError as e:
            return "1064" in str(e), str(e).splitlines()[-2][:70]
        return False, "no error raised"
    attempt("sql() raises ServiceError with stderr on a bad statement", sql_error)

    def repl_tcp():
        res = client_tcp(my, "repl", "replpw", "SHOW MASTER STATUS")
        ok = res.returncode == 0 and res.stdout.startswith("binlog.")
        return ok, (res.stdout.strip() or res.stderr.strip())[:100]
    attempt("repl over TCP 127.0.0.1:port: SHOW MASTER STATUS", repl_tcp)

    def repl_grants():
        res = client_tcp(my, "repl", "replpw", "SHOW GRANTS")
        return ("REPLICATION SLAVE" in res.stdout and "BINLOG MONITOR" in res.stdout
                and "SELECT" in res.stdout), res.stdout.strip()[:120]
    attempt("repl has SELECT, REPLICATION SLAVE, BINLOG MONITOR", repl_grants)

    def norepl():
        sel = client_tcp(my, "norepl", "noreplpw", "SELECT COUNT(*) FROM shop.products")
        show = client_tcp(my, "norepl", "noreplpw", "SHOW BINARY LOGS")
        return (sel.returncode == 0 and sel.stdout.strip() == "2" and show.returncode != 0
                and "1227" in show.stderr), show.stderr.strip().splitlines()[-1][:90]
    attempt("norepl can SELECT but not SHOW BINARY LOGS (1227)", norepl)

    def restart_same():
        port, pid = my.port, my.pid
        t0 = time.monotonic()
        my.restart()
        dt = time.monotonic() - t0
        timings.append(("MariaDB.restart()", dt))
        rows = my.sql("SELECT COUNT(*) FROM shop.products")
        setting = my.sql(settings)
        return (my.port == port and my.pid != pid and rows == "2" and setting == "1\tROW\tFULL\tFULL\t1"
                and my.sql("SELECT @@port") == str(port)), f"port {port}->{my.port} rows={rows} {dt:.2f}s"
    attempt("restart() keeps port, data and settings", restart_same)
    attempt("repl over TCP after restart", repl_tcp)

    def restart_extra():
        my.restart(["--binlog-format=MIXED", "--binlog-row-metadata=NO_LOG"])
        got = my.sql("SELECT @@binlog_format, @@binlog_row_metadata")
        my.restart(())
        back = my.sql("SELECT @@binlog_format, @@binlog_row_metadata")
        return got == "MIXED\tNO_LOG" and back == "ROW\tFULL", f"{got!r} then {back!r}"
    attempt("restart(extra_args) overrides binlog settings; restart(()) restores", restart_extra)

    def kill9():
        my.sql("INSERT INTO shop.products VALUES (3, 'c')")
        pid = my.pid
        t0 = time.monotonic()
        my.kill9()
        gone = not services.pid_alive(pid)
        my.restart()
        dt = time.monotonic() - t0
        timings.append(("MariaDB.kill9() + restart()", dt))
        rows = my.sql("SELECT COUNT(*) FROM shop.products")
        return gone and rows == "3", f"gone={gone} rows={rows} {dt:.2f}s"
    attempt("kill9() then restart(): committed rows survive", kill9)

    def proc_state():
        return Path(f"/proc/{my.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    def freeze():
        my.sigstop()
        t0 = time.monotonic()   # the stop is delivered asynchronously
        while (state := proc_state()) != "T" and time.monotonic() - t0 < 2:
            time.sleep(0.01)
        my.sigcont()
        return state == "T" and my.sql("SELECT 1") == "1", f"state while stopped {state!r}"
    attempt("sigstop()/sigcont()", freeze)



def main():
    if os.geteuid() == 0:
        print("running as root (mariadbd gets --user=root)")
    try:
        services.check_dependencies(0, mariadb=True)
    except services.MissingDependency as e:
        print(f"SKIP: {e}")
        return services.SKIP
    base = Path(tempfile.mkdtemp(prefix="tp-selftest-my-"))
    try:
        # 1. baseline: up/down without MariaDB
        d0 = base / "plain"
        if up(d0):
            env = services.load_env(d0)
            step("without --mariadb: Env.mariadb is None, no env.json entry",
                 env.mariadb is None and "mariadb" not in env.data)
            down(d0, "no mariadb")

        # 2. missing binary -> 77, nothing started
        d1 = base / "missing"
        bad = dict(os.environ, MARIADBD="/nonexistent/mariadbd")
        res, _ = services_cli("up", "--dir", str(d1), "--mariadb", env=bad)
        step("up --mariadb with mariadbd missing exits 77, no env.json",
             res.returncode == services.SKIP and not services.env_path(d1).exists(),
             f"rc={res.returncode} {res.stderr.strip()[:80]}")

        # 3. with MariaDB
        d2 = base / "my"
        if up(d2, "--mariadb"):
            env = services.load_env(d2)
            root, pids = env.root, []
            try:
                run_checks(env)
            finally:
                # The restarts made mariadbd a child of this process with a new PID;
                # `down` must find it through the pid file (env.json holds the old one).
                if env.mariadb is not None:
                    pids = sorted({int(env.data["mariadb"]["pid"]), env.mariadb.pid})
                down(d2, "with mariadb")
            t0 = time.monotonic()
            while any(services.pid_alive(p) for p in pids) and time.monotonic() - t0 < 5:
                time.sleep(0.025)
            step("down stopped mariadbd (also the one restarted here) and removed the root",
                 not any(services.pid_alive(p) for p in pids) and not Path(root).exists(),
                 f"pids {pids}")
    finally:
        for d in ("plain", "missing", "my"):
            if services.env_path(base / d).exists():
                services_cli("down", "--dir", str(base / d))
        shutil.rmtree(base, ignore_errors=True)

    print("\ntimings:")
    for label, dt in timings:
        print(f"  {label:<32} {dt:6.2f}s")
    failed = results.count(False)
    print(f"\n{len(results) - failed}/{len(results)} steps passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
