#!/usr/bin/env python3
"""(l) Prices onto 2,000 shelf labels through the base-station emulator.

Covers issue 3's label path end to end: a real broker, shelfd with an `esl`
device on the emulator's pty (the real station logic, 2,000 simulated labels
of the three types) and a POS on a pty. HQ binds the 2,000 labels with one
`labels.bind` command and publishes a 2,000-SKU price batch; every label then
shows its price: the hash each simulated label reports equals the content
hash shelfd wanted, and for one label of each type the emulator's framebuffer
is pixel-identical to `shelfctl labels preview`; `labels flash` blinks a
label's LED and `labels page` switches its page. A till charging a price that
differs from the label's becomes an `integrity` event at HQ and shows in
`shelfctl integrity`. Then a second full batch with shelfd killed (SIGKILL)
in the middle of the rollout and restarted: every label ends with the newest
price. Then a third batch with 5% radio loss, garbage on the serial link and
a base-station reset in the middle of the transfers: every label still ends
right, and `shelfctl devices` shows the reset and the garbage.
"""
import json
import os
import pty
import time
import tty

import harness as H

N = 2000
LABELS = "1800:1,100:2,100:3"
BAUD = 921600  # the emulator paces the pty at this rate (a real UART at 921600)


def label_ids():
    return ["%08X" % (0xE1000001 + i) for i in range(N)]


def sku(i):
    return "S%05d" % i


def batch(bid, base):
    return {"id": bid, "issued_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "currency": "EUR",
            "items": [{"sku": sku(i), "price": base + i, "name": "Product %d" % i,
                       "unit": "piece"} for i in range(N)]}


def labels_by_state(d):
    _, v = d.ctl("labels", "list", timeout=30)
    st = {}
    for lab in v["labels"]:
        st[lab["state"]] = st.get(lab["state"], 0) + 1
    return st, v["labels"]


def wait_delivered(ctx, d, timeout, what):
    t0 = time.monotonic()
    last = None

    def done():
        nonlocal last
        st, _ = labels_by_state(d)
        last = st
        return st.get("delivered", 0) == N
    try:
        H.wait_until(done, timeout, what, interval=1.0)
    except H.Fail:
        raise H.Fail("%s: label states %r after %ds" % (what, last, timeout))
    return time.monotonic() - t0


def check_all_show_wanted(ctx, d, emu, price_base):
    _, labels = labels_by_state(d)
    wrong = []
    for lab in labels:
        want = lab["job_hash"]
        shown = emu.label(lab["label"])["hash"]
        i = int(lab["sku"][1:])
        if shown != want or lab["shows_price"] != price_base + i:
            wrong.append((lab["label"], shown, want, lab["shows_price"]))
    H.check(not wrong, "%d labels do not show their price, e.g. %r" % (len(wrong), wrong[:3]))


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    emu = H.Emu(ctx, labels=LABELS, baud=BAUD, checkin_ms=20000, wake_ms=20, air_kbps=2000)
    emu.start()
    # the POS: a pty we write sale lines into
    master, slave = pty.openpty()
    tty.setraw(master)
    till = ctx.path("till1")
    os.symlink(os.ttyname(slave), till)
    d = H.Shelfd(ctx, broker.port, store="S1", link=till, devices=[
        {"name": "esl0", "kind": "esl", "port": str(emu.link), "baud": BAUD}])
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected")
    # the station replays its table; fresh check-ins bring the rest
    H.wait_until(lambda: len([x for x in labels_by_state(d)[1] if x["type"]]) == N, 60,
                 "all %d labels checked in" % N)

    # --- bind by HQ command, then the first batch
    H.publish(ctx, broker, "shelf/v1/S1/cmd", {
        "id": "bind-1", "issued_at": "2026-11-23T06:00:00.000Z", "action": "labels.bind",
        "bindings": [{"label": lid, "sku": sku(i)} for i, lid in enumerate(label_ids())]})

    def acked(ref, status="applied"):
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == ref and a.get("status") == status]
    H.wait_until(lambda: acked("bind-1"), 20, "the labels.bind ack")
    H.check(acked("bind-1")[0]["bound"] == N, "bind ack %r" % acked("bind-1"))
    H.publish(ctx, broker, "shelf/v1/S1/prices", batch("p1", 1000))
    H.wait_until(lambda: acked("p1"), 20, "the ack of p1")
    t1 = wait_delivered(ctx, d, 240, "first rollout")
    ctx.log("first rollout: %d labels in %.1f s (%.1f labels/s)", N, t1, N / t1)
    check_all_show_wanted(ctx, d, emu, 1000)
    # pixel check, one label per type
    for lid in ("E1000001", "%08X" % (0xE1000001 + 1800), "%08X" % (0xE1000001 + 1900)):
        png = ctx.path("preview-%s.png" % lid)
        pbm = ctx.path("emu-%s.pbm" % lid)
        d.ctl("labels", "preview", lid, "--png", str(png), as_json=False)
        emu.ctl("dump %s %s" % (lid, pbm))
        a, b = H.read_png_ink(png), H.read_pbm(pbm)
        H.check(a == b, "label %s: the emulator's framebuffer differs from the preview" % lid)
    hq.poll()
    delivered_events = [e for e in hq.counter.first.values()
                        if e.get("type") == "label" and e.get("result") == "delivered"]
    H.check(len(delivered_events) >= N, "only %d label delivered events at HQ"
            % len(delivered_events))

    # --- the technician finds a label on the shelf: its LED flashes
    before = emu.label("E1000002")["flashes"]
    d.ctl("labels", "flash", "E1000002")
    H.wait_until(lambda: emu.label("E1000002")["flashes"] > before, 10, "E1000002 flashing")
    d.ctl("labels", "page", "E1000003", "1")
    H.wait_until(lambda: emu.label("E1000003")["page"] == 1, 10, "E1000003 on page 1")
    d.ctl("labels", "page", "E1000003", "0")
    H.wait_until(lambda: emu.label("E1000003")["page"] == 0, 10, "E1000003 back on page 0")

    # --- integrity: the till charges 9.99 for S00005, its label shows 10.05
    line = {"type": "sale", "receipt": "R-INT-1", "lines": [
        {"sku": sku(5), "qty": 1, "unit_price": 999}, {"sku": sku(6), "qty": 1,
                                                        "unit_price": 1006}], "total": 2005}
    os.write(master, (json.dumps(line) + "\n").encode())

    def integrity_event():
        hq.poll()
        return [e for e in hq.counter.first.values() if e.get("type") == "integrity"]
    ev = H.wait_until(integrity_event, 10, "an integrity event at HQ")[0]
    H.check(ev["sku"] == sku(5) and ev["till_price"] == 999 and ev["label_price"] == 1005
            and ev["kind"] == "undercharge" and ev["labels"] == ["E1000006"],
            "integrity event %r" % ev)
    H.check(len(integrity_event()) == 1, "S00006 was charged its label price: no event expected")
    mm = d.ctl("integrity")[1]["mismatches"]
    H.check([m["sku"] for m in mm] == [sku(5)], "shelfctl integrity: %r" % mm)

    # --- second batch, SIGKILL in the middle of the rollout
    H.publish(ctx, broker, "shelf/v1/S1/prices", batch("p2", 2000))
    H.wait_until(lambda: labels_by_state(d)[0].get("delivered", 0) < N * 0.7
                 and acked("p2"), 30, "the p2 rollout under way")
    H.wait_until(lambda: labels_by_state(d)[0].get("delivered", 0) > N * 0.3, 120,
                 "30% of p2 delivered")
    st, _ = labels_by_state(d)
    d.kill9()
    ctx.log("killed shelfd at %r", st)
    d.start()
    t2 = wait_delivered(ctx, d, 240, "p2 after the SIGKILL")
    check_all_show_wanted(ctx, d, emu, 2000)

    # --- third batch: radio loss, garbage, a station reset mid-transfer
    emu.ctl("loss 5")
    H.publish(ctx, broker, "shelf/v1/S1/prices", batch("p3", 3000))
    H.wait_until(lambda: labels_by_state(d)[0].get("delivered", 0) < N * 0.9, 30,
                 "the p3 rollout under way")
    for _ in range(3):
        emu.ctl("garbage 4000")
        time.sleep(0.5)
    boot = emu.ctl("reset")["boot_id"]
    emu.ctl("garbage 4000")
    t3 = wait_delivered(ctx, d, 300, "p3 with loss, garbage and a reset")
    check_all_show_wanted(ctx, d, emu, 3000)
    dev = [x for x in d.ctl("devices")[1]["devices"] if x["name"] == "esl0"][0]["esl"]
    H.check(dev["station_resets"] >= 1 and dev["boot_id"].upper() == boot.upper(),
            "devices esl0 after the reset: %r (emulator boot %s)" % (dev, boot))
    H.check(dev["garbage_in"] >= 10000, "garbage not seen by the driver: %r" % dev)
    stats = emu.ctl("stats")
    H.check(stats["air_lost"] > 0, "the 5%% loss lost nothing? %r" % stats)
    H.check(d.stop() == 0, "shelfd exit status")
    os.close(master)
    os.close(slave)
    return ("%d labels: %.0f s first rollout (%.1f/s), %.0f s after a SIGKILL, %.0f s with 5%% "
            "loss + %d garbage bytes + a station reset (%d air losses); integrity event ok"
            % (N, t1, N / t1, t2, t3, dev["garbage_in"], stats["air_lost"]))


if __name__ == "__main__":
    H.main(run, __doc__)
