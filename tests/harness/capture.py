#!/usr/bin/env python3
"""A purge-recording stub node: the one thing a real cache cannot give a test
is the exact bytes of each request.  Usage: capture.py PORT LOGFILE

Every request head (and body, by Content-Length) is appended to LOGFILE as one
JSON line {"raw": "<latin-1 text>"}; the answer is 200 with an empty body on a
keep-alive connection.  Runs until killed.
"""
import json
import socketserver
import sys
import threading

LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline(65537)
                if not line:
                    return
                head += line
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = self.rfile.read(length) if length else b""
            with LOCK, open(self.server.logfile, "a") as f:
                f.write(json.dumps({"raw": (head + body).decode("latin-1")}) + "\n")
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    port, logfile = int(sys.argv[1]), sys.argv[2]
    srv = Server(("127.0.0.1", port), Handler)
    srv.logfile = logfile
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
