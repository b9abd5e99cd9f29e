#!/usr/bin/env python3
"""Run `tagpurge check` on one config case.

valid/<case>/config.json   must exit 0 (and print every line of
                           valid/<case>/expected_warnings, if present)
invalid/<case>/config.json must exit 2, and stderr must contain the text of
                           invalid/<case>/expected (with {dir} replaced by
                           the case folder): file:line:column and message.
TAGPURGE_EMULATOR (space-separated), when set, runs tagpurge through it (cross builds).
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path


def main() -> int:
    binary, case = sys.argv[1], Path(sys.argv[2])
    cfg = case / "config.json"
    emulator = shlex.split(os.environ.get("TAGPURGE_EMULATOR", ""))
    proc = subprocess.run(emulator + [binary, "check", "-c", str(cfg)], capture_output=True,
                          text=True, timeout=20)
    kind = case.parent.name
    if kind == "valid":
        if proc.returncode != 0:
            print(f"expected exit 0, got {proc.returncode}: {proc.stderr}")
            return 1
        warnings = case / "expected_warnings"
        if warnings.exists():
            for line in warnings.read_text().splitlines():
                want = line.strip().replace("{dir}", str(case))
                if want and want not in proc.stderr:
                    print(f"missing warning: {want}\n  got: {proc.stderr}")
                    return 1
        print(proc.stdout + proc.stderr)
        return 0
    expected = (case / "expected").read_text().strip().replace("{dir}", str(case))
    if proc.returncode != 2:
        print(f"expected exit 2, got {proc.returncode}: {proc.stdout}{proc.stderr}")
        return 1
    if expected not in proc.stderr:
        print(f"stderr lacks the expected error\n  expected: {expected}\n  got:      {proc.stderr}")
        return 1
    print(f"ok: {proc.stderr.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
