#!/usr/bin/env python3
"""(o) A sniffer flooding 5,000 lines/s for 60 s: memory stays bounded.

Covers issue 4 item 1 ("a sniffer sending 5,000 lines/s must not grow memory
without bound or write one row per sighting"). scripts/store-sim --rate-test
writes 5,000 probe lines/s (80% new phones, every line form) to a pty for
60 s, in real time. Asserts, from /proc: shelfd's RSS grows by less than
4 MB over its idle baseline and by less than 1 MB over the last 30 s (a
plateau, not a slope); every line was read (sightings + rejects = lines
sent); the open-visit table stays within max_sessions and sheds the excess
(lone sightings evicted, counted); the SQLite file does not grow by a row per sighting (< 2 MB).
Reports CPU% of one core.
"""
import json
import os
import subprocess
import sys
import time

import harness as H

RATE = 5000
DURATION = 60


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def db_bytes(d):
    return sum(p.stat().st_size for p in d.data.iterdir() if p.name.startswith("shelfd.db"))


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    link = ctx.path("probe1")
    go = ctx.path("go")
    d = H.Shelfd(ctx, broker.port, devices=[
        {"name": "probe1", "kind": "probe", "port": str(link), "baud": 921600}])
    sim_err = open(ctx.path("store-sim.stderr"), "wb")
    ctx.logs.append(("store-sim stderr", str(ctx.path("store-sim.stderr"))))
    sim = subprocess.Popen([sys.executable, str(H.REPO / "scripts" / "store-sim"),
                            "--probe", "probe1=%s" % link, "--rate-test", str(RATE),
                            "--duration", str(DURATION), "--seed", "3",
                            "--wait-file", str(go), "--truth", str(ctx.path("truth.json"))],
                           stdin=subprocess.DEVNULL, stdout=sim_err, stderr=sim_err,
                           env=ctx.env)
    ctx.procs.append(("store-sim", sim, 5))
    d.start()
    H.wait_until(lambda: d.device("probe1")["state"] == "open", 20, "probe1 open")
    time.sleep(1)
    pid = d.proc.pid
    base = rss_kb(pid)
    db0 = db_bytes(d)
    cpu0, t0 = cpu_s(pid), time.monotonic()
    go.write_text("go\n")
    samples = []
    while sim.poll() is None and time.monotonic() - t0 < DURATION + 60:
        samples.append((time.monotonic() - t0, rss_kb(pid)))
        time.sleep(1)
    H.check(sim.returncode == 0, "store-sim exited %s:\n%s"
            % (sim.returncode, H.tail(ctx.path("store-sim.stderr"))))
    cpu = (cpu_s(pid) - cpu0) / (time.monotonic() - t0) * 100
    truth = json.loads(ctx.path("truth.json").read_text())
    sent = truth["devices"]["probe1"]["written"]

    def all_read():
        s = [x for x in d.ctl("sensors")[1]["sensors"] if x["name"] == "probe1"][0]
        return s["lines"] >= sent and s
    s = H.wait_until(all_read, 30, "shelfd to read all %d lines" % sent)
    s = all_read()
    peak = max(r for _, r in samples)
    mid = [r for t, r in samples if t >= DURATION / 2 - 1 and t <= DURATION / 2 + 1]
    end = [r for t, r in samples if t >= DURATION - 2]
    mid = mid[0] if mid else peak
    end_rss = max(end) if end else peak
    _, vis = d.ctl("visits")
    ctx.note("%d lines in %.0f s (%.0f/s): CPU %.1f%% of one core; RSS idle %d kB, peak %d kB "
             "(+%d kB), +%d kB over the last half; open visits %d, lone sightings evicted %d, "
             "dropped %d; db +%d kB"
             % (sent, DURATION, sent / DURATION, cpu, base, peak, peak - base, end_rss - mid,
                vis["open"]["sessions"], vis["evicted"], vis["table_full"],
                (db_bytes(d) - db0) // 1024))
    H.check(sent >= RATE * DURATION * 0.95, "the simulator sent only %d lines" % sent)
    H.check(s["lines"] == sent, "shelfd read %d lines, %d were sent" % (s["lines"], sent))
    H.check(s["sightings"] + sum(s["rejects"].values()) == s["lines"], "sightings + rejects")
    H.check(peak - base < 4096, "RSS grew by %d kB (limit 4096)" % (peak - base))
    H.check(end_rss - mid < 1024, "RSS still growing: +%d kB over the last 30 s" % (end_rss - mid))
    H.check(vis["open"]["sessions"] <= 20000, "open visits over max_sessions")
    H.check(vis["table_full"] + vis["evicted"] > 0,
            "the flood never filled the visit table (expected it to)")
    H.check(db_bytes(d) - db0 < 2 * 1048576, "the database grew by %d bytes"
            % (db_bytes(d) - db0))
    H.check(d.stop() == 0, "shelfd exit status")


if __name__ == "__main__":
    H.main(run, __doc__)
