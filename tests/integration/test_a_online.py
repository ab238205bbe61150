#!/usr/bin/env python3
"""(a) 10,000 sales online, written as fast as the POS line takes them.

Covers: the whole path POS pty -> shelfd -> SQLite outbox -> MQTT QoS 1 ->
HQ with the broker up throughout. Every receipt R-1..R-10000 arrives at HQ
exactly once after dedupe by (store, seq), carrying what the POS wrote
(lines, total, member, kind: sales, refunds, voids); seqs ascend within each
message and across messages; none missing. Duplicates (expected 0) and
misordered events are counted. Also: retained status "online" while
running, `shelfctl outbox` drains to depth 0, `shelfctl status` says
connected, SIGTERM exits 0 and leaves status "offline".
"""
import time

import harness as H

N = 10000


def kind_of(n):
    if n % 97 == 0:
        return "void"
    if n % 50 == 0:
        return "refund"
    return "sale"


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=N, rate=0, refund_every=50, void_every=97, stall_ms=20000)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link)
    rc, out = d.check_config()
    H.check(rc == 0, "shelfd --check-config rejected the test config (rc %d): %s" % (rc, out))
    d.start()
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")

    def online():
        st = hq.poll().status
        return st and st[-1][1].get("state") == "online"
    H.wait_until(online, 10, "retained status online at HQ")

    t0 = time.monotonic()
    sim.resume()
    hq.wait_receipts(range(1, N + 1), timeout=90, what="sales")
    dt = time.monotonic() - t0
    hq.settle(0.5)
    c = hq.counter
    ctx.log("all %d receipts at HQ in %.2fs: %s", N, dt, c.summary())

    H.wait_until(lambda: d.ctl("outbox")[1].get("depth") == 0, 10, "shelfctl outbox depth 0")
    st = d.status()
    H.check(st.get("store") == H.STORE, "status.store %r" % st.get("store"))
    H.check(st["hq"]["state"] == "connected", "status hq.state %r" % st["hq"]["state"])
    H.check(st["outbox"]["depth"] == 0, "status outbox.depth %r" % st["outbox"]["depth"])
    H.check(st["devices"]["ok"] == 1 and st["devices"]["total"] == 1,
            "status devices %r" % st["devices"])
    dev = d.device()
    H.check(dev["lines_ok"] >= N, "devices lines_ok %r < %d" % (dev["lines_ok"], N))
    rc, text = d.ctl("status", as_json=False)
    H.check(text.strip() != "", "`shelfctl status` printed nothing")
    _, ev = d.ctl("events", "-n", "5")
    H.check(isinstance(ev.get("events"), list) and ev.get("count") == len(ev["events"])
            and len(ev["events"]) <= 5, "`shelfctl events -n 5` gave %.200r" % ev)

    rc = d.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM (want 0)" % rc)
    H.wait_until(lambda: hq.poll().status[-1][1].get("state") == "offline", 10,
                 "status offline after SIGTERM")
    res = sim.stop()
    H.check(res["written"] == N, "pos-sim wrote only %d of %d sales whole (%d unsent, %d partial)"
            % (res["written"], N, res["unsent"], res["partial"]))

    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    got = c.receipt_numbers()
    missing = set(range(1, N + 1)) - got
    H.check(not missing, "%d receipts missing: %s" % (len(missing), sorted(missing)[:10]))
    dbl = c.double_committed()
    H.check(not dbl, "receipts committed under several seqs: %s" % dbl[:5])
    H.check(c.unsorted_msgs == 0, "%d messages with seqs not ascending" % c.unsorted_msgs)
    H.check(c.misordered == 0, "%d events misordered across messages" % c.misordered)
    H.check(c.duplicates() == 0, "%d duplicates with the broker up throughout" % c.duplicates())
    sales = [s for s in c.first.values() if s.get("type") == "sale"]
    H.check(len(sales) == N, "%d sale events for %d receipts" % (len(sales), N))
    H.check(c.gaps() == 0, "seq gaps: %s" % c.gap_ranges())
    bad = H.check_sales_content(c, H.load_pos_sim(), set(range(1, N + 1)), kind_of)
    H.check(not bad, "%d sales differ from what the POS wrote: %s" % (len(bad), bad[:3]))
    seqs = sorted(s["seq"] for s in sales)
    if seqs[0] < 10 ** 12:
        ctx.note("first seq %d is small (contract: ~epoch_ms*1000)" % seqs[0])
    return ("%d/%d receipts, 0 missing, %d duplicates, %d misordered (%d across types), "
            "%d messages (%.0f events/msg), %.1fs = %.0f sales/s end to end"
            % (len(got & set(range(1, N + 1))), N, c.duplicates(), c.misordered,
               c.misordered_global, c.messages, c.events / max(1, c.messages), dt, N / dt))


if __name__ == "__main__":
    H.main(run, __doc__)
