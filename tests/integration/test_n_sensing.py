#!/usr/bin/env python3
"""(n) Store sensing: a simulated store day replayed fast through real devices.

Covers issue 4 end to end. scripts/store-sim generates a day (a few hundred
phones, 20% with randomized MACs, staff, fixtures, passers-by, people
without phones, U-turns and glitches at the door, sales) and replays it at
~1000x into a probe sniffer on a pty, the door beam's two GPIO lines (the
libgpiod test double's FIFOs, read by BUILD/shelfd-gpiosim) and a till on a
pty, with the simulated times in the data. shelfd runs with a TZ in which
the day starts at 07:25 local, so the opening hours (08:00-22:00) and the
midnight key rotation fall inside the replay.

Checks against the simulator's ground truth:
- footfall: per 5-minute interval in/out equal the truth exactly; U-turns
  and glitches are not people; the closing drift is the truth's IN - OUT;
- visits: each class (passer_by, visitor, engaged) within 10% of the truth;
  >= 90% of the non-randomized phones' visits appear with their exact first
  and last sighting times; no staff or fixture visit is sent;
- the day KPI: entries, exits and receipts exact; visitors within 10%;
  conversion = receipts / entries;
- privacy: no MAC the simulator sent, in any spelling, appears in the SQLite
  files, shelfd's log, or any MQTT payload HQ received;
- shelfctl sensors / visits / kpi answer (tables and --json).
"""
import datetime
import json
import os
import re
import subprocess
import sys
import time

import harness as H

SPEED = 1000
TOL = 0.10


def ts_ms(s):
    """RFC 3339 UTC with milliseconds -> epoch ms."""
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(round(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))


def tz_for_local(start_s, hh, mm):
    """A POSIX TZ string in which epoch second @start_s is hh:mm local."""
    utc_min = (int(start_s) // 60) % 1440
    off = (utc_min - (hh * 60 + mm)) % 1440  # local = UTC - off
    return "SIM+%d:%02d" % (off // 60, off % 60)


MAC_RE = re.compile(rb"(?i)(?<![0-9a-f])(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}(?![0-9a-f])|"
                    rb"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")


def scan_memory(pid, macs):
    """The simulator's MACs (as 12 lowercase hex digits) found as text in
    the writable memory of process @pid (heap, stack, anonymous maps), read
    in chunks; regions over 1 GiB (a sanitizer's shadow memory) are skipped."""
    want = {re.sub(r"[^0-9a-f]", "", m.lower()) for m in macs}
    found = set()
    chunk = 16 << 20
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            if "w" not in parts[1]:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > 1 << 30:
                continue
            pos = lo
            while pos < hi:
                try:
                    mem.seek(pos)
                    # overlap by 16 bytes so a MAC across two chunks is seen
                    data = mem.read(min(chunk + 16, hi - pos))
                except (OSError, ValueError, OverflowError):
                    break
                for m in MAC_RE.finditer(data):
                    h = re.sub(rb"[^0-9a-fA-F]", b"", m.group(0)).decode().lower()
                    if h in want:
                        found.add(h)
                pos += chunk
    return found


def near(got, want, tol, what):
    H.check(abs(got - want) <= max(2, tol * want),
            "%s: got %d, the simulator says %d (tolerance %d%%)" % (what, got, want, tol * 100))


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()

    gpio = ctx.path("gpio")
    (gpio / "gpiochip0").mkdir(parents=True)
    probe_link = ctx.path("probe1")
    pos_link = ctx.path("till1")
    go = ctx.path("go")
    truth_path = ctx.path("truth.json")

    # The day starts at the next whole minute + 20 s margin, 07:25 local.
    start_s = (int(time.time()) // 60 + 2) * 60
    tz = tz_for_local(start_s, 7, 25)
    start_ms = start_s * 1000
    open_ms = start_ms + 35 * 60000
    ctx.note("TZ=%s, the simulated day starts %s" % (tz, time.strftime(
        "%H:%M:%S", time.gmtime(start_s))))
    env = dict(ctx.env)
    env["TZ"] = tz
    sim_argv = [sys.executable, str(H.REPO / "scripts" / "store-sim"),
                "--probe", "probe1=%s" % probe_link,
                "--gpio-dir", str(gpio), "--chip", "gpiochip0", "--door-lines", "17,18",
                "--pos", str(pos_link), "--start", str(start_ms), "--open-at", str(open_ms),
                "--hours", "14", "--tail-min", "160", "--speed", str(SPEED),
                "--seed", "7", "--truth", str(truth_path), "--wait-file", str(go)]
    sim_err = open(ctx.path("store-sim.stderr"), "wb")
    ctx.logs.append(("store-sim stderr", str(ctx.path("store-sim.stderr"))))
    sim = subprocess.Popen(sim_argv, stdin=subprocess.DEVNULL, stdout=sim_err, stderr=sim_err,
                           env=env)
    ctx.procs.append(("store-sim", sim, 5))

    devices = [
        {"name": "probe1", "kind": "probe", "port": str(probe_link), "zone": "floor"},
        {"name": "door", "kind": "camera", "chip": "gpiochip0", "line_a": 17, "line_b": 18,
         "debounce_ms": 30, "zone": "entrance"},
    ]
    d = H.Shelfd(ctx, broker.port, link=pos_link, devices=devices, binary="shelfd-gpiosim",
                 env={"TZ": tz, "SHELF_GPIOD_SIM": str(gpio)},
                 extra={"sensing": {"open": "08:00", "close": "22:00", "clock": "devices"}})
    d.start()
    H.wait_until(lambda: all(d.device(n)["state"] == "open" for n in ("probe1", "door", "till1")),
                 20, "probe1, door and till1 open")
    go.write_text("go\n")
    t0 = time.monotonic()
    try:
        sim.wait(240)
    except subprocess.TimeoutExpired:
        raise H.Fail("store-sim did not finish within 240 s:\n%s"
                     % H.tail(ctx.path("store-sim.stderr")))
    H.check(sim.returncode == 0, "store-sim exited %d:\n%s"
            % (sim.returncode, H.tail(ctx.path("store-sim.stderr"))))
    ctx.log("replay done in %.1f s", time.monotonic() - t0)
    truth = json.loads(truth_path.read_text())
    summary = H.tail(ctx.path("store-sim.stderr"), 3)
    ctx.note("store-sim: %s" % summary.strip().splitlines()[-1][:300])

    # Everything the day produced reaches HQ (the day KPI comes last).
    def day_kpi():
        hq.poll()
        return [e for e in hq.counter.first.values()
                if e.get("type") == "kpi" and e.get("period") == "day"]
    H.wait_until(lambda: day_kpi(), 60, "the day KPI event at HQ")
    hq.settle(quiet=1.5, timeout=30)
    events = list(hq.counter.first.values())

    def of(type_, **kw):
        return [e for e in events if e.get("type") == type_ and
                all(e.get(k) == v for k, v in kw.items())]

    # --- footfall: exact per interval ---
    ff = of("footfall", period="interval")
    got_in = sum(e["in"] for e in ff)
    got_out = sum(e["out"] for e in ff)
    door = truth["door"]
    ctx.note("footfall: in %d out %d (truth %d/%d), u-turns %d glitches %d (truth %d/%d)"
             % (got_in, got_out, door["entries"], door["exits"], sum(e["uturns"] for e in ff),
                sum(e["glitches"] for e in ff), door["uturns"], door["glitches"]))
    H.check(got_in == door["entries"] and got_out == door["exits"],
            "footfall in/out %d/%d, the simulator crossed the door %d/%d"
            % (got_in, got_out, door["entries"], door["exits"]))
    H.check(sum(e["uturns"] for e in ff) == door["uturns"], "u-turns differ")
    H.check(sum(e["glitches"] for e in ff) == door["glitches"], "glitches differ")
    by_from = {}
    for e in ff:
        by_from[ts_ms(e["from"])] = (e["in"], e["out"])
    bad = []
    for iv in truth["intervals"]:
        got = by_from.get(iv["start_ms"], (0, 0))
        if got != (iv["entries"], iv["exits"]):
            bad.append((iv["start_ms"], got, (iv["entries"], iv["exits"])))
    H.check(not bad, "%d intervals differ, first: %r" % (len(bad), bad[:3]))
    close = of("footfall", period="close")
    H.check(len(close) == 1, "one closing-drift event expected, got %d" % len(close))
    H.check(close[0]["drift"] == door["inside_at_close"],
            "closing drift %d, the simulator says %d inside at closing time"
            % (close[0]["drift"], door["inside_at_close"]))

    # --- visits ---
    visits = of("visit")
    cls = {}
    for v in visits:
        cls[v["class"]] = cls.get(v["class"], 0) + 1
    c = truth["counts"]
    want = {"visitor": c["visitors"], "engaged": c["engaged"], "passer_by": c["passers_by"]}
    ctx.note("visits: %r; truth %r" % (cls, want))
    for k in ("visitor", "engaged", "passer_by"):
        near(cls.get(k, 0), want[k], TOL, "%s visits" % k)
    H.check("staff" not in cls, "staff visits must not be sent")
    H.check(all(v["dwell_s"] < 4 * 3600 for v in visits), "a visit of 4 h or more was sent")
    spans = {(ts_ms(v["first"]), ts_ms(v["last"])) for v in visits}
    known = [r for r in truth["visits"]
             if r["kind"] in ("shopper", "passer") and not r.get("open_at_end")]
    hit = sum(1 for r in known if (r["first_ms"], r["last_ms"]) in spans)
    ctx.note("%d of %d non-randomized phone visits found with exact first/last" % (hit,
                                                                                   len(known)))
    H.check(hit >= 0.9 * len(known), "only %d of %d phone visits matched" % (hit, len(known)))
    H.check(all(re.fullmatch(r"[0-9a-f]{16}", v["pseudonym"]) for v in visits),
            "pseudonyms are 16 hex digits")

    # --- the day KPI ---
    k = day_kpi()
    H.check(len(k) == 1, "one day KPI expected, got %d" % len(k))
    k = k[0]
    ctx.note("day KPI: %s" % json.dumps({x: k[x] for x in (
        "entries", "exits", "visitors", "passers_by", "receipts", "capture_rate", "conversion",
        "dwell_avg_s", "dwell_median_s", "repeat_share")}))
    H.check(k["entries"] == door["entries"] and k["exits"] == door["exits"],
            "day KPI entries/exits %d/%d, truth %d/%d" % (k["entries"], k["exits"],
                                                          door["entries"], door["exits"]))
    H.check(k["receipts"] == truth["receipts"]["total"], "day KPI receipts %d, truth %d"
            % (k["receipts"], truth["receipts"]["total"]))
    near(k["visitors"], want["visitor"] + want["engaged"], TOL, "day KPI visitors")
    H.check(abs(k["conversion"] - k["receipts"] / k["entries"]) < 1e-3, "conversion")
    H.check(k["capture_rate"] is not None and 0 < k["capture_rate"] < 1, "capture rate")
    ivs = of("kpi", period="interval")
    H.check(len(ivs) >= 14 * 12, "interval KPIs: %d" % len(ivs))
    H.check(sum(e["entries"] for e in ivs) == door["entries"], "interval KPI entries add up")

    # --- shelfctl ---
    _, sen = d.ctl("sensors")
    p1 = [s for s in sen["sensors"] if s["name"] == "probe1"][0]
    H.check(p1["sightings"] + sum(p1["rejects"].values()) == p1["lines"],
            "sensors: sightings + rejects != lines: %r" % p1)
    H.check(p1["lines"] == truth["lines_written"]["probe1"], "probe1 lines %d, sent %d"
            % (p1["lines"], truth["lines_written"]["probe1"]))
    _, vis = d.ctl("visits")
    H.check(vis["midnight_joins"] >= 1, "no visit continued across midnight: %r" % vis)
    for args in (("sensors",), ("visits",), ("visits", "--open"), ("kpi",), ("kpi", "--today"),
                 ("kpi", "--interval")):
        rc, out = d.ctl(*args, as_json=False)
        H.check(rc == 0 and out.strip(), "shelfctl %s printed nothing" % " ".join(args))
    rc, out = d.ctl("kpi", "--today", as_json=False)
    ctx.log("shelfctl kpi --today:\n%s", out)

    # --- privacy in memory: no raw MAC text left in shelfd's memory either ---
    in_mem = scan_memory(d.proc.pid, truth["macs"])
    ctx.note("memory of the running shelfd: %d raw MACs found" % len(in_mem))
    H.check(not in_mem, "raw MACs in shelfd's memory: %r" % sorted(in_mem)[:5])
    H.check(d.stop() == 0, "shelfd exit status")

    # --- privacy: no raw MAC anywhere ---
    blobs = {}
    for p in d.data.iterdir():
        if p.is_file():
            blobs[str(p)] = p.read_bytes().lower()
    blobs["shelfd log"] = open(d.errpath, "rb").read().lower()
    blobs["MQTT payloads"] = open(hq.out, "rb").read().lower()
    macs = set()
    for m in truth["macs"]:
        hexs = re.sub(r"[^0-9a-fA-F]", "", m).lower()
        pairs = [hexs[i:i + 2] for i in range(0, 12, 2)]
        macs.update({":".join(pairs), "-".join(pairs), hexs})
    found = [(m, where) for m in macs for where, b in blobs.items() if m.encode() in b]
    ctx.note("privacy: %d MAC spellings searched in %d files, found %d" % (len(macs), len(blobs),
                                                                          len(found)))
    H.check(len(truth["macs"]) > 300, "the simulator reported only %d MACs" % len(truth["macs"]))
    H.check(not found, "raw MACs found: %r" % found[:5])


if __name__ == "__main__":
    H.main(run, __doc__)
