#!/usr/bin/env python3
"""(t) Perishable markdown through shelfd with HQ away: steps on time, floor, daily limit.

Covers issue 5's markdown (agent/markdown.h, notes/issue5-contract.md) end
to end. SKU M-1 is priced 1000, then HQ sends markdown.set: regular 1000,
floor 450, at most 2 changes per local day, table 3 h left 20%, 2 h 40%,
1 h 60%, one lot L1 expiring 2 h 15 s after the command. The ack is
"applied" with the next step; 20% applies at once (800); then the broker
is STOPPED and everything else happens offline: 40% (600) at expiry - 2 h,
~15 s later, on time by the gateway's clock; the 60% step due at expiry -
1 h is blocked by the daily limit (2 changes used): after a restart under
libfaketime at 8 s before the next local midnight (after expiry - 1 h, same
day) the price is still 600 and `shelfctl markdown` shows next.delayed true
at midnight; at midnight the step is applied (60% of 1000 is 400, floored
to 450, event floored and delayed true); after a restart 5 s before the
lot's expiry the price is still 450 (never raised before the lot ends) and
at expiry it goes back to 1000 (restore, the 2nd change of the new day).
Then the broker returns and HQ receives the four "markdown" events in
order, each with the contract's fields.

The local day: shelfd runs with a fixed POSIX TZ chosen at start so that
the next local midnight falls 1 h 45 min after the start (local time is
22:15 at the start, whatever the real time of day): expiry - 1 h (1 h 0 min
15 s after the command) and the next midnight are in that order with room
on both sides.
"""
import time

import harness as H

H_MS = 3600 * 1000
MIN_MS = 60000
SKU = "M-1"


def tz_midnight_at(midnight_ms):
    """A POSIX TZ string (no DST) in which @midnight_ms (a whole UTC minute) is 00:00 local."""
    off = (midnight_ms // MIN_MS) % 1440          # local = UTC - off minutes
    return "LOC+%d:%02d" % (off // 60, off % 60)


def run(ctx):
    broker = H.Broker(ctx, persistence=True)
    broker.start()
    hq = H.HQ(ctx, broker, persistent=True)
    hq.start()
    # The next local midnight D1: 1 h 45 min from now, on a whole minute.
    d1 = (H.now_ms() + 105 * MIN_MS) // MIN_MS * MIN_MS
    tz = tz_midnight_at(d1)
    ctx.note("TZ=%s: the next local midnight is %s (UTC)" % (tz, H.iso(d1)))
    d = H.Shelfd(ctx, broker.port, env={"TZ": tz})
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected")

    def acks(ref):
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == ref]

    def mdevents():
        hq.poll()
        return sorted((e for e in hq.counter.first.values() if e.get("type") == "markdown"),
                      key=lambda e: e["seq"])

    history = []   # (real ms, price) as `shelfctl prices get` showed it

    def price():
        rc, v = d.ctl("prices", "get", SKU, check=False)
        p = v["price"]["price"] if rc == 0 else None
        if p is not None and (not history or history[-1][1] != p):
            history.append((H.now_ms(), p))
        return p

    def md():
        v = d.ctl("markdown")[1]
        hits = [s for s in v.get("skus", []) if s.get("sku") == SKU]
        H.check(len(hits) == 1, "`shelfctl markdown` lists %s %d times: %.600r"
                % (SKU, len(hits), v))
        return hits[0]

    def wait_price(want, planned_ms, offset_ms, what, timeout):
        """Poll until the price is @want; it must not change before @planned_ms (shelfd's
        clock, running @offset_ms ahead of ours). Returns the delay after planned, in ms."""
        end = time.monotonic() + timeout
        while True:
            before = H.now_ms() + offset_ms
            p = price()
            if p == want:
                H.check(before >= planned_ms - 50,
                        "%s: the price became %s at %s, before it was due at %s"
                        % (what, want, H.iso(before), H.iso(planned_ms)))
                return max(0, before - planned_ms)
            if time.monotonic() > end:
                raise H.Fail("%s: price %s, still not %s %.1f s after it was due at %s "
                             "(shelfd's clock); markdown %r"
                             % (what, p, want, (before - planned_ms) / 1000.0, H.iso(planned_ms),
                                md()))
            time.sleep(0.02)

    # ---- the price, then the markdown command (broker up)
    H.publish(ctx, broker, "shelf/v1/S1/prices", {
        "id": "p-m1", "issued_at": H.iso(H.now_ms()), "currency": "EUR",
        "items": [{"sku": SKU, "price": 1000, "name": "Salad bowl"}]})
    H.wait_until(lambda: price() == 1000, 10, "M-1 priced 1000")
    t_cmd = H.now_ms()
    exp = t_cmd + 2 * H_MS + 15000
    H.check(exp - H_MS < d1 - 10 * MIN_MS and exp > d1 + 10 * MIN_MS,
            "test set-up: expiry - 1 h %s, midnight %s, expiry %s out of order"
            % (H.iso(exp - H_MS), H.iso(d1), H.iso(exp)))
    H.publish(ctx, broker, "shelf/v1/S1/cmd", {
        "id": "md-1", "issued_at": H.iso(t_cmd), "action": "markdown.set", "sku": SKU,
        "regular": 1000, "floor": 450, "max_changes_per_day": 2,
        "table": [{"hours_left": 3, "percent": 20}, {"hours_left": 2, "percent": 40},
                  {"hours_left": 1, "percent": 60}],
        "lots": [{"lot": "L1", "expires_at": H.iso(exp), "quantity": 10}]})
    a = H.wait_until(lambda: acks("md-1"), 10, "the markdown.set ack")[-1]
    # "next" in the ack: the contract does not say whether it is the step due at
    # once (20%, at the command's time) or the one after it (40% at expiry - 2 h).
    nx = a.get("next") or {}
    at = H.ms_of(nx.get("at")) if nx.get("at") else None
    first = at is not None and abs(at - t_cmd) < 5000 and nx.get("price") == 800 \
        and nx.get("percent") == 20
    second = at == exp - 2 * H_MS and nx.get("price") == 600 and nx.get("percent") == 40
    H.check(a.get("status") == "applied" and a.get("sku") == SKU and nx.get("kind") == "set"
            and (first or second),
            "markdown.set ack: expected applied, next = set 800 (20%%) now or set 600 (40%%) at "
            "%s: %r" % (H.iso(exp - 2 * H_MS), a))
    ctx.note("the markdown.set ack's next is %s" % (
        "the step due at once (set 800, 20%)" if first else "the step after it (set 600, 40%)"))
    d800 = wait_price(800, t_cmd, 0, "the 20% step at the command", 5)
    rc, v = d.ctl("prices", "get", SKU)
    batch = v["price"].get("batch_id", v["price"].get("batch")) or ""
    H.check(batch.startswith("md:%s:" % SKU), "M-1's batch %r: expected md:M-1:MS" % batch)

    # ---- HQ away from here on
    broker.stop()
    H.wait_until(lambda: d.status()["hq"]["state"] != "connected", 10, "shelfd sees HQ away")
    d600 = wait_price(600, exp - 2 * H_MS, 0, "the 40% step (expiry - 2 h)", 30)
    ctx.log("40%% step applied %d ms after it was due (broker down)", d600)
    H.check(d600 < 2000, "the 40%% step came %d ms late (offline)" % d600)
    m = md()
    nx = m.get("next") or {}
    H.check(m.get("price") == 600 and m.get("changes_today") == 2 and
            m.get("max_changes_per_day") == 2 and m.get("applied_price") == 600 and
            nx.get("kind") == "set" and nx.get("delayed") is True and
            H.ms_of(nx.get("at")) == d1 and nx.get("price") == 450 and nx.get("percent") == 60 and
            nx.get("lot") == "L1",
            "after 2 changes the 60%% step (due %s) must wait for the next local day %s, "
            "floored to 450: %r" % (H.iso(exp - H_MS), H.iso(d1), m))
    lots = m.get("lots") or []
    H.check(len(lots) == 1 and lots[0].get("lot") == "L1" and H.ms_of(lots[0].get("expires_at"))
            == exp and lots[0].get("quantity") == 10 and lots[0].get("live") is True,
            "lots %r" % lots)

    # ---- restart 8 s before midnight (after expiry - 1 h, same local day)
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM")
    off1 = (d1 - 8000) - H.now_ms()
    d.env.update(H.faketime_env(ctx, off1))
    d.start()
    fake = H.now_ms() + off1
    ctx.log("restarted under faketime %+.0f s: shelfd's clock %s, expiry - 1 h was %s",
            off1 / 1000.0, H.iso(fake), H.iso(exp - H_MS))
    H.check(fake > exp - H_MS, "test set-up: not past expiry - 1 h")
    H.check(price() == 600, "after the restart past expiry - 1 h the 60%% step must wait for the "
            "daily limit: price %s" % history[-1][1])
    m = md()
    nx = m.get("next") or {}
    H.check(m.get("changes_today") == 2 and nx.get("delayed") is True and
            H.ms_of(nx.get("at")) == d1 and nx.get("price") == 450,
            "after the restart: expected changes_today 2, next delayed to %s at 450: %r"
            % (H.iso(d1), m))
    d450 = wait_price(450, d1, off1, "the delayed 60% step at midnight", 25)
    ctx.log("60%% step (floored 450) applied %d ms after local midnight", d450)
    H.check(d450 < 2000, "the delayed step came %d ms after midnight" % d450)
    m = md()
    nx = m.get("next") or {}
    H.check(m.get("changes_today") == 1 and nx.get("kind") == "restore" and
            H.ms_of(nx.get("at")) == exp and nx.get("price") == 1000,
            "after midnight: expected changes_today 1, next = restore 1000 at %s: %r"
            % (H.iso(exp), m))

    # ---- restart 5 s before the lot expires: still 450, then back to regular
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM (faketime)")
    off2 = (exp - 5000) - H.now_ms()
    d.env.update(H.faketime_env(ctx, off2))
    d.start()
    H.check(price() == 450, "before the lot's expiry the price must stay 450, got %s"
            % history[-1][1])
    d1000 = wait_price(1000, exp, off2, "the restore at the lot's expiry", 20)
    ctx.log("restore to 1000 applied %d ms after the lot expired", d1000)
    H.check(d1000 < 2000, "the restore came %d ms late" % d1000)
    # every lot ended and the price is back: the markdown is over and forgotten
    # (a SKU marked down once does not hold one of the gateway's markdown slots)
    H.wait_until(lambda: not [x for x in d.ctl("markdown")[1].get("skus", [])
                              if x.get("sku") == SKU], 5,
                 "`shelfctl markdown` to drop %s once its markdown is over" % SKU)
    prices = [p for _, p in history]
    H.check(prices == [1000, 800, 600, 450, 1000],
            "the prices shelfctl showed: %r, expected 1000, 800, 600, 450, 1000" % prices)
    H.check(d.status()["hq"]["state"] != "connected", "the broker was supposed to be down")

    # ---- HQ back: every markdown event, in order
    broker.start()
    H.wait_until(lambda: len(mdevents()) >= 4, 30, "four markdown events at HQ")
    hq.settle(1.0, 10)
    evs = mdevents()
    want = [  # step, percent, price, previous, floored, delayed, due, changes_today
        ("set", 20, 800, 1000, False, False, None, 1),
        ("set", 40, 600, 800, False, False, exp - 2 * H_MS, 2),
        ("set", 60, 450, 600, True, True, d1, 1),
        ("restore", 0, 1000, 450, False, False, exp, 2)]
    H.check(len(evs) == 4, "markdown events at HQ: %d, expected 4: %r" % (len(evs), evs))
    late_problems = []
    dues = []
    keys = {"seq", "ts", "type", "source", "sku", "step", "lot", "percent", "price", "previous",
            "floored", "delayed", "due", "changes_today", "max_changes", "batch"}
    for i, (e, w) in enumerate(zip(evs, want)):
        step, pct, p, prev, floored, delayed, due, ct = w
        missing = sorted(keys - set(e))
        H.check(not missing, "markdown event %d lacks %s: %r" % (i + 1, missing, e))
        got = (e["step"], e["percent"], e["price"], e["previous"], e["floored"],
               e["changes_today"])
        H.check(got == (step, pct, p, prev, floored, ct) and e["sku"] == SKU and
                e["source"] == "markdown" and e["max_changes"] == 2 and
                str(e["batch"]).startswith("md:%s:" % SKU),
                "markdown event %d: expected step %s %d%% price %d previous %d floored %s "
                "changes_today %d: %r" % (i + 1, step, pct, p, prev, floored, ct, e))
        if e["delayed"] is not delayed:
            # checked last, so that a run reports everything else first
            late_problems.append("markdown event %d (%s %d%% -> %d, due %s): delayed is %r, "
                                 "expected %r (%s)"
                                 % (i + 1, step, pct, p, e["due"], e["delayed"], delayed,
                                    "the daily limit moved it from %s to midnight"
                                    % H.iso(exp - H_MS) if delayed else "on time"))
        if step == "set":
            H.check(e["lot"] == "L1", "markdown event %d: lot %r" % (i + 1, e["lot"]))
        else:
            H.check(e["lot"] in ("L1", None), "restore event: lot %r" % e["lot"])
        # due: when the step was due by the plan: its row's hours-left mark
        # (the first step: the command's issued_at, as the 20% mark was
        # before it), so the delayed step's due is expiry - 1 h, before the
        # midnight it was applied at
        got_due = H.ms_of(e["due"])
        if due is None:
            H.check(t_cmd - 60000 <= got_due <= t_cmd + 2000,
                    "markdown event 1: due %r, expected the command's time %s"
                    % (e["due"], H.iso(t_cmd)))
            dues.append(got_due - t_cmd)
        else:
            plan = exp - H_MS if delayed else due
            H.check(0 <= got_due - plan < 2000,
                    "markdown event %d: due %r, expected %s" % (i + 1, e["due"], H.iso(plan)))
            if delayed:
                H.check(H.ms_of(e["ts"]) >= d1, "the delayed step applied before midnight: %r" % e)
            dues.append(got_due - plan)
    H.check([H.ms_of(e["ts"]) for e in evs] == sorted(H.ms_of(e["ts"]) for e in evs),
            "markdown events out of order at HQ: %r" % [(e["seq"], e["ts"]) for e in evs])
    ctx.note("markdown events' due minus the planned time (ms): %s; due == ts: %s"
             % (dues, [e["due"] == e["ts"] for e in evs]))
    H.check(not hq.counter.bad, "bad messages at HQ: %s" % hq.counter.bad[:3])
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM")
    H.check(not late_problems, "; ".join(late_problems))
    return ("offline: 800 at once (%d ms), 600 %d ms after due, 60%% held by the daily limit "
            "then 450 (floored) %d ms after local midnight, 1000 %d ms after expiry; "
            "4 markdown events in order at HQ" % (d800, d600, d450, d1000))


if __name__ == "__main__":
    H.main(run, __doc__)
