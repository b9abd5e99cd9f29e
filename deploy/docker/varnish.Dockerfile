# Varnish 7.1 + varnish-modules (vmod xkey) from Debian with deploy/varnish/tagpurge.vcl, for
# compose.yml. It also carries the test origin (tests/harness/origin.py: pages tagged by their
# path, /t/product-1/category-3), which compose's "origin" service runs in this container's
# network namespace, so the VCL's backend (127.0.0.1:8080) stays exactly as shipped.
# Build context: the repository root.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends varnish varnish-modules python3 \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/varnish/tagpurge.vcl /etc/varnish/tagpurge.vcl
COPY tests/harness/origin.py /usr/local/bin/tagpurge-demo-origin
# The "purgers" ACL admits loopback only; tagpurge purges from its own container. Compose
# networks use private ranges: admit those (a demo setting; list your tagpurge hosts in
# production). Then compile the VCL, so a broken edit fails here.
RUN sed -i '/^acl purgers {$/a\    "10.0.0.0"/8;\n    "172.16.0.0"/12;\n    "192.168.0.0"/16;' \
        /etc/varnish/tagpurge.vcl \
 && grep -q '"172.16.0.0"/12;' /etc/varnish/tagpurge.vcl \
 && { varnishd -C -n /tmp/varnish-check -f /etc/varnish/tagpurge.vcl >/tmp/vcl.log 2>&1 \
      || { cat /tmp/vcl.log; exit 1; }; } \
 && rm -rf /tmp/varnish-check /tmp/vcl.log
EXPOSE 80
CMD ["varnishd", "-F", "-a", ":80", "-f", "/etc/varnish/tagpurge.vcl", "-s", "malloc,256m"]
