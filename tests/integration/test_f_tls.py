#!/usr/bin/env python3
"""(f) TLS to HQ with a client certificate; a wrong CA is refused and reported.

Covers: hq.tls {ca, cert, key}. Certificates are generated here with
openssl: a CA, a server cert for 127.0.0.1 (CN and SAN), client certs for
shelfd and for the HQ subscriber, and an unrelated CA. The broker has only
a TLS listener that requires client certificates. 1) shelfd with the right
CA and its client cert: `shelfctl status` says connected and 500 sales
arrive at HQ (whose subscriber connects over TLS with its own cert).
2) shelfd with the wrong CA: within ~10 s `shelfctl status --json` shows
hq.state not "connected" and a non-empty hq.last_error, it never connects,
and it keeps running (sales buffer in the outbox).
"""
import time

import harness as H

N = 500


def run(ctx):
    certs = H.make_certs(ctx, ctx.path("certs"))
    broker = H.Broker(ctx, tls=certs["server"])
    broker.start()
    hq = H.HQ(ctx, broker, tls=certs["hq"])
    hq.start()
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=N, rate=0, stall_ms=10000)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link, tls=certs["client"])
    rc, out = d.check_config()
    H.check(rc == 0, "--check-config rejected the TLS config (rc %d): %s" % (rc, out))
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 15,
                 "hq.state connected over TLS", interval=0.2)
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    sim.resume()
    hq.wait_receipts(range(1, N + 1), timeout=30, what="sales over TLS")
    rc = d.stop()
    H.check(rc == 0, "shelfd (TLS) exited %r on SIGTERM" % rc)
    sim.stop()
    c = hq.poll()
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    H.check(c.gaps() == 0, "seq gaps at HQ: %s" % c.gap_ranges())
    msgs_ok = c.messages

    # 2. the wrong CA: the server's certificate cannot be verified
    link2 = ctx.path("till2")
    sim2 = H.PosSim(ctx, link2, name="pos2", start=N + 1, count=50, rate=0, stall_ms=10000)
    sim2.start()
    wrong = dict(certs["client"], ca=certs["wrong_ca"])
    d2 = H.Shelfd(ctx, broker.port, name="shelfd-wrongca", link=link2, tls=wrong)
    d2.start()
    sim2.resume()
    t0 = time.monotonic()
    states = set()

    def refused():
        st = d2.status()
        states.add(st["hq"]["state"])
        return st["hq"]["state"] != "connected" and st["hq"].get("last_error") and st
    st = H.wait_until(refused, 10, "hq.state not connected with a non-empty hq.last_error "
                      "(wrong CA)", interval=0.2)
    seen_s = time.monotonic() - t0
    while time.monotonic() - t0 < 6:      # and it never gets through
        s2 = d2.status()
        states.add(s2["hq"]["state"])
        time.sleep(0.25)
    H.check("connected" not in states, "shelfd with the wrong CA reached 'connected'")
    H.check(d2.alive(), "shelfd with the wrong CA exited:\n" + d2.tail())
    time.sleep(0.5)
    c = hq.poll()
    H.check(c.messages == msgs_ok, "events arrived at HQ through a connection with the wrong CA")
    ob = d2.ctl("outbox")[1]
    rc = d2.stop()
    sim2.stop()
    H.check(rc == 0, "shelfd (wrong CA) exited %r on SIGTERM" % rc)
    return ("TLS with client cert: %d/%d sales arrived; wrong CA: hq.state %r after %.1fs, "
            "last_error %r, states seen %s, outbox depth %r"
            % (len(c.receipt_numbers()), N, st["hq"]["state"], seen_s,
               st["hq"]["last_error"][:80], sorted(states), ob.get("depth")))


if __name__ == "__main__":
    H.main(run, __doc__)
