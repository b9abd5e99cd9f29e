#!/usr/bin/env python3
"""Golden test of `tagpurge replay` over a recorded binlog fixture.

<case>/case.json    {"binlogs": [fixture file names], "truncate": optional byte count,
                     "zero_row_log_pos": optional, true = rewrite rows events' end_log_pos
                     to 0 as MariaDB 11.4 writes them (CRC32 recomputed),
                     "positional": optional, true = replay --positional (columns of a
                     TABLE_MAP without names are @1..@n),
                     "checks": optional, what the case shows and against which oracle}
<case>/config.json  the mapping (sources and sinks empty)
<case>/expected     replay's stdout (stderr must log no error), checked by hand against the
                    fixture's oracle
                    (Oracle mysqlbinlog output or the source project's assertions:
                    ../shared/fixtures/mysql/*.expected.json)
Usage: run_case.py TAGPURGE CASE_DIR [FIXTURES_DIR] (default $TAGPURGE_FIXTURES, else
../shared/fixtures/mysql beside the repository).  Exit 77 when the fixtures are absent.
TAGPURGE_EMULATOR (space-separated), when set, runs tagpurge through it (cross builds).
"""
import json
import os
import shlex
import shutil
import struct
import zlib
import subprocess
import sys
import tempfile
from pathlib import Path


ROWS_EVENTS = {23, 24, 25, 30, 31, 32, 39}


def zero_row_log_pos(data: bytes) -> bytes:
    """MariaDB 11.4 writes end_log_pos 0 in rows events: positions must be computed."""
    out, off = bytearray(data[:4]), 4
    while off + 19 <= len(data):
        size = struct.unpack_from("<I", data, off + 9)[0]
        ev = bytearray(data[off:off + size])
        if ev[4] in ROWS_EVENTS:
            ev[13:17] = b"\0\0\0\0"
            ev[-4:] = struct.pack("<I", zlib.crc32(bytes(ev[:-4])))
        out += ev
        off += size
    return bytes(out)


def main() -> int:
    binary, case = sys.argv[1], Path(sys.argv[2])
    # The same folder the unit tests read (tests/unit/fixtures.h): argument, $TAGPURGE_FIXTURES,
    # else <repository>/../shared/fixtures/mysql.
    fixtures = Path(sys.argv[3]) if len(sys.argv) > 3 else \
        Path(os.environ.get("TAGPURGE_FIXTURES") or
             Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "mysql")
    if not fixtures.is_dir():
        print(f"skip: no fixtures at {fixtures}")
        return 77
    spec = json.loads((case / "case.json").read_text())
    tmp = Path(tempfile.mkdtemp(prefix="tp-replay-"))
    try:
        files = []
        for name in spec["binlogs"]:
            data = (fixtures / name).read_bytes()
            if spec.get("zero_row_log_pos"):
                data = zero_row_log_pos(data)
            if "truncate" in spec:
                data = data[:spec["truncate"]]  # a file cut before its COMMIT
            (tmp / name).write_bytes(data)
            files.append(str(tmp / name))
        emulator = shlex.split(os.environ.get("TAGPURGE_EMULATOR", ""))
        args = emulator + [binary, "replay", "-c", str(case / "config.json")]
        if spec.get("positional"):
            args.append("--positional")
        out = subprocess.run(args + ["--binlog"] + files, capture_output=True, text=True,
                             timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    expected = (case / "expected").read_text()
    # Every event must decode: a malformed one is logged as an error and broadens.
    if out.returncode != 0 or out.stdout != expected or "[error]" in out.stderr:
        print(f"exit {out.returncode}\n--- expected\n{expected}--- got\n{out.stdout}"
              f"--- stderr\n{out.stderr}")
        return 1
    print(out.stdout + out.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
