#!/usr/bin/env python3
"""Check that a benchmark run produced its report: results.md with the goals,
the machine and every figure's table holding at least one measured row, and
the PNG plots. Not a performance check. Exit 0 complete, 1 not.

    check_results.py DIR
"""
import sys
from pathlib import Path

from report import SECTIONS

PNGS = ("throughput.png", "latency.png", "fanout_coalescing.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def section_rows(md, title):
    """Table rows (after the header and separator) between title and the next '## '."""
    body = md.split(title, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    return [r for r in rows[1:] if "failed:" not in r]


def problems(out):
    md_path = out / "results.md"
    if not md_path.is_file():
        return [f"{md_path} is missing"]
    md = md_path.read_text()
    found = []
    for title in ("## Goals", "## Machine") + SECTIONS:
        if title not in md:
            found.append(f"results.md has no section {title!r}")
        elif not section_rows(md, title):
            found.append(f"results.md: {title!r} has no measured row")
    for name in PNGS:
        p = out / name
        if not p.is_file() or not p.read_bytes().startswith(PNG_MAGIC):
            found.append(f"{p} is missing or not a PNG")
    return found


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    found = problems(Path(sys.argv[1]))
    for p in found:
        print(f"check_results: {p}")
    if not found:
        print(f"check_results: {sys.argv[1]}: every section and plot is there")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
