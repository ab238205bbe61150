#!/usr/bin/env python3
"""(c) shelfd killed with SIGKILL at random moments during ingest and during drain.

Covers: crash safety of the outbox and of delivery. One POS simulator keeps
the pty master open for the whole scenario (the device never vanishes);
shelfd is killed with SIGKILL at least 20 times and restarted at once on the
same data dir and the same pty link:
  1. ingest, broker up: 12 kills at random moments (some during start-up)
     while the POS writes sales as fast as the line takes them;
  2. ingest, broker down: 2 kills while the backlog builds up;
  3. drain, broker back, POS paused: kills while the backlog is being
     published, each a random 0-100 ms after the run's first message reached
     HQ (rebuilding a backlog if it ran dry), at least 8 of them;
  4. a final clean run that drains everything, then SIGTERM (exit 0).
Then, at HQ (persistent session, broker with persistence):
  - the seqs received form one contiguous range, no gaps (=> no committed
    event missing), the last one is the daemon's outbox.last_seq, and it
    covers every outbox.last_seq `shelfctl status` reported just before a
    kill (about half the kills ask first);
  - a seq received twice is the same event both times (no seq reused);
  - every duplicated seq is attributable to a kill or a broker restart
    (its copies straddle one), and no disruption caused more duplicates
    than the in-flight window, max_inflight * batch_max_events (every
    message published but not yet acked-and-deleted at the kill is sent
    again; with max_inflight 1 that is "within one batch of the kill");
    total duplicates are reported beside kills * batch_max_events;
  - no receipt was committed twice and none appeared that the POS did not
    write.
Reported, not failed: how many receipts the POS wrote that were never
committed (bytes still in the pty buffer or read but uncommitted at a kill,
and bytes flushed when the port is reopened).
Set SEED=n to replay a run's kill times.
"""
import os
import random
import time

import harness as H

RATE = 0           # as fast as the line takes them: big backlogs quickly
BATCH = 50         # batch_max_events: small batches, many messages per drain
INFLIGHT = 16
KILLS_INGEST = 12
KILLS_OFFLINE = 2
KILLS_DRAIN = 8
MIN_KILLS = 20
BUDGET_S = 100     # the kill phases stop adding kills after this


def run(ctx):
    seed = int(os.environ.get("SEED") or time.time_ns() % 1000000)
    rng = random.Random(seed)
    ctx.log("seed %d", seed)
    broker = H.Broker(ctx, persistence=True)
    broker.start()
    hq = H.HQ(ctx, broker, persistent=True, keep_full=False)
    hq.start()
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=0, rate=RATE, stall_ms=300)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link,
                 hq={"batch_max_events": BATCH, "max_inflight": INFLIGHT})
    d.start()
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")

    kills = []          # (wall time, phase)
    disruptions = []    # wall times of kills and broker stops
    t_start = time.monotonic()

    claims = []         # outbox.last_seq reported by `shelfctl status` just before a kill

    def kill(phase):
        H.check(d.alive(), "shelfd died by itself (phase %s, exit %s):\n%s"
                % (phase, d.proc.returncode, d.tail()))
        if rng.random() < 0.5:
            rc, st = d.ctl("status", check=False, timeout=5)
            if rc == 0 and st["outbox"].get("last_seq"):
                claims.append(st["outbox"]["last_seq"])
        d.kill9()
        now = time.time()
        kills.append((now, phase))
        disruptions.append(now)

    def lifetime(lo, hi, phase):
        d.start(wait=False)
        end = time.monotonic() + rng.uniform(lo, hi)
        while time.monotonic() < end:
            hq.poll()
            time.sleep(0.01)
        kill(phase)

    # 1. ingest with the broker up
    sim.resume()
    time.sleep(rng.uniform(0.2, 1.0))
    kill("ingest")
    for _ in range(KILLS_INGEST - 1):
        lifetime(0.05, 1.2, "ingest")
    ctx.log("phase 1: %d kills, HQ %s", len(kills), hq.poll().summary())

    # 2. ingest with the broker down: the backlog builds up
    broker.stop()
    disruptions.append(time.time())
    for _ in range(KILLS_OFFLINE):
        lifetime(0.5, 1.5, "offline")
    d.start(wait=False)
    time.sleep(1.5)
    kill("offline")
    sim.pause()
    time.sleep(0.1)
    broker.start()
    ctx.log("phase 2: %d kills, backlog built, broker back", len(kills))

    # 3. drain: kill while the backlog is being published. Each run is killed
    # a random moment (0-100 ms) after its first message reaches HQ (seen in
    # the subscriber's raw output: parsing can wait). A kill counts as
    # mid-drain when the next run delivers seqs HQ never had, with the POS
    # paused: the backlog was not empty. A run that publishes nothing
    # within 3 s means the backlog ran dry, and another one is built.
    drain_busy = 0
    rebuilds = 0
    pending = False       # the last drain kill awaits its verdict

    def events_since(off):
        # an events message in the subscriber's output after @off (no parsing)
        with open(hq.out, "rb") as f:
            f.seek(off)
            return b"/events/" in f.read()
    while (drain_busy < KILLS_DRAIN or len(kills) < MIN_KILLS) and \
            time.monotonic() - t_start < BUDGET_S:
        distinct0 = hq.poll().distinct()
        size0 = os.path.getsize(hq.out)
        d.start(wait=False)
        end = time.monotonic() + 3.0
        while time.monotonic() < end and not events_since(size0):
            time.sleep(0.002)
        if not events_since(size0):
            # the backlog ran dry: build another one with the broker down
            kill("drain")
            pending = False
            rebuilds += 1
            broker.stop()
            disruptions.append(time.time())
            d.start(wait=False)
            sim.resume()
            time.sleep(2.5)
            sim.pause()
            time.sleep(0.2)
            kill("offline")
            broker.start()
            continue
        time.sleep(rng.uniform(0, 0.1))
        kill("drain")
        if pending and hq.poll().distinct() > distinct0:
            drain_busy += 1
        pending = True
    n_kills = len(kills)
    ctx.log("phase 3: %d kills in all (%d mid-drain), %d backlog rebuilds, HQ %s",
            n_kills, drain_busy, rebuilds, hq.poll().summary())

    # 4. the final clean run drains everything
    d.start()
    H.wait_until(lambda: d.ctl("outbox")[1].get("depth") == 0, 60,
                 "the final run to drain the outbox (depth 0)", interval=0.2)
    hq.settle(1.0)
    st = d.status()
    last_seq = st["outbox"]["last_seq"]
    dropped = st["outbox"]["dropped"]
    rc = d.stop()
    res = sim.stop()
    c = hq.poll()

    H.check(n_kills >= MIN_KILLS, "only %d kills within the time budget" % n_kills)
    H.check(rc == 0, "the final shelfd exited %r on SIGTERM" % rc)
    H.check(not c.bad, "bad payloads at HQ: %s" % c.bad[:3])
    H.check(c.distinct() > 0, "nothing arrived at HQ")
    H.check(c.gaps() == 0, "seqs at HQ are not contiguous: %d missing inside %d..%d, "
            "first gaps %s" % (c.gaps(), min(c.count), max(c.count), c.gap_ranges()))
    H.check(max(c.count) == last_seq, "highest seq at HQ %d != shelfd outbox.last_seq %r"
            % (max(c.count), last_seq))
    H.check(not claims or max(claims) <= max(c.count),
            "shelfd reported outbox.last_seq %d before a kill, but HQ's highest seq is %d: "
            "committed events lost" % (max(claims or [0]), max(c.count)))
    H.check(not claims or min(claims) >= min(c.count),
            "a last_seq reported before a kill (%d) is below HQ's lowest seq %d"
            % (min(claims or [0]), min(c.count)))
    H.check(not dropped, "outbox dropped events: %r" % dropped)
    H.check(c.unsorted_msgs == 0, "%d messages with seqs not ascending" % c.unsorted_msgs)

    # duplicates: each pair of copies must straddle a disruption
    unattributed = 0
    per = {}
    for seq, times in c.arrivals.items():
        if len(times) < 2:
            continue
        times = sorted(times)
        for t1, t2 in zip(times, times[1:]):
            ds = [x for x in disruptions if t1 - 0.5 < x < t2]
            if not ds:
                unattributed += 1
            else:
                per[ds[-1]] = per.get(ds[-1], 0) + 1
    dups = c.duplicates()
    worst = max(per.values()) if per else 0
    window = INFLIGHT * BATCH
    dbl = c.double_committed()
    written = sim.written_numbers()
    got = c.receipt_numbers()
    phantom = got - written
    lost = len(written - got)
    ctx.note("POS wrote %d receipts whole, %d committed and delivered; %d written but never "
             "committed (in the pty buffer / read but uncommitted at a kill, or flushed at "
             "reopen): %.1f per kill" % (len(written), len(got), lost, lost / n_kills))
    ctx.note("duplicates: %d in all over %d kills + %d broker restarts (kills * batch_max_events "
             "= %d); at most %d after one disruption (in-flight window max_inflight * "
             "batch_max_events = %d)" % (dups, n_kills, len(disruptions) - n_kills,
                                         n_kills * BATCH, worst, window))
    ctx.note("%d kills asked `shelfctl status` first: every outbox.last_seq reported "
             "arrived at HQ" % len(claims))
    H.check(unattributed == 0, "%d duplicates not attributable to a kill or broker restart "
            "(copies within one shelfd lifetime)" % unattributed)
    H.check(worst <= window, "%d duplicates after one kill > the in-flight window "
            "max_inflight (%d) * batch_max_events (%d)" % (worst, INFLIGHT, BATCH))
    H.check(not dbl, "receipts committed under several seqs (ingested twice): %s" % dbl[:5])
    H.check(not phantom, "receipts at HQ the POS never wrote whole: %s" % sorted(phantom)[:10])
    return ("%d SIGKILLs (%d ingest, %d offline, %d drain of which %d mid-publish; seed %d); "
            "%d seqs contiguous %d..%d, 0 missing; %d duplicates (worst kill %d, window %d); "
            "%d receipts written but never committed; final SIGTERM exit 0"
            % (n_kills, sum(1 for k in kills if k[1] == "ingest"),
               sum(1 for k in kills if k[1] == "offline"),
               sum(1 for k in kills if k[1] == "drain"), drain_busy, seed, c.distinct(),
               min(c.count), max(c.count), dups, worst, window, lost))


if __name__ == "__main__":
    H.main(run, __doc__)
