#!/usr/bin/env python3
"""A purge-recording stub node, for what a real cache cannot give a test: the
exact bytes of each request, and faults on demand.

Usage: capture.py PORT LOGFILE [--host ADDR] [--fail N] [--status CODE]
                  [--retry-after S] [--delay-ms D]
                  [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]

Every request head (and body, by Content-Length) is appended to LOGFILE as one
JSON line {"raw": "<latin-1 text>", "t_recv": <unix time>, "t_resp": <unix
time>, "status": CODE}.  The first N requests (--fail) are answered with
--status (default 429) and, when given, "Retry-After: S"; later ones with 200.
--delay-ms holds every answer that long (a slow node).  Keep-alive; runs until
killed.

TLS: --tls-cert/--tls-key serve HTTPS with that certificate (PEM; the cert file
may hold the chain).  --tls-client-ca also requires a client certificate signed
by that CA: a client without one, or with another, fails the handshake.  Then
each record also holds "peer": the client certificate's subject CN, or null.
Every failed handshake is appended to LOGFILE.tls as {"t": <unix time>,
"error": "<text>"} (never to LOGFILE: no request was read).
"""
import argparse
import json
import socketserver
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def read_request(self):
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65537)
            if not line:
                return None
            head += line
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return head + (self.rfile.read(length) if length else b"")

    def setup(self):
        self.tls_ok = True
        if isinstance(self.request, ssl.SSLSocket):
            # Handshake here, in the connection's thread, not in the accept loop.
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.tls_ok = False
                with LOCK, open(self.server.args.logfile + ".tls", "a") as f:
                    f.write(json.dumps({"t": time.time(), "error": str(e)}) + "\n")
        super().setup()

    def peer(self):
        cert = self.request.getpeercert() if isinstance(self.request, ssl.SSLSocket) else None
        for rdn in (cert or {}).get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    def handle(self):
        srv = self.server
        if not self.tls_ok:
            return
        while True:
            raw = self.read_request()
            if raw is None:
                return
            t_recv = time.time()
            with LOCK:
                srv.seen += 1
                failing = srv.seen <= srv.args.fail
            if srv.args.delay_ms:
                time.sleep(srv.args.delay_ms / 1000.0)
            status = srv.args.status if failing else 200
            extra = ""
            if failing and srv.args.retry_after is not None:
                extra = f"Retry-After: {srv.args.retry_after}\r\n"
            reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}.get(
                status, "Error")
            t_resp = time.time()
            rec = {"raw": raw.decode("latin-1"), "t_recv": t_recv, "t_resp": t_resp,
                   "status": status}
            if srv.args.tls_client_ca:
                rec["peer"] = self.peer()
            with LOCK, open(srv.args.logfile, "a") as f:
                f.write(json.dumps(rec) + "\n")
            self.wfile.write(f"HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\n\r\n"
                             .encode())
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    tls = None  # an ssl.SSLContext: HTTPS

    def handle_error(self, request, client_address):
        # A client that went away mid-request (killed, timed out) is routine for
        # a node; anything else is printed as usual.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("logfile")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--status", type=int, default=429)
    ap.add_argument("--retry-after")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca")
    args = ap.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None) or (
            args.tls_client_ca and not args.tls_cert):
        ap.error("--tls-cert and --tls-key go together; --tls-client-ca needs them")
    srv = Server((args.host, args.port), Handler)
    srv.args = args
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.load_verify_locations(args.tls_client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.tls = ctx
    srv.seen = 0
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
