#!/usr/bin/env python3
"""(p) The sensing clock in its default "gateway" mode, and the KPI state across restarts.

Covers the sensing clock rules of README "Store sensing": with a sniffer
whose clock is 9 minutes fast, its sightings are restamped with the
gateway's time and the store's sensing clock stays within a minute of the
gateway's (one wrong device cannot move the store's day); sightings 2
minutes late keep their own time. A KPI state saved "in the future" (a clock
that was wrong at the last run) is not restored at the next start; a good
one is. An open sniffer that hears nothing for `silent_alert_min` (1 here)
raises `sniffer_silent`, and `sniffer_alive` when it hears again; both
reach HQ.
"""
import datetime
import os
import pty
import sqlite3
import time
import tty

import harness as H


def ts_ms(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def line(mac_n, t_ms, rssi=-60):
    return ("%d,02:00:00:00:%02x:%02x,%d,6\n" % (t_ms, mac_n >> 8, mac_n & 255, rssi)).encode()


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    master, slave = pty.openpty()
    tty.setraw(slave)
    link = ctx.path("probe1")
    os.symlink(os.ttyname(slave), link)
    hq = H.HQ(ctx, broker)
    hq.start()
    d = H.Shelfd(ctx, broker.port, devices=[
        {"name": "probe1", "kind": "probe", "port": str(link), "zone": "floor"}],
        extra={"sensing": {"open": "00:00", "close": "00:00", "silent_alert_min": 1}})
    d.start()
    H.wait_until(lambda: d.device("probe1")["state"] == "open", 10, "probe1 open")

    def sensors():
        return d.ctl("sensors")[1]

    # 50 sightings from a clock 9 minutes fast, then 20 two minutes late.
    now = int(time.time() * 1000)
    for i in range(50):
        os.write(master, line(i, now + 9 * 60000 + i * 1000))
    for i in range(20):
        os.write(master, line(100 + i, now - 2 * 60000 + i * 1000))
    H.wait_until(lambda: [x for x in sensors()["sensors"] if x["name"] == "probe1"][0]
                 ["sightings"] == 70, 10, "70 sightings")
    s = sensors()
    ctx.note("after 50 fast and 20 late sightings: restamped %d, sensing clock %s (now %s)"
             % (s["restamped"], s["clock"], time.strftime("%H:%M:%S", time.gmtime())))
    H.check(s["restamped"] == 50, "restamped %d, expected the 50 fast ones" % s["restamped"])
    clock = ts_ms(s["clock"])
    H.check(abs(clock - time.time() * 1000) < 65000,
            "the sensing clock %s moved away from the gateway's" % s["clock"])

    # A good saved state is restored; one from the future is not.
    H.check(d.stop() == 0, "shelfd exit status")
    db = sqlite3.connect(str(d.db))
    saved = db.execute("SELECT value FROM meta WHERE key='sensing.clock'").fetchone()
    H.check(saved is not None, "no saved sensing clock")
    H.check(db.execute("SELECT length(value) FROM meta WHERE key='sensing.kpi'").fetchone()[0] > 0,
            "no saved KPI state")
    db.close()
    d.start()
    H.wait_until(lambda: "KPI state restored" in d.tail(20), 10, "the KPI state restored")
    H.check(d.stop() == 0, "shelfd exit status")
    db = sqlite3.connect(str(d.db))
    db.execute("UPDATE meta SET value=? WHERE key='sensing.clock'",
               (int(time.time() * 1000) + 86400000,))
    db.commit()
    db.close()
    d.start()
    H.wait_until(lambda: "in the future; starting afresh" in d.tail(20), 10,
                 "the future KPI state refused")

    # The sniffer stays open and silent: an alert after a minute, then back.
    t0 = time.monotonic()

    def alerts(kind):
        hq.poll()
        return [a for a in hq.counter.alerts if a.get("alert") == kind]
    H.wait_until(lambda: alerts("sniffer_silent"), 100, "a sniffer_silent alert at HQ")
    ctx.note("sniffer_silent after %.0f s of silence" % (time.monotonic() - t0))
    H.check(alerts("sniffer_silent")[0]["device"] == "probe1", "alert names the sniffer")
    H.check(not alerts("sniffer_alive"), "alive before it heard anything")
    os.write(master, line(999, int(time.time() * 1000)))
    H.wait_until(lambda: alerts("sniffer_alive"), 20, "a sniffer_alive alert at HQ")
    H.check(len(alerts("sniffer_silent")) == 1, "one silent alert, not one per tick")
    H.check(d.stop() == 0, "shelfd exit status")
    os.close(master)
    os.close(slave)


if __name__ == "__main__":
    H.main(run, __doc__)
