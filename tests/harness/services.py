#!/usr/bin/env python3
"""Throwaway PostgreSQL 15, MariaDB 10.11, test origin and Varnish + xkey nodes for tagpurge tests.

Stdlib only. Works as root (initdb/pg_ctl run through `runuser -u postgres`,
mariadbd with --user=root) and as an unprivileged user. See
/work/shared/notes/services.md for the recipes.

Library
-------
    free_ports(n) -> [int]                 n distinct free loopback ports
    Postgres(root, port=None)              initdb + start in <root>/pg
        .port .host .sockdir .datadir .bindir .log
        .psql(sql, db="postgres") -> str   stdout (trailing newline removed)
        .stop(mode="fast")  .restart()
    Origin(root, port=None)                tests/harness/origin.py child
        .port .pid .log  .stop()
    Varnish(root, backend_port, name="v0") varnishd -F with deploy/varnish/tagpurge.vcl
        .port .admin_port .pid .workdir .secret .log
        .get(path, headers=None) -> (status, {lower-case header: value}, body str)
        .request(method, path, headers=None, source_ip=None) -> same triple
        .adm(*args) -> str (varnishadm)   .sigstop()  .sigcont()  .stop()
    MariaDB(root, port=None, start=True, extra_args=())
                                           mariadb-install-db + mariadbd (direct child) in <root>/my,
                                           binlog ROW/FULL/FULL, server_id 1; extra_args go last
        .port .host .socket .datadir .pid .log .extra_args
        .sql(query, db=None) -> str        stdout of `mariadb -N -B` as root over the socket
                                           (trailing newline removed; multi-statement text ok)
        .stop()  .restart(extra_args=None)  .kill9()  .sigstop()  .sigcont()
        users repl@127.0.0.1/replpw (REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.*)
              norepl@127.0.0.1/noreplpw (SELECT ON *.* only)
    start_all(root, n_varnish=2, mariadb=False) -> Env   stop_all(env, remove_root=True)
    load_env(dir) -> Env                   objects bound to servers started by `up`
        Env.root Env.pg Env.origin Env.varnish[i] Env.mariadb (None unless --mariadb)
        Env.data (raw env.json)

CLI (ctest fixtures)
--------------------
    services.py up   --dir DIR [--varnish N] [--mariadb]
                                           start, write DIR/env.json, exit (servers keep running)
    services.py down --dir DIR             stop recorded PIDs, remove the temp root
Exit codes: 0 ok, 1 failure, 2 usage, 77 a required binary/module is missing (skip).

Binaries: $VARNISHD, $VARNISHADM, $PG_CONFIG, $PSQL, $MARIADBD, $MARIADB_INSTALL_DB,
$MARIADB, $MARIADB_ADMIN override the lookup (otherwise PATH, then /usr/sbin;
initdb/pg_ctl/postgres/psql from `pg_config --bindir`).
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VCL_TEMPLATE = REPO / "deploy" / "varnish" / "tagpurge.vcl"
ORIGIN_PY = HERE / "origin.py"
VCL_PORT_LINE = '.port = "8080";'

POLL_S = 0.025          # longest sleep of any polling loop
START_TIMEOUT_S = 30.0  # per server start
STOP_TIMEOUT_S = 5.0    # SIGTERM grace before SIGKILL
PORT_RETRIES = 3        # free-port races: retry with new ports
SKIP = 77               # ctest SKIP_RETURN_CODE


class ServiceError(RuntimeError):
    """A server failed to start/stop; the message includes its log tail."""


class MissingDependency(ServiceError):
    """A required binary or VMOD is not installed (CLI exit code 77)."""


# --------------------------------------------------------------------------
# helpers

def is_root():
    return os.geteuid() == 0


def free_ports(n):
    """Return n distinct free TCP ports on 127.0.0.1 (bound together, then closed)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def log_tail(path, limit=4000):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as e:
        return f"<no log {path}: {e.strerror}>"
    return text[-limit:] if text else f"<empty log {path}>"


def pid_alive(pid):
    """True if pid exists and is not a zombie (zombies may never be reaped in containers)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children(pid):
    """The pids whose parent is pid (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def pid_cmdline(pid):
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def wait_for(check, what, timeout=START_TIMEOUT_S, alive=None, log=None):
    """Poll check() every POLL_S until truthy; raise with the log if alive() turns
    false or the deadline passes. Returns check()'s value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        is_alive = alive is None or alive()
        if value and is_alive:
            return value
        if not is_alive:
            raise ServiceError(f"{what}: process died\n--- {log} ---\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what}: not ready after {timeout:.0f}s\n--- {log} ---\n{log_tail(log)}")
        time.sleep(POLL_S)


class Proc:
    """A process to stop: pid, a name for messages, our Popen if it is our child,
    group=True if it leads a process group we created (start_new_session)."""

    def __init__(self, pid, what, popen=None, group=False):
        self.pid, self.what, self.popen, self.group = pid, what, popen, group

    def gone(self):
        if self.popen is not None:
            return self.popen.poll() is not None
        return not pid_alive(self.pid)

    def send(self, sig, to_group=False):
        try:
            if to_group and self.group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


def terminate(procs):
    """Stop several processes in parallel: SIGCONT (whole group, in case a test
    froze it), SIGTERM (the pid alone: the varnishd manager stops its cache child
    itself), poll until gone, SIGKILL the group after STOP_TIMEOUT_S."""
    live = [p for p in procs if not p.gone()]
    for p in live:
        p.send(signal.SIGCONT, to_group=True)
        p.send(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while True:
        live = [p for p in live if not p.gone()]
        if not live:
            return
        if time.monotonic() > deadline:
            for p in live:
                sys.stderr.write(f"services: {p.what} (pid {p.pid}) ignored SIGTERM, sending SIGKILL\n")
                p.send(signal.SIGKILL, to_group=True)
            deadline = time.monotonic() + STOP_TIMEOUT_S
        time.sleep(POLL_S)


def owns_group(pid):
    """True if pid leads its own process group (we started it with start_new_session)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def http_request(port, method, path, headers=None, source_ip=None, timeout=5.0, host="127.0.0.1"):
    """One HTTP/1.1 request on a fresh connection -> (status, headers, body str)."""
    src = (source_ip, 0) if source_ip else None
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=src)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", errors="replace")
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, hdrs, body
    finally:
        conn.close()


def run_sql_client(argv, sql, env, what):
    """Feed sql to a command-line client (psql, mariadb); its stdout without the
    trailing newline. Raises ServiceError with stderr on failure."""
    res = subprocess.run(argv, input=sql, capture_output=True, text=True, env=env, timeout=120)
    if res.returncode != 0:
        raise ServiceError(f"{what} failed ({res.returncode}): {res.stderr.strip()}\nSQL: {sql}")
    return res.stdout.rstrip("\n")


def clean_env():
    """Environment without PG* variables that could redirect psql/pg_ctl."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def find_binary(name, extra_dirs=("/usr/sbin", "/usr/local/sbin")):
    """Locate a program: $<NAME> override (e.g. VARNISHD, PG_CONFIG), PATH, extra_dirs."""
    override = os.environ.get(name.upper())
    if override:
        if os.access(override, os.X_OK) and Path(override).is_file():
            return override
        raise MissingDependency(f"${name.upper()}={override} is not an executable file")
    path = shutil.which(name)
    if path:
        return path
    for d in extra_dirs:
        cand = Path(d) / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    raise MissingDependency(f"{name} not found (install it, e.g. apt-get install "
                            f"{'varnish' if 'varnish' in name else 'postgresql'})")


def pg_bindir():
    pg_config = find_binary("pg_config", ("/usr/bin", "/usr/lib/postgresql/15/bin"))
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
    bindir = out.stdout.strip()
    if out.returncode != 0 or not bindir:
        raise ServiceError(f"{pg_config} --bindir failed ({out.returncode}): {out.stderr.strip()}")
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(Path(bindir) / tool, os.X_OK):
            raise MissingDependency(f"{bindir}/{tool} not found (apt-get install postgresql)")
    return bindir


def psql_binary(bindir):
    """$PSQL, else <bindir>/psql (no pg_wrapper detour), else psql on PATH."""
    if os.environ.get("PSQL") or not os.access(Path(bindir) / "psql", os.X_OK):
        return find_binary("psql", ("/usr/bin",))
    return str(Path(bindir) / "psql")


# --------------------------------------------------------------------------
# PostgreSQL

class Postgres:
    """A private PostgreSQL cluster in <root>/pg, listening on 127.0.0.1:port and a
    unix socket in sockdir. Started by pg_ctl (daemonized); stop with stop()."""

    host = "127.0.0.1"

    def __init__(self, root, port=None, start=True, conf=""):
        """conf: extra postgresql.conf lines (e.g. "max_slot_wal_keep_size = '1MB'\n")."""
        self.root = Path(root)
        self.extra_conf = conf
        self.sockdir = str(self.root / "pg")
        self.datadir = str(self.root / "pg" / "data")
        self.log = str(self.root / "pg" / "server.log")
        self.bindir = pg_bindir()
        self.port = port
        if start:
            self.start()

    @classmethod
    def attach(cls, info):
        """Bind to a running cluster described by env.json's "pg" entry."""
        self = cls.__new__(cls)
        self.port = int(info["port"])
        self.sockdir = info["sockdir"]
        self.datadir = info["datadir"]
        self.bindir = info["bindir"]
        self.log = info.get("log", str(Path(self.sockdir) / "server.log"))
        self.root = Path(self.sockdir).parent
        self.extra_conf = ""
        return self

    @classmethod
    def standby(cls, root, primary, conf=""):
        """A streaming physical standby of primary (a running Postgres) in <root>/pg:
        pg_basebackup -R -X stream, started on its own port.  Returns it running."""
        self = cls(root, start=False, conf=conf)
        self._make_pgdir()
        self._run([f"{self.bindir}/pg_basebackup", "-h", primary.host, "-p", str(primary.port),
                   "-U", "postgres", "-D", self.datadir, "-R", "-X", "stream", "--no-sync",
                   "--checkpoint=fast"],
                  "pg_basebackup")
        # -R appended primary_conninfo to the copied postgresql.auto.conf, which
        # _write_conf rewrites: keep it and the primary's ALTER SYSTEM settings.
        auto = Path(self.datadir) / "postgresql.auto.conf"
        self.extra_conf += "".join(
            ln + "\n" for ln in auto.read_text().splitlines()
            if ln and not ln.startswith(("#", "port", "unix_socket_directories")))
        self.start()
        return self

    def in_recovery(self):
        return self.psql("SELECT pg_is_in_recovery()") == "t"

    def promote(self):
        """pg_ctl promote; returns once the server accepts writes."""
        self._run([f"{self.bindir}/pg_ctl", "-D", self.datadir, "-w", "promote"], "pg_ctl promote")
        wait_for(lambda: not self.in_recovery(), f"postgres on port {self.port} to promote",
                 log=self.log)

    def kill9(self):
        """SIGKILL the postmaster and every process it started (a crashed machine); return
        once all are gone.  The data folder stays: a later start() runs crash recovery."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return
        procs = [pid] + _children(pid)
        for p in procs:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in procs:
            wait_for(lambda p=p: not pid_alive(p), f"pid {p} to die", timeout=10)

    def info(self):
        return {"port": self.port, "host": self.host, "sockdir": self.sockdir,
                "datadir": self.datadir, "bindir": self.bindir, "log": self.log}

    # -- process control

    def _as_postgres(self, argv):
        return (["runuser", "-u", "postgres", "--"] + argv) if is_root() else argv

    def _run(self, argv, what):
        res = subprocess.run(self._as_postgres(argv), capture_output=True, text=True,
                             env=clean_env(), stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise ServiceError(f"{what} failed ({res.returncode}): {res.stderr.strip()}\n"
                               f"--- {self.log} ---\n{log_tail(self.log)}")
        return res.stdout

    def start(self):
        if not Path(self.datadir).exists():
            self._initdb()
        for attempt in range(PORT_RETRIES):
            if self.port is None or attempt > 0:
                self.port = free_ports(1)[0]
            self._write_conf()
            try:
                self._start_once()
                return
            except ServiceError as e:
                if "already in use" not in str(e) or attempt == PORT_RETRIES - 1:
                    raise

    def _make_pgdir(self):
        pgdir = Path(self.sockdir)
        pgdir.mkdir(parents=True, exist_ok=True)
        if is_root():
            # runuser'd initdb/postgres must traverse root (mkdtemp makes it 0700)
            mode = self.root.stat().st_mode
            if not mode & 0o001:
                os.chmod(self.root, (mode & 0o7777) | 0o011)
            shutil.chown(pgdir, "postgres", "postgres")

    def _initdb(self):
        self._make_pgdir()
        self._run([f"{self.bindir}/initdb", "-D", self.datadir, "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")

    def _write_conf(self):
        conf = Path(self.datadir) / "postgresql.auto.conf"
        # postgresql.auto.conf is read last and owned by the cluster owner; rewrite it whole.
        conf.write_text(
            "# written by tests/harness/services.py\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.sockdir}'\n"
            "wal_level = logical\n"
            "max_replication_slots = 20\n"
            "max_wal_senders = 20\n"
            "fsync = off\n"
            # on, not off: walsenders only send flushed WAL, so with off every
            # change reached logical decoding up to wal_writer_delay (200 ms)
            # late. With fsync = off the commit flush costs nothing anyway.
            "synchronous_commit = on\n"
            "full_page_writes = off\n"
            "shared_buffers = 32MB\n"
            "max_connections = 100\n" + self.extra_conf)
        if is_root():
            shutil.chown(conf, "postgres", "postgres")

    def _pidfile(self):
        try:
            return Path(self.datadir, "postmaster.pid").read_text().splitlines()
        except OSError:
            return None

    def pid(self):
        lines = self._pidfile()
        return int(lines[0]) if lines else None

    def _ready(self):
        lines = self._pidfile()
        # line 8 is the postmaster status: "starting", "ready", "stopping", ...
        return bool(lines and len(lines) >= 8 and lines[7].strip() == "ready")

    def _start_once(self):
        log_start = Path(self.log).stat().st_size if Path(self.log).exists() else 0
        self._run([f"{self.bindir}/pg_ctl", "-D", self.datadir, "-l", self.log, "-W", "start"],
                  "pg_ctl start")

        def alive():
            if self._ready():
                return True
            pid = self.pid()
            if pid is not None:
                return pid_alive(pid)
            # no pid file yet (pg_ctl forks first) or already removed after a failure
            tail = Path(self.log).read_text(errors="replace")[log_start:] if Path(self.log).exists() else ""
            return "FATAL" not in tail

        try:
            wait_for(self._ready, f"postgres on port {self.port}", alive=alive, log=self.log)
        except ServiceError as e:
            if "Address already in use" in str(e):
                raise ServiceError(f"port {self.port} already in use") from e
            raise

    def stop(self, mode="fast"):
        """pg_ctl stop -m <mode>, then wait until the postmaster is gone."""
        self.wait_stopped(self.request_stop(mode))

    def request_stop(self, mode="fast"):
        """pg_ctl stop -m <mode> without waiting; returns the postmaster pid or None."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return None
        self._run([f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", mode, "-W", "stop"],
                  "pg_ctl stop")
        return pid

    def wait_stopped(self, pid):
        if pid is not None:
            wait_for(lambda: not pid_alive(pid), f"postgres pid {pid} stop",
                     timeout=60, log=self.log)

    def restart(self):
        self.stop("fast")
        self._start_once()

    # -- client

    def psql(self, sql, db="postgres"):
        """Run SQL through psql -X -q -A -t -v ON_ERROR_STOP=1; return stdout
        without its trailing newline. Raises ServiceError with stderr on failure."""
        argv = [psql_binary(self.bindir), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.sockdir, "-p", str(self.port), "-U", "postgres", "-d", db]
        return run_sql_client(argv, sql, clean_env(), f"psql -d {db}")


# --------------------------------------------------------------------------
# children started in their own session (survive the `up` process)

class _Child:
    """Common handling of a server we spawn: own session, log file, stop by PID."""

    name = "child"
    popen = None
    pid = None
    log = None

    def _spawn(self, argv, log):
        self.log = str(log)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          close_fds=True)
        self.pid = self.popen.pid

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def proc(self):
        return Proc(self.pid, self.name, popen=self.popen, group=owns_group(self.pid))

    def stop(self):
        if self.pid is not None:
            terminate([self.proc()])

    def sigstop(self):
        """Freeze the whole process group (varnishd manager + cache child)."""
        self._signal(signal.SIGSTOP)

    def sigcont(self):
        self._signal(signal.SIGCONT)

    def _signal(self, sig):
        if owns_group(self.pid):
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)


class Origin(_Child):
    """tests/harness/origin.py on 127.0.0.1:port, started as a child in a new session."""

    name = "origin"

    def __init__(self, root, port=None, start=True):
        self.root = Path(root)
        self.port = port
        if start:
            self.start()

    @classmethod
    def attach(cls, info):
        self = cls.__new__(cls)
        self.port, self.pid = int(info["port"]), int(info["pid"])
        self.log = info.get("log")
        return self

    def info(self):
        return {"port": self.port, "pid": self.pid, "log": self.log}

    def start(self):
        for attempt in range(PORT_RETRIES):
            if self.port is None or attempt > 0:
                self.port = free_ports(1)[0]
            self._spawn([sys.executable, str(ORIGIN_PY), str(self.port)],
                        self.root / "origin.log")
            try:
                wait_for(self._answers, f"origin on port {self.port}", alive=self.alive, log=self.log)
                return
            except ServiceError as e:
                self.stop()
                if "Address already in use" not in str(e) or attempt == PORT_RETRIES - 1:
                    raise

    def _answers(self):
        # "ready" is printed only after a successful bind, so an unrelated server
        # on a raced port cannot be mistaken for the origin.
        if "ready" not in log_tail(self.log, 200).splitlines():
            return False
        try:
            http_request(self.port, "GET", "/__ready", timeout=0.25)
            return True
        except OSError:
            return False


class Varnish(_Child):
    """varnishd -F (foreground, child in a new session) with tagpurge.vcl pointing at
    the origin; workdir/log/secret/vcl in <root>/<name>/."""

    name = "varnishd"

    def __init__(self, root, backend_port, name="v0", port=None, admin_port=None, start=True,
                 host="127.0.0.1"):
        """host: the listen address (tests of dns:// discovery use 127.0.0.N, one port)."""
        self.host = host
        self.dir = Path(root) / name
        self.name = f"varnishd {name}"
        self.backend_port = backend_port
        self.port, self.admin_port = port, admin_port
        self.workdir = str(self.dir / "work")
        self.secret = str(self.dir / "secret")
        self.vcl = str(self.dir / "tagpurge.vcl")
        self.varnishd = find_binary("varnishd")
        if start:
            self.start()

    @classmethod
    def attach(cls, info):
        self = cls.__new__(cls)
        self.port, self.admin_port, self.pid = int(info["port"]), int(info["admin_port"]), int(info["pid"])
        self.host = info.get("host", "127.0.0.1")
        self.workdir, self.secret = info["workdir"], info["secret"]
        self.log, self.vcl = info.get("log"), info.get("vcl")
        self.name = f"varnishd {info.get('name', '')}".strip()
        return self

    def info(self):
        return {"port": self.port, "admin_port": self.admin_port, "pid": self.pid,
                "workdir": self.workdir, "secret": self.secret, "log": self.log,
                "vcl": self.vcl, "name": self.dir.name, "host": self.host}

    # -- start

    def start(self):
        self.launch()
        self.wait_ready()

    def launch(self):
        """Spawn varnishd without waiting (VCL compilation overlaps other work)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.port is None or self.admin_port is None:
            self.port, self.admin_port = free_ports(2)
        self._write_vcl()
        Path(self.secret).write_text(os.urandom(16).hex() + "\n")
        os.chmod(self.secret, 0o600)
        self._spawn([self.varnishd, "-F", "-j", "none", "-n", self.workdir,
                     "-a", f"{self.host}:{self.port}", "-T", f"127.0.0.1:{self.admin_port}",
                     "-S", self.secret, "-f", self.vcl, "-s", "malloc,32m",
                     "-p", "default_grace=10"], self.dir / "varnishd.log")

    def wait_ready(self):
        """Poll until an HTTP request is answered; relaunch on a port clash."""
        for attempt in range(PORT_RETRIES):
            try:
                wait_for(self._answers, f"{self.name} on port {self.port}",
                         alive=self.alive, log=self.log)
                return
            except ServiceError as e:
                self.stop()
                msg = str(e)
                if "VMOD" in msg and ("xkey" in msg or "std" in msg):
                    raise MissingDependency(f"vmod xkey not usable (apt-get install varnish-modules)\n{msg}") from e
                if "already in use" not in msg or attempt == PORT_RETRIES - 1:
                    raise
                self.port = self.admin_port = None
                self.launch()

    def _write_vcl(self):
        text = VCL_TEMPLATE.read_text()
        if text.count(VCL_PORT_LINE) != 1:
            raise ServiceError(f"{VCL_TEMPLATE}: expected exactly one line {VCL_PORT_LINE!r}")
        Path(self.vcl).write_text(text.replace(VCL_PORT_LINE, f'.port = "{self.backend_port}";'))

    def _answers(self):
        # A bodyless PURGEKEYS is answered by VCL alone (400), no backend involved.
        # X-Varnish proves it is varnishd answering, not some other server that
        # grabbed the port.
        try:
            _, hdrs, _ = http_request(self.port, "PURGEKEYS", "/", timeout=0.25, host=self.host)
            return "x-varnish" in hdrs
        except OSError:
            return False

    # -- client

    def request(self, method, path, headers=None, source_ip=None, timeout=5.0):
        return http_request(self.port, method, path, headers, source_ip, timeout, self.host)

    def get(self, path, headers=None):
        """GET through this node -> (status, headers with lower-case keys, body str)."""
        return self.request("GET", path, headers)

    def adm(self, *args):
        """varnishadm against this node; returns stdout, raises on failure."""
        argv = [find_binary("varnishadm", ("/usr/bin",)), "-T", f"127.0.0.1:{self.admin_port}",
                "-S", self.secret] + list(args)
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if res.returncode != 0:
            raise ServiceError(f"varnishadm {' '.join(args)}: {res.stdout}{res.stderr}".strip())
        return res.stdout


# --------------------------------------------------------------------------
# MariaDB

def mariadb_binary(name):
    """Locate a MariaDB program: $<NAME> with '-' as '_' (MARIADBD, MARIADB_INSTALL_DB,
    MARIADB, MARIADB_ADMIN), PATH, /usr/sbin, /usr/bin."""
    var = name.upper().replace("-", "_")
    override = os.environ.get(var)
    if override:
        if os.access(override, os.X_OK) and Path(override).is_file():
            return override
        raise MissingDependency(f"${var}={override} is not an executable file")
    try:
        return find_binary(name, ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"))
    except MissingDependency:
        raise MissingDependency(f"{name} not found "
                                "(apt-get install mariadb-server mariadb-client)") from None


def mariadb_env():
    """Environment without MYSQL_* / MARIADB_* variables (MYSQL_PWD, MYSQL_HOST, ...)
    that could redirect or break the mariadb clients."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("MYSQL", "MARIADB_"))}


class MariaDB(_Child):
    """A private MariaDB server in <root>/my: datadir <root>/my/data (binlog files
    <datadir>/binlog.NNNNNN), unix socket <root>/my/sock, TCP 127.0.0.1:port, log
    <root>/my/error.log. mariadbd runs as a direct child in its own session (stop by
    PID). Settings: /work/shared/notes/services.md section 3.1; extra_args are
    appended last, so they override (e.g. "--binlog-format=MIXED", "--skip-log-bin",
    "--binlog-row-metadata=NO_LOG").

    Users (TCP only, --skip-name-resolve): repl@127.0.0.1 / replpw with REPLICATION
    SLAVE, REPLICATION CLIENT, SELECT ON *.*; norepl@127.0.0.1 / noreplpw with SELECT
    ON *.* only. root has no password on the socket. They are created with
    sql_log_bin=0, so the binlog holds only what tests write."""

    name = "mariadbd"
    host = "127.0.0.1"
    repl_user, repl_password = "repl", "replpw"
    norepl_user, norepl_password = "norepl", "noreplpw"

    USERS_SQL = (
        "SET SESSION sql_log_bin = 0;\n"
        "CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY 'replpw';\n"
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'repl'@'127.0.0.1';\n"
        "CREATE USER IF NOT EXISTS 'norepl'@'127.0.0.1' IDENTIFIED BY 'noreplpw';\n"
        "GRANT SELECT ON *.* TO 'norepl'@'127.0.0.1';\n")

    # small InnoDB, no doublewrite, lazy flushing: for a throwaway test server only
    INNODB_ARGS = ("--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
                   "--skip-innodb-doublewrite", "--innodb-flush-log-at-trx-commit=2")

    def __init__(self, root, port=None, start=True, extra_args=()):
        self.root = Path(root)
        self.dir = self.root / "my"
        self.datadir = str(self.dir / "data")
        self.socket = str(self.dir / "sock")
        self.pidfile = str(self.dir / "pid")
        self.log = str(self.dir / "error.log")
        self.port = port
        self.extra_args = tuple(extra_args)
        if len(self.socket.encode()) >= 100:
            raise ServiceError(f"unix socket path too long ({len(self.socket)} bytes): {self.socket}")
        self.mariadbd = mariadb_binary("mariadbd")
        if start:
            self.start()

    @classmethod
    def attach(cls, info):
        """Bind to a running server described by env.json's "mariadb" entry. If the
        server was restarted by another process since (new PID, same datadir), its
        pid file is believed."""
        self = cls.__new__(cls)
        self.port, self.pid = int(info["port"]), int(info["pid"])
        self.socket, self.datadir = info["socket"], info["datadir"]
        self.dir = Path(self.datadir).parent
        self.root = self.dir.parent
        self.pidfile = str(self.dir / "pid")
        self.log = info.get("log", str(self.dir / "error.log"))
        self.extra_args = tuple(info.get("extra_args", ()))
        self.mariadbd = None
        current = self._pidfile_pid()
        if current is not None and current != self.pid and self._is_ours(current):
            self.pid = current
        return self

    def info(self):
        return {"port": self.port, "host": self.host, "socket": self.socket,
                "datadir": self.datadir, "pid": self.pid, "log": self.log,
                "extra_args": list(self.extra_args)}

    # -- process control

    def start(self):
        """Initialize the datadir if needed, start mariadbd (retrying with a new port if
        a free port was raced away), wait for ping, create the test users."""
        fresh = not Path(self.datadir, "mysql").is_dir()
        if fresh:
            self._install_db()
        for attempt in range(PORT_RETRIES):
            if self.port is None or attempt > 0:
                self.port = free_ports(1)[0]
            try:
                self._start_once()
                break
            except ServiceError as e:
                if "Address already in use" not in str(e) or attempt == PORT_RETRIES - 1:
                    raise
        if fresh:
            try:
                self.sql(self.USERS_SQL)
            except BaseException:
                self.stop()
                raise

    def _user_args(self):
        return ["--user=root"] if is_root() else []

    def _install_db(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        install_log = self.dir / "install-db.log"
        # --no-defaults must be the first option, or /etc/mysql/my.cnf is read.
        argv = ([mariadb_binary("mariadb-install-db"), "--no-defaults"] + self._user_args() +
                [f"--datadir={self.datadir}", "--auth-root-authentication-method=normal",
                 "--skip-test-db"] + list(self.INNODB_ARGS) + [self._tmpdir_arg()])
        with open(install_log, "wb") as out:
            res = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=mariadb_env(), timeout=120)
        if res.returncode != 0:
            raise ServiceError(f"mariadb-install-db failed ({res.returncode})\n"
                               f"--- {install_log} ---\n{log_tail(install_log)}")

    def _argv(self):
        return ([self.mariadbd or mariadb_binary("mariadbd"), "--no-defaults"] + self._user_args() +
                [f"--datadir={self.datadir}", f"--port={self.port}", "--bind-address=127.0.0.1",
                 f"--socket={self.socket}", f"--pid-file={self.pidfile}",
                 f"--log-error={self.log}", f"--log-bin={self.datadir}/binlog",
                 "--binlog-format=ROW", "--binlog-row-image=FULL",
                 "--binlog-row-metadata=FULL", "--server-id=1", "--skip-name-resolve"] +
                list(self.INNODB_ARGS) + ["--sync-binlog=0", self._tmpdir_arg()] +
                list(self.extra_args))

    def _tmpdir_arg(self):
        """A private tmpdir: servers installed at the same time shared /tmp's
        #sql-temptable-* files, and a bootstrap failed on another's."""
        tmp = self.dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return f"--tmpdir={tmp}"

    def _start_once(self):
        if self.pid is not None and self.alive():
            raise ServiceError(f"mariadbd pid {self.pid} is still running")
        log_start = Path(self.log).stat().st_size if Path(self.log).exists() else 0
        self._spawn(self._argv(), self.log)
        try:
            wait_for(self._ping, f"mariadbd on port {self.port}", alive=self.alive, log=self.log)
        except ServiceError as e:
            self.stop()
            tail = Path(self.log).read_text(errors="replace")[log_start:]
            if "Address already in use" in tail:
                raise ServiceError(f"port {self.port}: Address already in use\n{e}") from e
            raise

    def _admin_argv(self):
        return [mariadb_binary("mariadb-admin"), "--no-defaults", "-uroot",
                f"--socket={self.socket}"]

    def _ping(self):
        try:
            res = subprocess.run(self._admin_argv() + ["--connect-timeout=2", "ping"],
                                 stdin=subprocess.DEVNULL, capture_output=True,
                                 env=mariadb_env(), timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return res.returncode == 0

    def stop(self):
        """SIGTERM (after SIGCONT), wait; SIGKILL after STOP_TIMEOUT_S."""
        if self.pid is not None and (self.popen is not None or self._is_ours(self.pid)):
            terminate([self.proc()])

    def restart(self, extra_args=None):
        """Stop (if running), then start again on the same port and datadir; with
        extra_args, replace the extra arguments (pass () to drop them)."""
        self.stop()
        if extra_args is not None:
            self.extra_args = tuple(extra_args)
        self._start_once()

    def kill9(self):
        """SIGKILL mariadbd and wait until it is gone (restart() recovers the datadir)."""
        if self.pid is None:
            return
        proc = self.proc()
        if proc.gone():
            return
        proc.send(signal.SIGKILL, to_group=True)
        wait_for(proc.gone, f"mariadbd pid {self.pid} SIGKILL", timeout=STOP_TIMEOUT_S, log=self.log)

    # -- replication (failover tests, the crash oracle)

    @classmethod
    def replica_of(cls, root, primary, server_id=2, extra_args=(), semi_sync=False):
        """A new server in <root>/my replicating primary by GTID (binlog on, with
        log_slave_updates, so it serves the primary's transactions under the same
        GTIDs once promoted): CHANGE MASTER TO ... master_use_gtid=slave_pos;
        START SLAVE. Returns once both replication threads run. It has its own
        test users (created unlogged on every server).

        semi_sync: semi-synchronous replication (enabled on both servers): a COMMIT
        on the primary returns only once this replica has the transaction, so a
        primary killed between commits loses nothing the replica lacks."""
        self = cls(root, extra_args=(f"--server-id={server_id}", "--log-slave-updates") +
                   tuple(extra_args))
        try:
            if semi_sync:
                primary.sql("SET GLOBAL rpl_semi_sync_master_enabled = ON, "
                            "rpl_semi_sync_master_timeout = 60000")
                self.sql("SET GLOBAL rpl_semi_sync_slave_enabled = ON")
            self.sql(f"CHANGE MASTER TO master_host='{primary.host}', master_port={primary.port}, "
                     f"master_user='{primary.repl_user}', "
                     f"master_password='{primary.repl_password}', master_use_gtid=slave_pos, "
                     "master_connect_retry=1; START SLAVE")
            wait_for(lambda: self.slave_status().get("Slave_IO_Running") == "Yes" and
                     self.slave_status().get("Slave_SQL_Running") == "Yes",
                     f"replica on port {self.port} to connect", alive=self.alive, log=self.log)
            if semi_sync:
                wait_for(lambda: primary.sql("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'")
                         .split("\t")[-1] == "1", f"replica on port {self.port} to be semi-sync",
                         alive=self.alive, log=self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def slave_status(self):
        """SHOW SLAVE STATUS as {column: value} ({} when not a replica)."""
        out = run_sql_client([mariadb_binary("mariadb"), "--no-defaults", "-uroot",
                              f"--socket={self.socket}", "-B"], "SHOW SLAVE STATUS",
                             mariadb_env(), "mariadb SHOW SLAVE STATUS")
        lines = out.split("\n")
        return dict(zip(lines[0].split("\t"), lines[1].split("\t"))) if len(lines) > 1 else {}

    def gtid(self, var="gtid_binlog_pos"):
        """@@gtid_binlog_pos (or another GTID variable, e.g. gtid_slave_pos) as
        {domain: seq}."""
        out = self.sql(f"SELECT @@{var}").strip()
        return {int(t.split("-")[0]): int(t.split("-")[2]) for t in out.split(",") if t}

    def wait_applied(self, want, timeout=30.0):
        """Wait until this replica applied every GTID of want ({domain: seq})."""
        def done():
            have = self.gtid("gtid_slave_pos")
            return all(have.get(d, -1) >= n for d, n in want.items())
        wait_for(done, f"replica on port {self.port} to apply {want}", timeout=timeout,
                 alive=self.alive, log=self.log)

    def promote(self):
        """Make this replica a primary: STOP SLAVE; RESET SLAVE ALL; read_only off."""
        self.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0")

    def _pidfile_pid(self):
        try:
            return int(Path(self.pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _is_ours(self, pid):
        """pid runs mariadbd on our datadir (guards against PID reuse)."""
        cmd = pid_cmdline(pid)
        return pid_alive(pid) and "mariadbd" in cmd and f"--datadir={self.datadir} " in cmd + " "

    # -- client

    def sql(self, query, db=None):
        """Run query (one or more statements; fed on stdin) with
        `mariadb --no-defaults -uroot --socket=... -N -B [--database=db]`; return stdout
        without its trailing newline (tab-separated columns, one row per line).
        Stops at the first error and raises ServiceError with stderr."""
        argv = [mariadb_binary("mariadb"), "--no-defaults", "-uroot", f"--socket={self.socket}",
                "-N", "-B", "--default-character-set=utf8mb4"]
        if db:
            argv.append(f"--database={db}")
        return run_sql_client(argv, query, mariadb_env(),
                              f"mariadb{' --database=' + db if db else ''}")


# --------------------------------------------------------------------------
# a whole environment

class Env:
    """root, pg, origin, varnish[], mariadb (None unless started) and the raw
    env.json dict (data)."""

    def __init__(self, root, pg=None, origin=None, varnish=None, data=None, mariadb=None):
        self.root, self.pg, self.origin = str(root), pg, origin
        self.varnish = varnish or []
        self.data = data
        self.mariadb = mariadb

    def to_json(self):
        out = {"root": self.root, "pg": self.pg.info(), "origin": self.origin.info(),
               "varnish": [v.info() for v in self.varnish]}
        if self.mariadb is not None:
            out["mariadb"] = self.mariadb.info()
        return out


def make_root():
    """Short temp root under /tmp (unix socket paths stay far below 108 bytes)."""
    root = tempfile.mkdtemp(prefix="tp.", dir="/tmp")
    os.chmod(root, 0o755)  # postgres (via runuser) must traverse it
    return root


def check_dependencies(n_varnish, mariadb=False):
    psql_binary(pg_bindir())
    if n_varnish > 0:
        find_binary("varnishd")
    if mariadb:
        for tool in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-admin"):
            mariadb_binary(tool)


class _Background:
    """Run fn() in a thread; result() joins and re-raises its exception."""

    def __init__(self, fn):
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), name="services-bg")
        self.thread.start()

    def _run(self, fn):
        try:
            fn()
        except BaseException as e:  # re-raised in the caller's thread
            self.error = e

    def result(self):
        self.thread.join()
        if self.error is not None:
            raise self.error


def start_all(root, n_varnish=2, mariadb=False):
    """Start origin, n Varnish nodes, PostgreSQL and (mariadb=True) MariaDB in root;
    stops what was started and re-raises on failure."""
    env = Env(root)
    bg = None
    try:
        if mariadb:
            env.mariadb = MariaDB(root, start=False)
            bg = _Background(env.mariadb.start)   # install-db + start while initdb runs
        env.origin = Origin(root)
        for i in range(n_varnish):
            env.varnish.append(Varnish(root, env.origin.port, name=f"v{i}", start=False))
        ports = free_ports(2 * n_varnish)
        for i, v in enumerate(env.varnish):
            v.port, v.admin_port = ports[2 * i], ports[2 * i + 1]
            v.launch()          # compile VCL while initdb runs
        env.pg = Postgres(root)
        for v in env.varnish:
            v.wait_ready()
        if bg is not None:
            bg.result()
        return env
    except BaseException:
        if bg is not None:
            bg.thread.join()    # never leave a mariadbd starting behind
        stop_all(env, remove_root=False)
        raise


def stop_all(env, remove_root=True):
    """Stop everything recorded in env (best effort, all of it, in parallel:
    PostgreSQL -m immediate, origin and Varnish by PID), then remove root."""
    errors = []
    pg_pid = None
    if env.pg is not None:
        try:
            pg_pid = env.pg.request_stop("immediate")
        except Exception as e:  # keep going: stop the rest
            errors.append(f"postgres: {e}")
    procs = [obj.proc() for obj in list(env.varnish) + [env.origin, getattr(env, "mariadb", None)]
             if obj is not None and obj.pid is not None and (obj.popen is not None or _is_ours(obj))]
    terminate(procs)
    if pg_pid is not None:
        try:
            env.pg.wait_stopped(pg_pid)
        except Exception as e:
            errors.append(f"postgres: {e}")
    if remove_root and env.root and Path(env.root).is_dir():
        shutil.rmtree(env.root, ignore_errors=True)
    if errors:
        raise ServiceError("; ".join(errors))


def _is_ours(obj):
    """Guard against PID reuse: the recorded PID must still run the expected program."""
    if isinstance(obj, MariaDB):
        if obj._is_ours(obj.pid):
            return True
        if pid_alive(obj.pid):
            sys.stderr.write(f"services: pid {obj.pid} is now {pid_cmdline(obj.pid)!r}, "
                             f"not mariadbd --datadir={obj.datadir}; not touching it\n")
        return False
    cmd = pid_cmdline(obj.pid)
    expected = "varnishd" if isinstance(obj, Varnish) else "origin.py"
    if not cmd:
        return False
    if expected not in cmd:
        sys.stderr.write(f"services: pid {obj.pid} is now {cmd!r}, not {expected}; not touching it\n")
        return False
    return True


def env_path(d):
    return Path(d) / "env.json"


def load_env(d):
    """Objects bound to the servers recorded in <d>/env.json by `services.py up`."""
    data = json.loads(env_path(d).read_text())
    return Env(data["root"],
               pg=Postgres.attach(data["pg"]),
               origin=Origin.attach(data["origin"]),
               varnish=[Varnish.attach(v) for v in data["varnish"]],
               data=data,
               mariadb=MariaDB.attach(data["mariadb"]) if data.get("mariadb") else None)


# --------------------------------------------------------------------------
# CLI

def cmd_up(args):
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    if env_path(d).exists():
        sys.stderr.write(f"services: stale {env_path(d)} found, tearing it down first\n")
        cmd_down(args)
    check_dependencies(args.varnish, args.mariadb)
    t0 = time.monotonic()
    root = make_root()
    try:
        env = start_all(root, args.varnish, mariadb=args.mariadb)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    tmp = env_path(d).with_suffix(".tmp")
    tmp.write_text(json.dumps(env.to_json(), indent=2) + "\n")
    tmp.replace(env_path(d))
    vports = ",".join(str(v.port) for v in env.varnish) or "-"
    my = f" mariadb={env.mariadb.port}" if env.mariadb is not None else ""
    print(f"services up in {time.monotonic() - t0:.2f}s: root={root} pg={env.pg.port} "
          f"origin={env.origin.port} varnish={vports}{my} env={env_path(d)}")
    return 0


def cmd_down(args):
    p = env_path(args.dir)
    if not p.exists():
        print(f"services down: no {p}, nothing to stop")
        return 0
    t0 = time.monotonic()
    env = load_env(args.dir)
    stop_all(env, remove_root=True)
    p.unlink()
    print(f"services down in {time.monotonic() - t0:.2f}s: removed {env.root}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="throwaway PostgreSQL + origin + Varnish "
                                             "(+ MariaDB) for tagpurge tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start servers, write DIR/env.json, exit leaving them running")
    up.add_argument("--dir", required=True)
    up.add_argument("--varnish", type=int, default=2, metavar="N", help="Varnish nodes (default 2)")
    up.add_argument("--mariadb", action="store_true",
                    help="also start a MariaDB with ROW binlog (env.json \"mariadb\")")
    down = sub.add_parser("down", help="stop the servers recorded in DIR/env.json")
    down.add_argument("--dir", required=True)
    args = ap.parse_args(argv)
    try:
        return cmd_up(args) if args.cmd == "up" else cmd_down(args)
    except MissingDependency as e:
        sys.stderr.write(f"services {args.cmd}: SKIP: {e}\n")
        return SKIP
    except (ServiceError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write(f"services {args.cmd}: FAILED: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
