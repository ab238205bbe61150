#!/usr/bin/env python3
"""(d) ~1 MB of random bytes on the POS line between valid sales.

Covers: the POS driver and jsonl parser against a noisy line: random bytes
(with newlines, NULs, invalid UTF-8, CRLF, truncated JSON, a sale with a
float total) between 2,000 valid sales, sales/refunds. Every valid sale
arrives at HQ with the content the POS wrote, nothing else arrives as a
sale (no phantom from the noise), `shelfctl devices --json` counts errors
for till1 (errors > 0, last_error set, lines_ok >= 2000), and shelfd is
still running and answering afterwards.
"""
import time

import harness as H

N = 2000
GARBAGE = 525     # bytes before each sale: ~1.05 MB in all


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=N, rate=0, garbage=GARBAGE, refund_every=9,
                   stall_ms=20000, seed=4242)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link)
    d.start()
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    t0 = time.monotonic()
    sim.resume()
    hq.wait_receipts(range(1, N + 1), timeout=60, what="valid sales among the noise")
    dt = time.monotonic() - t0
    hq.settle(0.5)
    H.check(d.alive(), "shelfd died:\n" + d.tail())
    dev = d.device()
    st = d.status()
    rc = d.stop()
    res = sim.stop()
    c = hq.poll()

    H.check(res["written"] == N, "pos-sim wrote %d of %d whole" % (res["written"], N))
    H.check(res["garbage_bytes"] >= 1000000, "only %d garbage bytes" % res["garbage_bytes"])
    H.check(rc == 0, "shelfd exited %r on SIGTERM after the noise" % rc)
    H.check(st["devices"]["ok"] == 1, "status devices %r" % st["devices"])
    H.check(isinstance(dev.get("errors"), int) and dev["errors"] > 0,
            "devices: till1 errors %r (want > 0)" % dev.get("errors"))
    H.check(dev.get("last_error"), "devices: till1 last_error empty")
    H.check(dev["state"] == "open", "devices: till1 state %r" % dev["state"])
    H.check(dev["lines_ok"] >= N, "devices: till1 lines_ok %r < %d" % (dev["lines_ok"], N))
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    bad = H.check_sales_content(c, H.load_pos_sim(), set(range(1, N + 1)),
                                lambda n: "refund" if n % 9 == 0 else "sale")
    H.check(not bad, "%d problems with sales at HQ: %s" % (len(bad), bad[:3]))
    H.check(not c.double_committed(), "receipts under several seqs")
    H.check(c.gaps() == 0, "seq gaps at HQ: %s" % c.gap_ranges())
    return ("%d/%d valid sales arrived through %.2f MB of noise in %.1fs; till1 errors=%d "
            "lines_ok=%d, last_error %r; %d duplicates; shelfd still running"
            % (len(c.receipt_numbers()), N, res["garbage_bytes"] / 1e6, dt, dev["errors"],
               dev["lines_ok"], (dev.get("last_error") or "")[:60], c.duplicates()))


if __name__ == "__main__":
    H.main(run, __doc__)
