#!/usr/bin/env python3
"""A dead node releases MariaDB's binlog after flush_after_down_s (dead_node.py):
the checkpoint file passes commits once the node is down and marked, the mark
survives SIGKILL, the node's first request when back is the flush (variant
flush) or the fallback tags (broad).  TP_DEAD_VARIANT=NAME runs one variant."""
import sys

import dead_node
import tpmy


def retention(c):
    """Binlog bytes behind the checkpoint (same file), else the file names."""
    (f, pos), (cf, cpos) = c.position(), c.confirmed()
    return pos - cpos if f == cf else f"{cf}:{cpos}..{f}:{pos}"


if __name__ == "__main__":
    sys.exit(dead_node.run(tpmy.run, "my_dead", retention, ["flush", "broad"]))
