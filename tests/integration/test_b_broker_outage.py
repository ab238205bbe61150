#!/usr/bin/env python3
"""(b) The broker stops for ~7 s while sales keep coming, then restarts on the same port.

Covers: the WAN/HQ going away under load and coming back. shelfd keeps
ingesting into its outbox while it cannot publish, reconnects with backoff
and delivers everything: every receipt the POS wrote arrives at HQ (after
dedupe), none missing; duplicates and misordered are reported (at-least-once
allows duplicates after a reconnect). `shelfctl status` shows hq.state
leaving "connected" during the outage and coming back to "connected" after
it, the outbox depth growing and a last_error while HQ is away. The HQ
subscriber has a persistent session on a broker with persistence, so HQ
itself loses nothing while the broker is down or restarting.
"""
import time

import harness as H

RATE = 250        # sales/s
COUNT = 4000      # 16 s of sales
OUTAGE_AT = 4.0   # s after the first sale
OUTAGE = 7.0      # s


def run(ctx):
    broker = H.Broker(ctx, persistence=True)
    broker.start()
    hq = H.HQ(ctx, broker, persistent=True)
    hq.start()
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=COUNT, rate=RATE, refund_every=40, stall_ms=5000)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link)
    d.start()
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "hq.state connected")

    states = []   # (t, hq.state, outbox depth)

    def sample():
        st = d.status()
        states.append((time.monotonic() - t0, st["hq"]["state"], st["outbox"]["depth"]))
        hq.poll()
        return st

    t0 = time.monotonic()
    sim.resume()
    while time.monotonic() - t0 < OUTAGE_AT:
        sample()
        time.sleep(0.2)
    before = len(hq.poll().receipt_numbers())
    ctx.log("stopping the broker (%d receipts at HQ so far)", before)
    broker.stop()
    t_down = time.monotonic()
    down_states = set()
    down_error = ""
    max_depth = 0
    while time.monotonic() - t_down < OUTAGE:
        st = sample()
        down_states.add(st["hq"]["state"])
        down_error = st["hq"].get("last_error") or down_error
        max_depth = max(max_depth, st["outbox"]["depth"])
        time.sleep(0.2)
    H.check(d.alive(), "shelfd exited while the broker was down:\n" + d.tail())
    ctx.log("restarting the broker on port %d (states seen while down: %s, max depth %d)",
            broker.port, sorted(down_states), max_depth)
    broker.start()
    t_up = time.monotonic()

    def reconnected():
        st = sample()
        return st["hq"]["state"] == "connected"
    H.wait_until(reconnected, 15, "hq.state connected again after the broker restart",
                 interval=0.2)
    reconnect_s = time.monotonic() - t_up
    hq.wait_receipts(range(1, COUNT + 1), timeout=60, what="sales after the outage")
    hq.settle(1.0)
    H.wait_until(lambda: d.ctl("outbox")[1].get("depth") == 0, 10, "shelfctl outbox depth 0")
    res = sim.stop()
    rc = d.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)

    c = hq.poll()
    H.check(res["written"] == COUNT, "pos-sim wrote %d of %d whole" % (res["written"], COUNT))
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    H.check("connected" not in down_states,
            "hq.state stayed 'connected' with the broker down: %s" % sorted(down_states))
    H.check(down_states & {"disconnected", "connecting", "error"},
            "hq.state during the outage: %s (want disconnected/connecting)" % sorted(down_states))
    H.check(max_depth > 0, "outbox depth never grew while HQ was away")
    H.check(down_error, "hq.last_error stayed empty during the outage")
    dbl = c.double_committed()
    H.check(not dbl, "receipts committed under several seqs: %s" % dbl[:5])
    H.check(c.unsorted_msgs == 0, "%d messages with seqs not ascending" % c.unsorted_msgs)
    H.check(c.gaps() == 0, "seq gaps at HQ: %s" % c.gap_ranges())
    online = [s for s in c.status if s[1].get("state") == "online"]
    ctx.log("status messages at HQ: %s", [s[1].get("state") for s in c.status])
    H.check(len(online) >= 2, "status 'online' published %d times (want again after reconnect)"
            % len(online))
    trans = []
    for _, s, _ in states:
        if not trans or trans[-1] != s:
            trans.append(s)
    return ("%d/%d receipts after a %.0fs outage, 0 missing, %d duplicates, %d misordered; "
            "hq.state %s (last_error %r); outbox peaked at %d; reconnected %.1fs after the "
            "broker came back" % (len(c.receipt_numbers()), COUNT, OUTAGE, c.duplicates(),
                                  c.misordered, " -> ".join(trans), down_error[:60], max_depth,
                                  reconnect_s))


if __name__ == "__main__":
    H.main(run, __doc__)
