#!/usr/bin/env python3
"""A dead node releases MariaDB's binlog after flush_after_down_s (dead_node.py):
the checkpoint file passes commits once the node is down and marked, the mark
survives SIGKILL, the node's first request when back is the flush (variant
flush) or the fallback tags (broad).  TP_DEAD_VARIANT=NAME runs one variant."""
import os
import sys

import dead_node
import tpmy


def retention(c):
    """Binlog bytes behind the checkpoint (same file), else the file names."""
    (f, pos), (cf, cpos) = c.position(), c.confirmed()
    return pos - cpos if f == cf else f"{cf}:{cpos}..{f}:{pos}"


def main():
    variants = [os.environ.get("TP_DEAD_VARIANT")] if os.environ.get("TP_DEAD_VARIANT") else [
        "flush", "broad"]
    for v in variants:
        rc = tpmy.run(f"my_dead_{v}", lambda c, v=v: dead_node.scenario(c, v, retention))
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
