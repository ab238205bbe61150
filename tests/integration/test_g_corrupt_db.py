#!/usr/bin/env python3
"""(g) A corrupt database file at start.

Covers: the store's start-up integrity check and recovery. 1) DATA_DIR/
shelfd.db is 256 KiB of random bytes before shelfd first starts: shelfd
starts and stays up (no crash loop), `shelfctl status` answers, the file is
moved aside to DATA_DIR/shelfd.db.corrupt-*, HQ receives a "db_recreated"
alert (with moved_to naming that file, and a reason), and new sales flow.
2) A clean restart on the recreated database raises no new alert and moves
nothing. 3) A real shelfd database whose header is intact but whose other
pages are overwritten with garbage is also detected at start: a second
corrupt-* file, a second db_recreated alert, sales flow again.
"""
import os
import random
import time

import harness as H


def corrupt_files(d):
    """The moved-aside databases (their -wal/-shm companions not counted)."""
    return sorted(p.name for p in d.data.glob("shelfd.db.corrupt-*")
                  if not p.name.endswith(("-wal", "-shm", "-journal")))


def sell(ctx, hq, link, name, start, n):
    sim = H.PosSim(ctx, link, name=name, start=start, count=n, rate=0, stall_ms=10000)
    sim.start()
    return sim


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    link = ctx.path("till1")
    d = H.Shelfd(ctx, broker.port, link=link)
    rng = random.Random(7)
    d.db.write_bytes(rng.randbytes(256 * 1024))

    # 1. garbage from byte 0
    sim = sell(ctx, hq, link, "pos1", 1, 100)
    d.start(timeout=20)
    time.sleep(2.0)
    H.check(d.alive(), "shelfd exited after starting on a corrupt db:\n" + d.tail())
    d.status()
    moved = corrupt_files(d)
    H.check(len(moved) == 1, "want one shelfd.db.corrupt-* in the data dir, found %s" % moved)
    H.wait_until(lambda: hq.poll().alerts_of("db_recreated"), 10, "a db_recreated alert at HQ")
    a = hq.counter.alerts_of("db_recreated")[0]
    H.check(a.get("reason"), "db_recreated alert without a reason: %r" % a)
    H.check(a.get("moved_to") and os.path.basename(str(a["moved_to"])) == moved[0],
            "db_recreated moved_to %r, file in data dir %s" % (a.get("moved_to"), moved))
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    sim.resume()
    hq.wait_receipts(range(1, 101), timeout=30, what="sales after recreating the db")
    sim.stop()

    # 2. a clean restart: no false alarm
    rc = d.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)
    n_alerts = len(hq.poll().alerts_of("db_recreated"))
    d.start()
    time.sleep(1.5)
    H.check(corrupt_files(d) == moved, "a clean restart moved the db aside: %s"
            % corrupt_files(d))
    H.check(len(hq.poll().alerts_of("db_recreated")) == n_alerts,
            "a clean restart raised another db_recreated alert")
    rc = d.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)

    # 3. a real database with its pages (not its header) overwritten
    for ext in ("-wal", "-shm"):
        try:
            os.unlink(str(d.db) + ext)
        except FileNotFoundError:
            pass
    size = d.db.stat().st_size
    with open(d.db, "r+b") as f:
        f.seek(100)        # keep the 100-byte SQLite header
        f.write(rng.randbytes(max(size, 64 * 1024) - 100))
    sim = sell(ctx, hq, link, "pos2", 101, 100)
    d.start(timeout=20)
    time.sleep(1.5)
    H.check(d.alive(), "shelfd exited on a db with corrupt pages:\n" + d.tail())
    moved2 = corrupt_files(d)
    H.check(len(moved2) == 2, "want a second shelfd.db.corrupt-* after corrupting pages, "
            "found %s (db was %d bytes)" % (moved2, size))
    H.wait_until(lambda: len(hq.poll().alerts_of("db_recreated")) == n_alerts + 1, 10,
                 "a second db_recreated alert")
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    sim.resume()
    hq.wait_receipts(range(101, 201), timeout=30, what="sales after the second recreation")
    rc = d.stop()
    sim.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)
    c = hq.poll()
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    return ("random-bytes db and page-corrupted db both moved aside (%s), db_recreated alerts "
            "(reason %r), clean restart raised none, 200/200 sales flowed"
            % (", ".join(moved2), str(a.get("reason"))[:60]))


if __name__ == "__main__":
    H.main(run, __doc__)
