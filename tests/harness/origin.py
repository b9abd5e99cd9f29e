#!/usr/bin/env python3
"""Test origin for tagpurge integration tests (stdlib only).

Usage: origin.py PORT

GET /t/<seg1>/<seg2>/...[?query]
    tags = percent-decoded non-empty path segments after /t/
    200, headers:
        Cache-Control: public, max-age=3600
        xkey: <tags joined by one space>        (for vmod xkey)
        X-Cache-Tags: <tags joined by ','>      (for BAN)
        Content-Type: text/plain
        X-Backend-Count: N
    body: "path=<path> fetch=N\n"
    N counts fetches of the full request target (path + query), from 1.
    A purge is proven by N increasing on the next GET through Varnish.
Anything else: 404.

Prints "ready" once listening, nothing else; runs until killed.
"""

import http.server
import socket
import sys
import threading
import urllib.parse

_counts = {}
_lock = threading.Lock()


def next_count(key):
    """Increment and return the fetch counter for one request target."""
    with _lock:
        _counts[key] = _counts.get(key, 0) + 1
        return _counts[key]


def tags_for(path):
    """Return the tag list for /t/... paths, or None for anything else."""
    if not path.startswith("/t/"):
        return None
    return [urllib.parse.unquote(seg) for seg in path[2:].split("/") if seg]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out as two writes: without this, Nagle plus the
        # peer's delayed ACK add ~40 ms to every fetch on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        tags = tags_for(path)
        if tags is None:
            self._send(404, b"not found\n", {})
            return
        n = next_count(self.path)
        body = f"path={self.path} fetch={n}\n".encode()
        headers = {
            "Cache-Control": "public, max-age=3600",
            "xkey": " ".join(tags),
            "X-Cache-Tags": ",".join(tags),
            "X-Backend-Count": str(n),
        }
        self._send(200, body, headers)

    def _send(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv):
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: origin.py PORT\n")
        return 2
    srv = Server(("127.0.0.1", int(argv[1])), Handler)
    print("ready", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
