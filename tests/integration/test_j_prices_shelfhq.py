#!/usr/bin/env python3
"""(j) Price batches from HQ with shelfhq against two running agents (S1, S2).

Covers DESIGN §5.1 prices and acks end to end through a real broker: a CSV
batch (prices in major units) published by `shelfhq --stores S1,S2` is
applied by both and shelfhq exits 0 with a per-store report; `shelfctl
prices get` shows the exact minor-unit price; an OLDER batch arriving late
does not overwrite (ack lists the superseded SKUs, prices unchanged); the
same id sent again is acked "duplicate" and changes nothing; an invalid
batch published straight to the broker is acked "rejected" with every error
and its JSON path, and changes nothing; shelfhq refuses an invalid file
before sending (exit 2); a fleet batch reaches every store found by their
retained status; a fleet batch with a "stores" filter is taken only by the
named store (the other does not answer and keeps its price); a store that
does not exist is reported "no answer" and shelfhq exits 1.
"""
import json
import subprocess

import harness as H


def shelfhq(ctx, broker, *args, timeout=30):
    argv = [str(ctx.bin / "shelfhq"), "-p", str(broker.port)] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30, env=ctx.env)
    ctx.log("$ shelfhq %s -> %d\n%s%s", " ".join(args), r.returncode, r.stdout, r.stderr)
    return r.returncode, r.stdout, r.stderr


def price(d, sku):
    rc, v = d.ctl("prices", "get", sku, check=False)
    return v["price"] if rc == 0 else None


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    s1 = H.Shelfd(ctx, broker.port, name="s1", store="S1")
    s2 = H.Shelfd(ctx, broker.port, name="s2", store="S2")
    s1.start()
    s2.start()
    for d in (s1, s2):
        H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, d.name + " connected")

    # 1. CSV in major units, to both stores.
    csv = ctx.path("b1.csv")
    csv.write_text('sku,price,regular,name,unit\n'
                   '6901234567892,12.90,,"Milk, 1 l",l\n'
                   '6901234567893,3.5,4.00,Bread,piece\n'
                   'A-3,0.99,,"Say ""cheese""",\n')
    rc, out, err = shelfhq(ctx, broker, "prices", str(csv), "--stores", "S1,S2", "--id", "b1",
                           "--currency", "EUR")
    H.check(rc == 0, "shelfhq exit %d for a good batch:\n%s%s" % (rc, out, err))
    H.check("2 of 2 store(s) took batch b1" in out, "report: %r" % out)
    for d in (s1, s2):
        p = price(d, "6901234567892")
        H.check(p and p["price"] == 1290 and p["currency"] == "EUR" and p["name"] == "Milk, 1 l",
                "%s: 6901234567892 is %r" % (d.name, p))
        p = price(d, "6901234567893")
        H.check(p and p["price"] == 350 and p["regular"] == 400, "%s: bread %r" % (d.name, p))
        p = price(d, "A-3")
        H.check(p and p["price"] == 99 and p["name"] == 'Say "cheese"', "%s: A-3 %r" % (d.name, p))

    # 2. An older batch (issued an hour ago) arrives late: nothing overwritten.
    old = ctx.path("b0.json")
    old.write_text(json.dumps({"id": "b0", "issued_at": "2020-01-01T00:00:00.000Z",
                               "currency": "EUR",
                               "items": [{"sku": "6901234567892", "price": 1},
                                         {"sku": "NEW-1", "price": 500}]}))
    rc, out, err = shelfhq(ctx, broker, "prices", str(old), "--stores", "S1", "--json")
    H.check(rc == 0, "older batch: exit %d" % rc)
    rep = json.loads(out)
    H.check(rep[0]["status"] == "applied" and rep[0]["superseded"] == 1 and rep[0]["applied"] == 1,
            "older batch report %r" % rep)
    H.check(price(s1, "6901234567892")["price"] == 1290, "a late older batch overwrote a price")
    H.check(price(s1, "NEW-1")["price"] == 500, "the older batch's new SKU was not applied")
    hq.poll()
    ack = [a for a in hq.counter.acks if a.get("ref") == "b0"]
    H.check(ack and ack[0]["superseded"] == ["6901234567892"], "ack of b0: %r" % ack)

    # 3. The same id again: duplicate, nothing changes.
    again = ctx.path("b1-again.csv")
    again.write_text("sku,price_minor\n6901234567892,777\n")
    rc, out, err = shelfhq(ctx, broker, "prices", str(again), "--store", "S2", "--id", "b1")
    H.check(rc == 0 and "duplicate" in out, "re-sent id: exit %d %r" % (rc, out))
    H.check(price(s2, "6901234567892")["price"] == 1290, "a duplicate id changed a price")

    # 4. Invalid, straight to the broker (shelfhq would refuse it): rejected, every error.
    bad = {"id": "bad-1", "issued_at": "2026-11-23T06:00:00.000Z", "currency": "EUR",
           "items": [{"sku": "6901234567892", "price": 12.9},
                     {"sku": "X", "price": -5},
                     {"sku": "Y", "price": 1000000001},
                     {"sku": "X", "price": 1}]}
    H.publish(ctx, broker, "shelf/v1/S1/prices", bad)

    def rejected():
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == "bad-1"]
    ack = H.wait_until(rejected, 10, "the rejected ack of bad-1")[0]
    paths = [e["at"] for e in ack["errors"]]
    H.check(ack["status"] == "rejected" and paths == ["items[0].price", "items[1].price",
                                                      "items[2].price", "items[3].sku"],
            "rejected ack: %r" % ack)
    H.check(price(s1, "6901234567892")["price"] == 1290 and price(s1, "X") is None,
            "a rejected batch changed prices")

    # 5. shelfhq validates before sending.
    badcsv = ctx.path("bad.csv")
    badcsv.write_text("sku,price\nOK-1,1.999\n")
    rc, out, err = shelfhq(ctx, broker, "prices", str(badcsv), "--store", "S1")
    H.check(rc == 2 and "bad.csv:2" in err, "bad CSV: exit %d %r" % (rc, err))

    # 6. The fleet, found by the retained status of each store.
    fl = ctx.path("fleet.csv")
    fl.write_text("sku,price_minor\nFLEET-1,4200\n")
    rc, out, err = shelfhq(ctx, broker, "prices", str(fl), "--fleet", "--id", "f1")
    H.check(rc == 0 and "2 of 2 store(s)" in out, "fleet: exit %d %r" % (rc, out))
    H.check(price(s1, "FLEET-1")["price"] == 4200 and price(s2, "FLEET-1")["price"] == 4200,
            "fleet price not on both")

    # 7. A fleet batch limited to S2.
    fl2 = ctx.path("fleet2.csv")
    fl2.write_text("sku,price_minor\nFLEET-1,4300\n")
    rc, out, err = shelfhq(ctx, broker, "prices", str(fl2), "--fleet", "--stores", "S2",
                           "--id", "f2")
    H.check(rc == 0 and "1 of 1 store(s)" in out, "fleet to S2: exit %d %r" % (rc, out))
    H.check(price(s2, "FLEET-1")["price"] == 4300, "S2 did not take f2")
    H.check(price(s1, "FLEET-1")["price"] == 4200, "S1 took a batch meant for S2 only")
    hq.poll()
    H.check(not [a for a in hq.counter.acks if a.get("ref") == "f2" and a.get("store") == "S1"],
            "S1 answered a batch not addressed to it")

    # 8. A store that is not there: no answer, exit 1.
    rc, out, err = shelfhq(ctx, broker, "prices", str(fl), "--stores", "S1,S9", "--id", "f3",
                           "--timeout", "3")
    H.check(rc == 1 and "S9" in out and "no answer" in out, "missing store: %d %r" % (rc, out))

    st = s1.status()["prices"]
    H.check(st["rejected"] == 1 and st["duplicates"] == 0 and st["skus"] == 5,
            "S1 status prices: %r" % st)
    for d in (s1, s2):
        H.check(d.stop() == 0, "%s exit status" % d.name)
    return "2 agents: applied, superseded, duplicate, rejected (4 paths), fleet, filter, no answer"


if __name__ == "__main__":
    H.main(run, __doc__)
