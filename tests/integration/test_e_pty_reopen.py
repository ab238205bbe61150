#!/usr/bin/env python3
"""(e) The POS pty closes (the device vanishes) and a new one appears at the same path.

Covers: the serial driver's hang-up handling and reopen with backoff. A
first POS simulator writes 300 sales, then exits (its pty master closes:
the reader gets EIO / hang-up). `shelfctl devices` shows till1 "down" and
shelfd keeps running; while the path is dead it stays down. A second
simulator creates a new pty and points the same symlink at it: the driver
reopens it (state "open" again, within a few seconds), the 300 sales
written after the reconnect arrive at HQ, and HQ receives a device_down
alert (device till1, with an error) followed by a device_up alert.
"""
import time

import harness as H

N = 300


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    link = ctx.path("till1")
    sim1 = H.PosSim(ctx, link, name="pos1", count=N, rate=0, stall_ms=10000)
    sim1.start()
    d = H.Shelfd(ctx, broker.port, link=link)
    d.start()
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    sim1.resume()
    hq.wait_receipts(range(1, N + 1), timeout=30, what="sales before the hang-up")
    r1 = sim1.stop()
    t_gone = time.monotonic()
    ctx.log("pos1 exited (pty %s closed); waiting for till1 down", r1["slave"])
    H.wait_until(lambda: d.device()["state"] == "down", 10, "till1 state down after the hang-up")
    down_s = time.monotonic() - t_gone
    time.sleep(1.5)   # the path is dead for a while: retries fail, stays down
    dev = d.device()
    H.check(dev["state"] == "down", "till1 state %r while its path is dead" % dev["state"])
    H.check(d.alive(), "shelfd died after the hang-up:\n" + d.tail())
    st = d.status()
    H.check(st["devices"]["down"] == 1, "status devices %r (want down=1)" % st["devices"])

    sim2 = H.PosSim(ctx, link, name="pos2", start=N + 1, count=N, rate=0, stall_ms=10000)
    sim2.start()
    t_new = time.monotonic()
    ctx.log("pos2 at %s; waiting for till1 open", sim2.slave)
    H.wait_until(lambda: d.device()["state"] == "open", 15, "till1 state open after the new pty")
    reopen_s = time.monotonic() - t_new
    sim2.resume()
    hq.wait_receipts(range(N + 1, 2 * N + 1), timeout=30, what="sales after the reconnect")

    def alerts():
        c = hq.poll()
        return c.alerts_of("device_down") and c.alerts_of("device_up") and \
            max(a["seq"] for a in c.alerts_of("device_up")) > \
            min(a["seq"] for a in c.alerts_of("device_down"))
    H.wait_until(alerts, 10, "device_down then device_up alerts at HQ")
    rc = d.stop()
    sim2.stop()
    c = hq.poll()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)
    down = c.alerts_of("device_down")[0]
    up = [a for a in c.alerts_of("device_up") if a["seq"] > down["seq"]][0]
    H.check(down.get("device") == "till1", "device_down alert names %r" % down.get("device"))
    H.check(up.get("device") == "till1", "device_up alert names %r" % up.get("device"))
    H.check(down.get("error"), "device_down alert without an error: %r" % down)
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    H.check(c.gaps() == 0, "seq gaps at HQ: %s" % c.gap_ranges())
    H.check(len(c.receipt_numbers()) == 2 * N, "%d receipts at HQ" % len(c.receipt_numbers()))
    return ("till1 down %.1fs after the pty closed, open %.1fs after the new pty appeared; "
            "%d+%d sales arrived; alerts device_down (error %r) then device_up"
            % (down_s, reopen_s, N, N, str(down.get("error"))[:50]))


if __name__ == "__main__":
    H.main(run, __doc__)
