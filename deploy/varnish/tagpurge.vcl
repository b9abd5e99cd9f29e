#
# tagpurge.vcl: Varnish 7.x (VCL 4.1) configuration for cache nodes purged by tagpurge.
#
# Requires varnish-modules (vmod xkey), e.g. Debian package "varnish-modules".
#
# tagpurge speaks one of two purge styles per sink; this VCL accepts both.
#
# 1. Surrogate keys (sink type "xkey"): fast hash lookup, preferred.
#
#      PURGEKEYS / HTTP/1.1            (PURGE works too, see below)
#      xkey-purge: product-1 category-3        hard purge: objects are gone
#      xkey-softpurge: product-1 category-3    soft purge: objects go stale, are
#                                              served once more within grace and
#                                              refetched in the background
#
#    Keys are separated by spaces (xkey also accepts commas). Send ONE such header
#    per request: VCL only sees the first of several same-name headers. If both
#    are present, xkey-softpurge wins.
#    Answer: 200 "Purged N objects" (N = objects purged or softpurged).
#
#    A PURGE request without xkey headers is a plain URL purge of the request URL
#    and Host (all variants): 200 "Purged". A PURGEKEYS without them is a 400.
#
#    The origin tags each response with a space-separated "xkey" header:
#      xkey: product-1 category-3 product-list
#
# 2. BAN (sink type "ban"): regex bans, kept lurker-friendly (obj.* only).
#
#      BAN / HTTP/1.1
#      X-Cache-Tags: (^|,)(product-1|category-3)(,|$)     required, regex
#      X-Host: ^www\.example\.com$                        optional, regex on Host
#      X-Url: ^/products/                                 optional, regex on URL
#      X-Content-Type: ^text/html                         optional, regex on Content-Type
#
#    Each optional header narrows the ban; it is ignored when absent or exactly
#    ".*" (match all), so an object without, say, a Content-Type still matches.
#    The ban added is
#      obj.http.X-Cache-Tags ~ <X-Cache-Tags> [&& obj.http.X-Host ~ <X-Host>]
#        [&& obj.http.X-Url ~ <X-Url>] [&& obj.http.content-type ~ <X-Content-Type>]
#    Answer: 200 "Ban added", 400 with the reason for an invalid expression/regex.
#
#    BAN with "X-Ban-All: 1" (and no other header needed) bans every object:
#    the "flush" tagpurge sends a node that was down or whose backlog
#    escalated. Answer: 200 "Flushed".
#
#    The origin tags each response with a comma-separated "X-Cache-Tags" header
#    (no spaces): X-Cache-Tags: product-1,category-3,product-list
#
#    Regex quoting (verified on Varnish 7.1.1): std.ban() splits its string on
#    whitespace and does NOT interpret double quotes or backslashes. A regex
#    wrapped in "..." keeps the quotes as literal characters and silently never
#    matches (the ban is still added and answered 200). So regexes are inserted
#    unquoted, and must not contain whitespace: write a space as \x20 or \s.
#    Regex headers that contain whitespace or are wrapped in "..." are refused
#    with 400 here, instead of adding a broken or never-matching ban.
#    (The varnishadm "ban" CLI command is different: it does strip "..." quotes.)
#
# Access: PURGE, PURGEKEYS and BAN are only accepted from the "purgers" ACL
# below (403 otherwise). EDIT THE ACL to list the hosts running tagpurge. Behind
# a load balancer using the PROXY protocol, client.ip is the original client.
#
# Debug headers: responses carry X-Cache: HIT|MISS. The xkey and X-Cache-Tags
# headers are delivered to clients too (the tests read them); production may
# unset them in vcl_deliver (see there).
#

vcl 4.1;

import xkey;
import std;

# The origin. Tests rewrite the port line below by text substitution: keep it
# exactly as it is.
backend default {
    .host = "127.0.0.1";
    .port = "8080";
}

# Hosts allowed to purge and ban. Edit for your deployment.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    # Never trust these internal headers from clients.
    unset req.http.x-tagpurge-n;
    unset req.http.x-tagpurge-ban;

    if (req.method == "PURGEKEYS" || req.method == "PURGE") {
        call tagpurge_purge;
    }
    if (req.method == "BAN") {
        call tagpurge_ban;
    }
    # Everything else: built-in vcl_recv.
}

# PURGEKEYS / PURGE: xkey purge, xkey softpurge or (PURGE only) URL purge.
sub tagpurge_purge {
    if (client.ip !~ purgers) {
        return (synth(403, "Forbidden"));
    }
    if (req.http.xkey-softpurge) {
        set req.http.x-tagpurge-n = xkey.softpurge(req.http.xkey-softpurge);
    } elsif (req.http.xkey-purge) {
        set req.http.x-tagpurge-n = xkey.purge(req.http.xkey-purge);
    } elsif (req.method == "PURGE") {
        # Plain URL purge of req.url + Host; vcl_purge answers 200 "Purged".
        return (purge);
    } else {
        return (synth(400, "xkey-purge or xkey-softpurge header required"));
    }
    return (synth(200, "Purged " + req.http.x-tagpurge-n + " objects"));
}

# BAN: lurker-friendly regex ban on obj.* headers only.
sub tagpurge_ban {
    if (client.ip !~ purgers) {
        return (synth(403, "Forbidden"));
    }
    # Flush: tagpurge's broad purge when a node was down or its backlog
    # escalated (sink option "flush": {"method": "BAN", "headers":
    # {"X-Ban-All": "1"}}).  Every object goes; lurker-friendly (obj.* only).
    if (req.http.X-Ban-All == "1") {
        if (std.ban("obj.status != 0")) {
            return (synth(200, "Flushed"));
        }
        return (synth(400, std.ban_error()));
    }
    if (!req.http.X-Cache-Tags) {
        return (synth(400, "X-Cache-Tags header required"));
    }
    # std.ban() splits on whitespace (see header comment).
    if (req.http.X-Cache-Tags ~ "\s" || req.http.X-Host ~ "\s" ||
        req.http.X-Url ~ "\s" || req.http.X-Content-Type ~ "\s") {
        return (synth(400, "Ban regex must not contain whitespace (use \x20)"));
    }
    # A "quoted" regex would keep its quotes and silently match nothing.
    if (req.http.X-Cache-Tags ~ {"^".*"$"} || req.http.X-Host ~ {"^".*"$"} ||
        req.http.X-Url ~ {"^".*"$"} || req.http.X-Content-Type ~ {"^".*"$"}) {
        return (synth(400, "Ban regex must not be wrapped in double quotes"));
    }

    set req.http.x-tagpurge-ban = "obj.http.X-Cache-Tags ~ " + req.http.X-Cache-Tags;
    if (req.http.X-Host && req.http.X-Host != ".*") {
        set req.http.x-tagpurge-ban = req.http.x-tagpurge-ban +
            " && obj.http.X-Host ~ " + req.http.X-Host;
    }
    if (req.http.X-Url && req.http.X-Url != ".*") {
        set req.http.x-tagpurge-ban = req.http.x-tagpurge-ban +
            " && obj.http.X-Url ~ " + req.http.X-Url;
    }
    if (req.http.X-Content-Type && req.http.X-Content-Type != ".*") {
        set req.http.x-tagpurge-ban = req.http.x-tagpurge-ban +
            " && obj.http.content-type ~ " + req.http.X-Content-Type;
    }

    if (std.ban(req.http.x-tagpurge-ban)) {
        return (synth(200, "Ban added"));
    }
    return (synth(400, std.ban_error()));
}

sub vcl_backend_response {
    # Copies of the request URL and Host on the object, so URL/host bans can use
    # obj.* and be processed by the ban lurker (req.* bans cannot).
    set beresp.http.X-Url = bereq.url;
    set beresp.http.X-Host = bereq.http.host;
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    # Internal ban helpers are never shown to clients.
    unset resp.http.X-Url;
    unset resp.http.X-Host;
    # The tag headers are kept because the tests read them. Production may hide
    # them from clients:
    #   unset resp.http.xkey;
    #   unset resp.http.X-Cache-Tags;
}
