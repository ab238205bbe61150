#!/usr/bin/env python3
"""(u) A zone's footfall rise puts the recommendation set's zone content on that zone's screens.

Covers issue 5's "Zone content" (notes: the footfall rise rule; the content
contract in scripts/screen/README.md): a real broker, shelfd-gpiosim (shelfd
on the libgpiod double) with a two-line door/zone counter "dairy-beam" in
zone "dairy" (line A then line B = one person in), the "devices" sensing
clock with 1-minute intervals (the edges' own timestamps end the intervals,
so six minutes of store time pass in seconds), screens.zone_rise_min 10, and
two scripts/screen-server screens: "scr-dairy" in zone dairy and "scr-exit"
in zone exit. HQ sends a price batch (milk, yogurt and bread priced; the
zone's cheese is not) and a recommendation set whose zones.dairy has the
headline "Today's dairy offers" and the items [milk (with a headline),
cheese, yogurt (with an image)].

Store time, one interval per minute, and what the dairy screen must get:
  I1 12 in:  >= 10 and >= 2 x 0    -> pushed (kind "zone", the zone's
             headline, exactly [milk, yogurt] with the price table's names
             and prices, the item headline/image, currency EUR)
  I2 13 in:  not >= 2 x 12         -> nothing new
  I3 30 in:  >= 10 and >= 2 x 13   -> pushed again, higher version
  I4  0 in:  an empty minute       -> nothing
  I5  5 in:  >= 2 x 0 but < 10     -> nothing (the minimum)
  I6 10 in:  exactly 10 and 2 x 5  -> pushed (both bounds are inclusive)
Each interval ends when the first crossing of a later one arrives; HQ's
footfall events show the counts, and the checks after an interval that
must not push are made once HQ has its footfall event (the push decision is
taken when the event is recorded). Nothing is shown before the first
interval ends; scr-exit (zone exit) receives nothing at all;
`shelfctl --json screens` shows pushes 3 / state ok / version_shown = the
last version for scr-dairy and pushes 0 / state never for scr-exit, the same
counts the screen-servers logged.
"""
import json
import os
import struct
import time

import harness as H

CHIP, LINE_A, LINE_B = "gpiochip0", 17, 18
RISING, FALLING = 1, 2
ZONE_RISE_MIN = 10

MILK, CHEESE, YOG, BREAD = "DAIRY-MILK-1L", "DAIRY-BRIE-200", "DAIRY-YOG-500", "BAKERY-LOAF"
PRICES = {MILK: ("Organic whole milk 1 l", 139), YOG: ("Greek yogurt 500 g", 259),
          BREAD: ("Sourdough loaf", 349)}          # CHEESE: no price
HEADLINE = "Today's dairy offers"
MILK_HEADLINE = "Fresh from the farm"
YOG_IMAGE = "http://127.0.0.1/img/yogurt.png"
ZONE_ITEMS = [{"sku": MILK, "headline": MILK_HEADLINE}, {"sku": CHEESE},
              {"sku": YOG, "image": YOG_IMAGE}]
WANT_ITEMS = [{"sku": MILK, "name": PRICES[MILK][0], "price": PRICES[MILK][1],
               "headline": MILK_HEADLINE},
              {"sku": YOG, "name": PRICES[YOG][0], "price": PRICES[YOG][1],
               "image": YOG_IMAGE}]

# entries per 1-minute interval, and whether that interval's end pushes
PLAN = [(12, True), (13, False), (30, True), (0, False), (5, False), (10, True)]
QUIET_S = 0.5    # how long a screen is watched for a push that must not come


class Door:
    """The counter's two GPIO lines in the libgpiod double: crossings as edge records."""

    def __init__(self, chipdir):
        self.fd = {}
        for line in (LINE_A, LINE_B):
            self.fd[line] = os.open(str(chipdir / str(line)), os.O_WRONLY | os.O_NONBLOCK)

    def close(self):
        for fd in self.fd.values():
            os.close(fd)

    def cross_in(self, starts_ms):
        """One person in per start time: A blocks, B blocks 80 ms later, A clears at
        +250 ms, B at +400 ms. Records go out in time order, 2 ms of wall time apart,
        so the driver reads both lines in order."""
        recs = []
        for t in starts_ms:
            ns = t * 1000000
            recs += [(ns, LINE_A, RISING), (ns + 80000000, LINE_B, RISING),
                     (ns + 250000000, LINE_A, FALLING), (ns + 400000000, LINE_B, FALLING)]
        recs.sort()
        for ns, line, kind in recs:
            os.write(self.fd[line], struct.pack("<qii", ns, kind, 0))
            time.sleep(0.002)


def run(ctx):
    t_start = time.monotonic()
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    dairy = H.ScreenServer(ctx, "scr-dairy")
    exit_ = H.ScreenServer(ctx, "scr-exit")
    gpio = ctx.path("gpio")
    (gpio / CHIP).mkdir(parents=True)
    devices = [
        {"name": "dairy-beam", "kind": "camera", "chip": CHIP, "line_a": LINE_A,
         "line_b": LINE_B, "debounce_ms": 30, "zone": "dairy"},
        {"name": "scr-dairy", "kind": "screen", "url": dairy.base + "content", "zone": "dairy"},
        {"name": "scr-exit", "kind": "screen", "url": exit_.base + "content", "zone": "exit"},
    ]
    d = H.Shelfd(ctx, broker.port, devices=devices, binary="shelfd-gpiosim",
                 env={"TZ": "UTC", "SHELF_GPIOD_SIM": str(gpio)},
                 extra={"sensing": {"clock": "devices", "interval_min": 1,
                                    "open": "00:00", "close": "00:00"},
                        "screens": {"zone_rise_min": ZONE_RISE_MIN}})
    rc, out = d.check_config()
    H.check(rc == 0, "shelfd --check-config refuses the config (%d): %s" % (rc, out[-500:]))
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "shelfd connected")
    H.wait_until(lambda: d.device("dairy-beam")["state"] == "open", 10, "dairy-beam open")

    def send_and_ack(topic, payload, what):
        i = len(hq.poll().acks)
        H.publish(ctx, broker, topic, payload)
        return H.wait_until(lambda: hq.poll().acks[i:], 15, "the ack of " + what)[0]

    batch = {"id": "p1", "issued_at": H.iso(), "currency": "EUR",
             "items": [{"sku": s, "price": p, "name": n} for s, (n, p) in PRICES.items()]}
    ack = send_and_ack("shelf/v1/S1/prices", json.dumps(batch), "price batch p1")
    H.check(ack.get("ref") == "p1" and ack.get("status") == "applied", "price batch ack %r" % ack)
    recs = {"id": "r-1", "issued_at": H.iso(), "version": 1, "rules": [],
            "zones": {"dairy": {"headline": HEADLINE, "items": ZONE_ITEMS}}}
    ack = send_and_ack("shelf/v1/S1/recs", json.dumps(recs), "recs set r-1")
    H.check(ack.get("ref") == "r-1" and ack.get("status") == "applied" and ack.get("zones") == 1,
            "recs set ack %r, expected applied with 1 zone" % ack)
    st = d.ctl("recs")[1]
    H.check(st.get("id") == "r-1" and st.get("zones") == ["dairy"],
            "`shelfctl recs` after the set was applied: %r" % st)

    door = Door(gpio / CHIP)
    try:
        return drive(ctx, d, hq, dairy, exit_, door, t_start)
    finally:
        door.close()


def drive(ctx, d, hq, dairy, exit_, door, t_start):
    # Store time starts at the whole minute after next (UTC: intervals are whole minutes).
    m0 = (int(time.time()) // 60 + 2) * 60 * 1000
    ctx.log("store time: interval 1 starts %s", H.iso(m0))

    def beam():
        for s in d.ctl("sensors")[1]["sensors"]:
            if s["name"] == "dairy-beam":
                return s
        raise H.Fail("dairy-beam not in `shelfctl sensors`")

    def footfall(frm_ms):
        """HQ's footfall interval event of dairy-beam starting at @frm_ms, or None."""
        for ev in hq.poll().first.values():
            if ev.get("type") == "footfall" and ev.get("source") == "dairy-beam" \
                    and ev.get("period") == "interval" \
                    and abs(H.ms_of(ev.get("from", "1970-01-01T00:00:00Z")) - frm_ms) < 1:
                return ev
        return None

    def screens():
        return {s["name"]: s for s in d.ctl("screens")[1]["screens"]}

    def ok_posts(scr):
        return [p for p in scr.posts() if p.get("status") == 200]

    def check_zone_content(c, version, t_end, what):
        H.check(isinstance(c, dict), "%s: scr-dairy shows nothing (%r)" % (what, c))
        problems = []
        for k, v in (("version", version), ("store", "S1"), ("screen", "scr-dairy"),
                     ("zone", "dairy"), ("kind", "zone"), ("headline", HEADLINE),
                     ("currency", "EUR")):
            if c.get(k) != v:
                problems.append("%s %r != %r" % (k, c.get(k), v))
        if c.get("items") != WANT_ITEMS:
            problems.append("items %s != %s (the priced zone items, in the zone's order, "
                            "with the price table's names and prices; %s has no price)"
                            % (json.dumps(c.get("items")), json.dumps(WANT_ITEMS), CHEESE))
        try:
            ts = H.ms_of(c.get("ts", "")) / 1000
            if not t_end - 1 <= ts <= time.time() + 1:
                problems.append("ts %s is not the time the push was made" % c.get("ts"))
        except (ValueError, AttributeError, TypeError):
            problems.append("ts %r is not RFC 3339" % c.get("ts"))
        H.check(not problems, "%s: %s\n(content: %s)" % (what, "; ".join(problems),
                                                        json.dumps(c)[:1500]))

    def check_interval(k, t_write):
        """Interval k (0-based) has ended: HQ has its count; the dairy screen got the
        zone content if it was a rise, nothing otherwise."""
        n = PLAN[k][0]
        prev = PLAN[k - 1][0] if k else 0
        frm = m0 + k * 60000
        ev = H.wait_until(lambda: footfall(frm), 10, "HQ's footfall event of interval %d (%s)"
                          % (k + 1, H.iso(frm)))
        H.check(ev.get("in") == n and ev.get("zone") == "dairy",
                "footfall event of interval %d: in %r zone %r, expected in %d zone dairy (%r)"
                % (k + 1, ev.get("in"), ev.get("zone"), n, ev))
        figures.append(str(n))
        if PLAN[k][1]:
            try:
                p = H.wait_until(lambda: ok_posts(dairy)[len(versions):], 5,
                                 "scr-dairy's zone content", interval=0.02)[0]
            except H.Fail:
                raise H.Fail("scr-dairy got no zone content within 5 s of interval %d's "
                             "footfall event (in %d, previous %d, zone_rise_min %d: a rise, "
                             "both bounds are >=); its requests: %r; shelfctl screens: %r"
                             % (k + 1, n, prev, ZONE_RISE_MIN, dairy.posts(),
                                screens().get("scr-dairy")))
            H.check(not versions or p["version"] > versions[-1],
                    "the push after interval %d came with version %r, not above the "
                    "previous %r" % (k + 1, p["version"], versions and versions[-1]))
            versions.append(p["version"])
            check_zone_content(dairy.content(), p["version"], t_write,
                               "scr-dairy after interval %d (%d in)" % (k + 1, n))
            ctx.log("interval %d: %d in (previous %d) -> scr-dairy version %d",
                    k + 1, n, prev, p["version"])
        else:
            # the decision is taken when the event is recorded: no push is counted
            # now, and none reaches the screen
            pushed = screens()["scr-dairy"]["pushes"]
            H.check(pushed == len(versions),
                    "after interval %d (%d in, previous %d, zone_rise_min %d): `shelfctl "
                    "screens` counts %d pushes to scr-dairy, expected %d (no rise)"
                    % (k + 1, n, prev, ZONE_RISE_MIN, pushed, len(versions)))
            time.sleep(QUIET_S)
            got = ok_posts(dairy)
            H.check(len(got) == len(versions),
                    "scr-dairy got content after interval %d (%d in, previous %d, "
                    "zone_rise_min %d): %r" % (k + 1, n, prev, ZONE_RISE_MIN,
                                               got[len(versions):]))
            ctx.log("interval %d: %d in (previous %d) -> nothing pushed", k + 1, n, prev)

    total = 0
    versions = []
    figures = []
    checked = 0
    # one more crossing a minute after the plan ends its last interval
    for k, n in enumerate([n for n, _ in PLAN] + [1]):
        if not n:
            continue    # an empty minute: it ends with the next crossing
        start = m0 + k * 60000
        t_write = time.time()
        door.cross_in([start + 2000 + j * 1000 for j in range(n)])
        total += n
        H.wait_until(lambda: beam()["in"] >= total, 10,
                     "dairy-beam to count %d in (interval %d)" % (total, k + 1))
        b = beam()
        H.check(b["in"] == total and b["out"] == 0 and b["uturns"] == 0
                and b["ambiguous"] == 0,
                "dairy-beam after interval %d's crossings: in %s out %s uturns %s "
                "ambiguous %s, expected in %d and nothing else (the edges were written "
                "A then B)" % (k + 1, b["in"], b["out"], b["uturns"], b["ambiguous"], total))
        if k == 0:
            # the interval is still open: nothing may be shown yet
            H.check(dairy.posts() == [] and screens()["scr-dairy"]["pushes"] == 0,
                    "scr-dairy got content before the first interval ended: %r"
                    % dairy.posts())
        # the first crossing of this minute ended every interval before it
        while checked < k:
            check_interval(checked, t_write)
            checked += 1

    # the whole picture, as the screens and shelfctl see it
    time.sleep(QUIET_S)
    want_pushes = sum(1 for _, pu in PLAN if pu)
    posts = dairy.posts()
    H.check([x.get("version") for x in posts] == versions
            and all(x.get("status") == 200 for x in posts),
            "scr-dairy's requests %r, expected exactly the versions %r, each answered 200"
            % ([(x.get("version"), x.get("status")) for x in posts], versions))
    H.check(exit_.posts() == [] and exit_.content() is None,
            "scr-exit (zone exit) received content: %r" % exit_.posts())
    sc = screens()
    sd, se = sc.get("scr-dairy", {}), sc.get("scr-exit", {})
    H.check(sd.get("pushes") == want_pushes and sd.get("state") == "ok"
            and sd.get("version_shown") == versions[-1]
            and sd.get("version_wanted") == versions[-1] and sd.get("zone") == "dairy",
            "`shelfctl screens` scr-dairy: %r, expected pushes %d, state ok, version_shown "
            "and version_wanted %d" % (sd, want_pushes, versions[-1]))
    H.check(se.get("pushes") == 0 and se.get("state") == "never" and se.get("zone") == "exit",
            "`shelfctl screens` scr-exit: %r, expected pushes 0, state never" % se)
    H.check(d.alive(), "shelfd exited: %s" % d.tail(20))
    dt = time.monotonic() - t_start
    return ("footfall %s -> scr-dairy %d zone pushes (versions rising), scr-exit none; "
            "driven in %.1fs" % ("/".join(figures), len(versions), dt))


if __name__ == "__main__":
    H.main(run, __doc__)
