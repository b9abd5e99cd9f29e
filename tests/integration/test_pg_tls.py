#!/usr/bin/env python3
"""TLS to the nodes: certificates are verified by default, "ca_file" names the
CA to trust, client certificates are optional, "tls_verify": false is the
escape hatch.

Certificates are made with the openssl CLI at test time: a CA, a server cert
for 127.0.0.1 (SAN IP:127.0.0.1, DNS:localhost) and a client cert, both signed
by it, and a self-signed server cert.  Every sink has its own HTTPS stub
(capture.py --tls-cert/--tls-key, --tls-client-ca to require a client cert).

A sink that cannot deliver holds the slot back, so each negative case runs in
its own tagpurge config next to a good sink (which proves the commit was
streamed and delivered), and is killed before the next run:
 1. "noca": no ca_file -> default verification fails: no request reaches its
    stub, a certificate error is logged, nothing is confirmed past the commit.
 2. "nocert": ca_file but no client cert, against a stub that requires one ->
    the handshake fails, same checks.
 3. "ca" (ca_file), "mtls" (ca_file + client_cert + client_key) and
    "noverify" ("tls_verify": false, self-signed stub, no ca_file) deliver;
    the slot is confirmed.
"""
import json
import subprocess
import sys
import time

import tp

NEGATIVE_WINDOW_S = 2.0


def TAGS(i):
    """The tags of INSERT INTO products VALUES (i, category i, ...)."""
    return {f"product-{i}", f"category-{i}", "product-list"}


def openssl(cwd, *args):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    tp.check(r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}")


def make_certs(d):
    """ca.crt; server.{crt,key} and client.{crt,key} signed by it; self.{crt,key}."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(d, "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=tagpurge test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                  "extendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        openssl(d, "req", "-new", *key, "-keyout", f"{who}.key", "-out", f"{who}.csr",
                "-subj", f"/CN=tagpurge test {who}")
        openssl(d, "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{who}.ext", "-out", f"{who}.crt")
    openssl(d, "req", "-x509", *key, "-keyout", "self.key", "-out", "self.crt", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")


def https(stub):
    return f"https://127.0.0.1:{stub.port}"


def purges(stub):
    """The tag sets of the xkey purges the stub recorded."""
    return [set(h.get("xkey-purge", "").split()) for _, h, _, _ in stub.requests()]


def delivered(stub, i):
    """The purge of product i reached the stub (maybe coalesced with others)."""
    return any(TAGS(i) <= p for p in purges(stub))


def handshake_failures(stub):
    p = stub.log.with_name(stub.log.name + ".tls")
    return [json.loads(ln) for ln in p.read_text().splitlines()] if p.exists() else []


def sink_failures(c, name):
    return [ln for ln in c.log.read_text().splitlines()
            if f"sink {name}: " in ln and "purge failed" in ln]


def negative_run(c, bad, bad_stub, good, good_stub, i, what):
    """One tagpurge run with a good and a bad sink: the bad one holds the slot back."""
    c.config([good, bad])
    c.start()
    end = c.commit(f"INSERT INTO products(id, category_id, name) VALUES ({i}, {i}, 'x')")
    tp.wait(lambda: delivered(good_stub, i), f"sink {good['name']} to deliver product-{i}",
            10)
    tp.wait(lambda: sink_failures(c, bad["name"]), f"a failed attempt of sink {bad['name']}", 5)
    tp.hold(lambda: c.confirmed() < end,
            lambda: f"slot confirmed {tp.fmt_lsn(c.confirmed())} past the commit at "
            f"{tp.fmt_lsn(end)} that sink {bad['name']} ({what}) never delivered",
            NEGATIVE_WINDOW_S, step=0.1)
    tp.check(bad_stub.requests() == [],
             f"stub of sink {bad['name']} ({what}) got requests: {bad_stub.requests()}")
    tp.check(handshake_failures(bad_stub), f"stub of sink {bad['name']} saw no failed handshake")
    c.kill()
    return sink_failures(c, bad["name"])


def body(c):
    d = c.tmp
    make_certs(d)
    srv = ["--tls-cert", d / "server.crt", "--tls-key", d / "server.key"]
    mtls = srv + ["--tls-client-ca", d / "ca.crt"]
    st = {"ca": c.stub("ca", *srv), "noca": c.stub("noca", *srv),
          "mtls": c.stub("mtls", *mtls), "nocert": c.stub("nocert", *mtls),
          "noverify": c.stub("noverify", "--tls-cert", d / "self.crt", "--tls-key",
                             d / "self.key")}
    ca = str(d / "ca.crt")
    sinks = {
        "ca": {"ca_file": ca},
        "noca": {},  # the system store does not know our CA
        "mtls": {"ca_file": ca, "client_cert": str(d / "client.crt"),
                 "client_key": str(d / "client.key")},
        "nocert": {"ca_file": ca},
        # The escape hatch for self-signed nodes: no verification at all.
        "noverify": {"tls_verify": False},
    }
    sinks = {n: {"name": n, "type": "xkey", "nodes": [https(st[n])], **o}
             for n, o in sinks.items()}
    t0 = time.monotonic()

    # 1. Verification is on by default.
    errs = negative_run(c, sinks["noca"], st["noca"], sinks["ca"], st["ca"], 1, "no ca_file")
    tp.check(any("certificate" in e.lower() for e in errs),
             f"no certificate error logged for sink noca: {errs[:2]}")
    # At least one refusal names the unknown CA (a retry cut short by the kill may
    # end another way, e.g. an unexpected EOF).
    fails = handshake_failures(st["noca"])
    tp.check(any("unknown ca" in f["error"].lower() for f in fails), f"stub noca: {fails}")

    # 2. A stub that requires a client certificate refuses a client without one.
    negative_run(c, sinks["nocert"], st["nocert"], sinks["ca"], st["ca"], 2, "no client cert")
    tp.check(any("certificate" in f["error"].lower() for f in handshake_failures(st["nocert"])),
             f"stub nocert: {handshake_failures(st['nocert'])[:2]}")

    # 3. ca_file, a client certificate, tls_verify false: all delivered and confirmed,
    #    the two transactions held back above included.
    c.config([sinks["ca"], sinks["mtls"], sinks["noverify"]])
    c.start()
    end = c.commit("INSERT INTO products(id, category_id, name) VALUES (3, 3, 'x')")
    c.wait_confirmed(end, timeout=10)
    for n in ("ca", "mtls", "noverify"):
        for i in (1, 2, 3):
            tp.check(delivered(st[n], i), f"sink {n}: no purge of product-{i}: {purges(st[n])}")
        tp.check(all(r[1].get("host") == f"127.0.0.1:{st[n].port}" for r in st[n].requests()),
                 f"sink {n}: Host headers")
    tp.check({r[3]["peer"] for r in st["mtls"].requests()} == {"tagpurge test client"},
             f"stub mtls: client certificates {[r[3]['peer'] for r in st['mtls'].requests()]}")
    tp.check(handshake_failures(st["ca"]) == [] and handshake_failures(st["mtls"]) == [],
             "failed handshakes with a good configuration")
    for n in ("noca", "nocert"):
        tp.check(st[n].requests() == [], f"stub {n} got requests")
    c.stop()
    print(f"TLS cases in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    sys.exit(tp.run("pg_tls", body))
