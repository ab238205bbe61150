#!/usr/bin/env python3
"""(k) Prices with HQ away and crashes: scheduled batches, atomic apply.

Covers: a batch with a future effective_at is acked "scheduled" and does not
change the price early; the broker then goes down and shelfd is restarted
(SIGTERM) while it is down; at effective_at the price changes anyway, by the
gateway's clock, with no broker; when the broker comes back, HQ receives the
second ack ("applied") from the durable outbox. Then all-or-nothing: a
50,000-item batch is published and shelfd is killed with SIGKILL while it is
applying it, several times at different moments; after each restart the
price table holds either none or all of that batch's SKUs, never part; the
batch is finally sent again (same id) and ends applied, every SKU present.
"""
import json
import random
import sqlite3
import time

import harness as H

N_BIG = 50000


def run(ctx):
    broker = H.Broker(ctx, persistence=True)
    broker.start()
    hq = H.HQ(ctx, broker, persistent=True)
    hq.start()
    d = H.Shelfd(ctx, broker.port, store="S1")
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected")

    # --- scheduled, then HQ away and a restart before it is due
    H.publish(ctx, broker, "shelf/v1/S1/prices", json.dumps({
        "id": "now", "issued_at": H.iso(H.now_ms() - 60000), "currency": "EUR",
        "items": [{"sku": "SCHED-1", "price": 100}]}))
    H.wait_until(lambda: d.ctl("prices", "get", "SCHED-1", check=False)[0] == 0, 10,
                 "SCHED-1 at 100")
    eff = time.time() + 6
    H.publish(ctx, broker, "shelf/v1/S1/prices", json.dumps({
        "id": "later", "issued_at": H.iso(), "currency": "EUR",
        "effective_at": H.iso(eff * 1000), "items": [{"sku": "SCHED-1", "price": 80}]}))

    def ack(ref, status):
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == ref and a.get("status") == status]
    H.wait_until(lambda: ack("later", "scheduled"), 10, "the scheduled ack")
    H.check(d.ctl("prices", "get", "SCHED-1")[1]["price"]["price"] == 100,
            "a scheduled price took effect early")
    H.check(d.status()["prices"]["scheduled"] == 1, "status does not count the scheduled batch")
    broker.stop()
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM")
    d.start()
    H.check(d.ctl("prices", "get", "SCHED-1")[1]["price"]["price"] == 100,
            "price changed before effective_at after the restart")
    H.wait_until(lambda: d.ctl("prices", "get", "SCHED-1")[1]["price"]["price"] == 80,
                 15, "the scheduled price with the broker down")
    late = time.time() - eff
    H.check(late < 2.0, "scheduled price applied %.1f s late" % late)
    H.check(d.status()["hq"]["state"] != "connected", "the broker was supposed to be down")
    broker.start()
    H.wait_until(lambda: ack("later", "applied"), 20, "the applied ack after the broker returned")

    # --- all or nothing under SIGKILL: each round a new batch id, killed at a random moment
    def batch(k):
        return json.dumps({"id": "big-%d" % k, "issued_at": H.iso(), "currency": "EUR",
                           "items": [{"sku": "BIG-%06d" % i, "price": 1000 + i + k,
                                      "name": "Item %d" % i} for i in range(N_BIG)]})

    def rows_of(k):
        con = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True, timeout=10)
        n = con.execute("SELECT count(*) FROM prices WHERE batch_id = ?", ("big-%d" % k,)) \
            .fetchone()[0]
        con.close()
        return n

    counts = []
    rng = random.Random(7)
    for k in range(6):
        payload = batch(k)
        H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 15, "connected")
        H.publish(ctx, broker, "shelf/v1/S1/prices", payload)
        time.sleep(rng.uniform(0.0, 0.5))
        d.kill9()
        n = rows_of(k)
        counts.append(n)
        H.check(n in (0, N_BIG), "after SIGKILL #%d the table holds %d of %d SKUs of batch big-%d"
                % (k + 1, n, N_BIG, k))
        d.start()
    ctx.log("SKUs of each big batch right after its SIGKILL: %s", counts)
    # A batch killed before it committed: either the broker redelivers it (no PUBACK yet)
    # or it is lost with its PUBACK (libmosquitto acks before the handler runs) and HQ
    # must send it again; which one happened is logged, both are allowed.
    time.sleep(1)
    con = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True, timeout=10)
    seen = con.execute("SELECT id, status FROM inbox WHERE id LIKE 'big-%' ORDER BY id").fetchall()
    con.close()
    ctx.log("big batches recorded after the restarts: %s", seen)
    # The last one again (same id): applied now, or duplicate if it already was.
    H.publish(ctx, broker, "shelf/v1/S1/prices", payload)
    H.wait_until(lambda: rows_of(5) == N_BIG, 60, "the last big batch applied")
    p = d.ctl("prices", "get", "BIG-012345")[1]["price"]
    H.check(p["price"] == 13350 and p["name"] == "Item 12345", "BIG-012345: %r" % p)
    H.check(d.status()["prices"]["skus"] == N_BIG + 1, "SKU count %r" % d.status()["prices"])
    H.check(d.stop() == 0, "shelfd exit status")
    return "scheduled applied %.2f s after effective_at offline; kills left %s SKUs (never partial)" \
        % (late, counts)


if __name__ == "__main__":
    H.main(run, __doc__)
