#!/usr/bin/env python3
"""(s) The local rules engine through shelfd: "not within" windows on the events' own times.

Covers issue 5's rules (agent/rules.h, notes/issue5-contract.md) end to end:
HQ publishes a rules.set command (acked "applied"; an older or equal
version is "rejected" with the error at "version", an invalid set with
every error and its path, and the applied set stays); sales written by a
POS on a pty (each with its own "ts") drive five rules:
  no-b-24h  when a sale of A-1, unless a sale of B-1 within 24h: alert
  no-y-1h   when a sale of X-1, unless a sale of Y-1 within 1h: alert
  c-now     when a sale of C-1: alert (no "unless": fires at once)
  flash-c   when a sale of C-1: flash C-1 (two rules on one event)
  promo-p   when a sale of D-1: temporary price 399 for P-1 for 2h (fired twice, HQ
            setting 450 in between: 450 comes back at the end)
(a) the 24 h boundary at +-1 s: W2 = A stamped t1, W1 = A stamped t0 =
t1 + 1 s; a B stamped t0 + 24h - 1 s (future-stamped, arriving now)
cancels W1's window and, being exactly t1 + 24h, is outside W2's [t1,
t1 + 24h); a B stamped t1 + 24h + 1 s cancels nothing; (b) shelfd is
killed (kill -9) with the window open and restarted under libfaketime,
first at +12 h (the window is still open, kept in SQLite; the 1 h windows
and the 2 h temporary price, due meanwhile, run at the restart: the price
HQ set during it is back, with a price_end event), then 65 s before the
window is judged (t1 + 24h + grace), with nothing else due and no event
coming: exactly ONE firing of no-b-24h at HQ, on time, stamped t1 + 24h
with trigger_ts t1, and its alert (~70 s of the scenario's time); (c)
out of order: a Y sent BEFORE the X it cancels (stamped later, inside the
window) cancels it; an X stamped 30 s ago arriving after a newer X is judged
on its own time (fires at its ts + 1h, before the newer one); an X stamped
2 min ago (more than the 60 s grace) is counted "late" and never fires;
(d) the rejects above; (e) `shelfctl --json rules` lists the rules with
windows, cancelled, late, fired counts, last_fired and the temporary price.
"""
import json
import os
import pty
import time
import tty

import harness as H

H_MS = 3600 * 1000
DAY_MS = 24 * H_MS
GRACE_MS = 60000


RULES = [
    {"name": "no-b-24h",
     "when": {"event": "sale", "where": {"sku": {"in": ["A-1"]}}},
     "unless": {"event": "sale", "where": {"sku": {"in": ["B-1"]}}, "within": "24h"},
     "then": {"action": "alert", "message": "A-1 sold without B-1 within 24 h"}},
    {"name": "no-y-1h",
     "when": {"event": "sale", "where": {"sku": {"in": ["X-1"]}}},
     "unless": {"event": "sale", "where": {"sku": {"in": ["Y-1"]}}, "within": "1h"},
     "then": {"action": "alert", "message": "X-1 sold without Y-1 within 1 h"}},
    {"name": "c-now",
     "when": {"event": "sale", "where": {"sku": "C-1"}},
     "then": {"action": "alert", "message": "C-1 sold"}},
    {"name": "flash-c",
     "when": {"event": "sale", "where": {"sku": "C-1"}},
     "then": {"action": "flash", "sku": "C-1"}},
    {"name": "promo-p",
     "when": {"event": "sale", "where": {"sku": "D-1"}},
     "then": {"action": "price", "sku": "P-1", "price": 399, "for": "2h"}},
]


def run(ctx):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    master, slave = pty.openpty()
    tty.setraw(slave)
    link = ctx.path("till1.pty")
    os.symlink(os.ttyname(slave), link)
    d = H.Shelfd(ctx, broker.port, link=link, env={"TZ": "UTC"})
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected")
    H.wait_until(lambda: d.device("till1")["state"] == "open", 10, "till1 open")

    def events(typ):
        hq.poll()
        return sorted((e for e in hq.counter.first.values() if e.get("type") == typ),
                      key=lambda e: e["seq"])

    def fired(rule):
        return [e for e in events("rule") if e.get("rule") == rule]

    def acks(ref):
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == ref]

    def rules():
        return d.ctl("rules")[1]

    def rule_info(name, r=None):
        r = r or rules()
        hits = [x for x in r.get("rules", []) if x.get("name") == name]
        H.check(len(hits) == 1, "`shelfctl rules` lists rule %s %d times: %.600r"
                % (name, len(hits), r))
        return hits[0]

    def price_of(sku):
        rc, v = d.ctl("prices", "get", sku, check=False)
        return v["price"] if rc == 0 else None

    receipt = [0]

    def sale(sku, ts):
        """One sale of @sku stamped @ts (epoch ms) on till1; waits until HQ has it."""
        receipt[0] += 1
        r = "R-%d" % receipt[0]
        rec = {"type": "sale", "receipt": r, "till": "T1", "ts": H.iso(ts),
               "lines": [{"sku": sku, "qty": 1, "unit_price": 100}], "total": 100}
        os.write(master, (json.dumps(rec) + "\n").encode())
        H.wait_until(lambda: hq.poll().by_receipt.get(r), 10, "sale %s (%s) at HQ" % (r, sku))
        return r

    # ---- a price for the temporary-price rule, then the rules
    H.publish(ctx, broker, "shelf/v1/S1/prices", {
        "id": "p-1", "issued_at": H.iso(H.now_ms()), "currency": "EUR",
        "items": [{"sku": "P-1", "price": 500, "name": "Pears"}]})
    H.wait_until(lambda: price_of("P-1"), 10, "P-1 priced")

    def cmd(cid, version, rule_list):
        return {"id": cid, "issued_at": H.iso(H.now_ms()), "action": "rules.set",
                "version": version, "rules": rule_list}

    def ack_of(ref):
        return H.wait_until(lambda: acks(ref), 10, "the ack of " + ref)[-1]

    H.publish(ctx, broker, "shelf/v1/S1/cmd", cmd("rules-1", 1, RULES))
    a = ack_of("rules-1")
    H.check(a.get("status") == "applied" and a.get("version") == 1 and a.get("rules") == 5,
            "rules-1 (version 1, 5 rules): ack %r" % a)
    # (d) the same rules as version 2 (applied), then older / equal / invalid sets
    H.publish(ctx, broker, "shelf/v1/S1/cmd", cmd("rules-2", 2, RULES))
    a = ack_of("rules-2")
    H.check(a.get("status") == "applied" and a.get("version") == 2, "rules-2: ack %r" % a)
    H.publish(ctx, broker, "shelf/v1/S1/cmd", cmd("rules-old", 1, RULES[:1]))
    a = ack_of("rules-old")
    errs = a.get("errors") or []
    H.check(a.get("status") == "rejected" and len(errs) == 1 and errs[0].get("at") == "version"
            and "not newer" in errs[0].get("error", ""),
            "an older version (1 < 2) must be rejected at \"version\": ack %r" % a)
    ctx.log("older version rejected: %s", errs[0].get("error"))
    H.publish(ctx, broker, "shelf/v1/S1/cmd", cmd("rules-2b", 2, RULES[:1]))
    a = ack_of("rules-2b")
    errs = a.get("errors") or []
    H.check(a.get("status") == "rejected" and [e.get("at") for e in errs] == ["version"],
            "an equal version (2, another id) must be rejected at \"version\": ack %r" % a)
    bad = json.loads(json.dumps(RULES))
    bad[0]["unless"]["within"] = "25x"
    bad[4]["then"]["price"] = -5
    H.publish(ctx, broker, "shelf/v1/S1/cmd", cmd("rules-bad", 9, bad))
    a = ack_of("rules-bad")
    at = sorted(e.get("at") for e in a.get("errors") or [])
    H.check(a.get("status") == "rejected" and at == ["rules[0].unless.within",
                                                     "rules[4].then.price"],
            "an invalid set (within \"25x\", price -5) must be rejected with both paths: ack %r"
            % a)
    r = rules()
    H.check(r.get("version") == 2 and r.get("id") == "rules-2" and len(r.get("rules", [])) == 5,
            "after the rejects `shelfctl rules` must still show set rules-2 version 2 with 5 "
            "rules: %.600r" % r)
    x = rule_info("no-b-24h", r)
    H.check(x.get("within_ms") == DAY_MS and x.get("action") == "alert" and x.get("fired") == 0
            and x.get("last_fired") is None and x.get("unless"),
            "no-b-24h as listed: %r" % x)
    H.check(rule_info("c-now", r).get("unless") is None and
            rule_info("c-now", r).get("within_ms") is None, "c-now has no unless")

    # ---- (a) the 24 h boundary, +-1 s
    t1 = H.now_ms() - 2000
    t0 = t1 + 1000
    sale("A-1", t1)                      # W2: window [t1, t1 + 24h)
    sale("A-1", t0)                      # W1: window [t0, t0 + 24h)
    sale("B-1", t0 + DAY_MS - 1000)      # 1 s before W1's end (= t1 + 24h: W2's end, excluded)
    sale("B-1", t1 + DAY_MS + 1000)      # 1 s after W2's end (and W1's end): cancels nothing
    x = rule_info("no-b-24h")
    H.check(x.get("windows") == 1 and x.get("cancelled") == 1 and x.get("fired") == 0,
            "after A@t1, A@t1+1s, B@t1+1s+24h-1s, B@t1+24h+1s no-b-24h must have 1 open window "
            "and 1 cancelled: %r" % x)
    nd = H.ms_of(x.get("next_due"))
    H.check(nd in (t1 + DAY_MS, t1 + DAY_MS + GRACE_MS),
            "no-b-24h next_due %r: expected %s (t1 + 24h) or %s (+ grace)"
            % (x.get("next_due"), H.iso(t1 + DAY_MS), H.iso(t1 + DAY_MS + GRACE_MS)))

    # ---- (c) out of order, own timestamps, late
    n = H.now_ms()
    sale("Y-1", n - 43000)   # U first: stamped 2 s after the W below, inside its 1 h
    sale("X-1", n - 45000)   # W arriving after its U: cancelled by the remembered U
    t_new = n
    sale("X-1", t_new)       # a W stamped now
    t_old = n - 30000
    sale("X-1", t_old)       # an older W (30 s ago, within grace) arriving after it
    sale("X-1", n - 120000)  # a W 2 min old: more than grace late, not judged
    y = rule_info("no-y-1h")
    H.check(y.get("windows") == 2 and y.get("cancelled") == 1 and y.get("late") == 1,
            "no-y-1h: expected 2 open windows (the X at -30 s and now), 1 cancelled (the X whose "
            "Y came first), 1 late (the X 2 min old): %r" % y)
    H.check(not fired("no-y-1h") and not fired("no-b-24h"), "an unless-rule fired early: %r"
            % events("rule"))

    # ---- rules without unless: at once, on the sale's own time
    t_c = H.now_ms() - 3000   # stamped 3 s ago: fires on its own time, 3 s late
    w0 = time.monotonic()
    w_c = H.now_ms()
    sale("C-1", t_c)
    H.wait_until(lambda: fired("c-now") and fired("flash-c") and
                 [e for e in events("alert") if e.get("rule") == "c-now"], 10,
                 "c-now and flash-c rule events and the c-now alert at HQ")
    c_lat = time.monotonic() - w0
    for name, action in (("c-now", "alert"), ("flash-c", "flash")):
        ev = fired(name)
        H.check(len(ev) == 1, "%s fired %d times for one sale: %r" % (name, len(ev), ev))
        ev = ev[0]
        H.check(ev.get("action") == action and ev.get("source") == "rules" and
                H.ms_of(ev.get("ts")) == t_c and H.ms_of(ev.get("trigger_ts")) == t_c and
                isinstance(ev.get("late_ms"), int) and abs(ev["late_ms"] - (w_c - t_c)) < 2000,
                "%s: expected action %s, ts = trigger_ts = the sale's ts %s, late_ms about %d: "
                "%r" % (name, action, H.iso(t_c), w_c - t_c, ev))
    H.check(fired("c-now")[0].get("message") == "C-1 sold", "c-now message %r" % fired("c-now"))
    fl = fired("flash-c")[0]
    H.check(fl.get("sku") == "C-1" and fl.get("labels") == 0,
            "flash-c: sku C-1, labels 0 (none bound): %r" % fl)
    al = [e for e in events("alert") if e.get("rule") == "c-now"]
    H.check(len(al) == 1 and al[0].get("alert") == "rule" and al[0].get("message") == "C-1 sold"
            and al[0].get("source") == "rules", "the c-now alert event: %r" % al)

    # ---- a temporary price
    w0 = time.monotonic()
    t_d = H.now_ms()
    sale("D-1", t_d)
    H.wait_until(lambda: fired("promo-p"), 10, "the promo-p rule event")
    p_lat = time.monotonic() - w0
    ev = fired("promo-p")[0]
    until = H.ms_of(ev.get("until"))
    H.check(ev.get("action") == "price" and ev.get("sku") == "P-1" and ev.get("price") == 399
            and ev.get("previous") == 500 and until and abs(until - (t_d + 2 * H_MS)) < 5000,
            "promo-p event: expected price 399, previous 500, until ~%s: %r"
            % (H.iso(t_d + 2 * H_MS), ev))
    p = price_of("P-1")
    H.check(p and p["price"] == 399, "P-1 during the temporary price: %r" % p)
    batch = p.get("batch_id", p.get("batch")) or ""
    H.check(batch.startswith("rule:promo-p:"), "P-1's batch %r: expected rule:promo-p:MS" % batch)
    r = rules()
    tp = r.get("temp_prices") or []
    H.check(len(tp) == 1 and tp[0].get("sku") == "P-1" and tp[0].get("price") == 399 and
            tp[0].get("previous") == 500 and tp[0].get("rule") == "promo-p" and
            H.ms_of(tp[0].get("until")) == until,
            "`shelfctl rules` temp_prices: %r" % tp)
    ctx.note("rule latency (sale written -> rule event at HQ): c-now/flash-c %.0f ms, promo-p "
             "(price applied) %.0f ms" % (c_lat * 1000, p_lat * 1000))

    # HQ changes P-1 to 450 during the temporary price, then the rule fires again: the
    # new temporary price must restore HQ's 450 at its end, not the 500 from before
    H.publish(ctx, broker, "shelf/v1/S1/prices", {
        "id": "p-2", "issued_at": H.iso(H.now_ms()), "currency": "EUR",
        "items": [{"sku": "P-1", "price": 450, "name": "Pears"}]})
    H.wait_until(lambda: (price_of("P-1") or {}).get("price") == 450, 10, "P-1 at 450 (HQ)")
    t_d2 = H.now_ms()
    sale("D-1", t_d2)
    H.wait_until(lambda: len([e for e in fired("promo-p") if e.get("action") == "price"]) >= 2,
                 10, "the second promo-p firing")
    ev2 = [e for e in fired("promo-p") if e.get("action") == "price"][1]
    H.check(ev2.get("previous") == 450 and ev2.get("price") == 399 and not ev2.get("error"),
            "second promo-p firing: expected 450 -> 399: %r" % ev2)
    H.wait_until(lambda: (price_of("P-1") or {}).get("price") == 399, 5, "P-1 at 399 again")
    tp = rules().get("temp_prices") or []
    H.check(len(tp) == 1 and tp[0].get("previous") == 450,
            "temp_prices after HQ's 450 and the second firing: %r" % tp)

    # ---- (b) restart in the middle of the 24 h window, at +12 h, after a crash:
    # the rules' state is committed with the events that changed it, so a
    # kill -9 right after the last sale reached HQ loses no window
    d.kill9()
    off1 = 12 * H_MS
    d.env.update(H.faketime_env(ctx, off1))
    r0 = H.now_ms()
    d.start()
    ctx.log("restarted under faketime +12 h (shelfd's clock %s)", H.iso(H.now_ms() + off1))
    H.wait_until(lambda: len(fired("no-y-1h")) >= 2 and
                 [e for e in fired("promo-p") if e.get("action") == "price_end"], 15,
                 "the two 1 h windows and the end of the temporary price after the +12 h restart")
    time.sleep(1.0)
    ys = fired("no-y-1h")
    H.check(len(ys) == 2, "no-y-1h fired %d times, expected 2 (X at -30 s and X now): %r"
            % (len(ys), ys))
    H.check([H.ms_of(e.get("trigger_ts")) for e in ys] == [t_old, t_new] and
            [H.ms_of(e.get("ts")) for e in ys] == [t_old + H_MS, t_new + H_MS],
            "no-y-1h firings must come in firing-time order, each at its own W's ts + 1h "
            "(%s, %s): got %r" % (H.iso(t_old + H_MS), H.iso(t_new + H_MS),
                                  [(e.get("ts"), e.get("trigger_ts")) for e in ys]))
    al = [e for e in events("alert") if e.get("rule") == "no-y-1h"]
    H.check(len(al) == 2, "no-y-1h alerts at HQ: %d, expected 2: %r" % (len(al), al))
    for e in ys:
        due = H.ms_of(e["trigger_ts"]) + H_MS + GRACE_MS
        want = r0 + off1 - due
        H.check(isinstance(e.get("late_ms"), int) and abs(e["late_ms"] - want) < 15000,
                "no-y-1h late_ms %r: expected about %d (ran at the restart, due %s)"
                % (e.get("late_ms"), want, H.iso(due)))
    H.check(not fired("no-b-24h"), "no-b-24h fired before its window ended: %r"
            % fired("no-b-24h"))
    pe = [e for e in fired("promo-p") if e.get("action") == "price_end"]
    H.check(len(pe) == 1 and pe[0].get("sku") == "P-1" and pe[0].get("price") == 450 and
            pe[0].get("restored") is True,
            "the temporary price's end: expected one price_end, P-1 restored to HQ's 450: %r"
            % pe)
    p = price_of("P-1")
    H.check(p and p["price"] == 450, "P-1 after its temporary price ended: %r" % p)
    r = rules()
    H.check(not r.get("temp_prices"), "temp_prices after the end: %r" % r.get("temp_prices"))
    x = rule_info("no-b-24h", r)
    H.check(x.get("windows") == 1 and x.get("fired") == 0 and
            H.ms_of(x.get("next_due")) == nd,
            "no-b-24h after the +12 h restart: the window must still be open (kept in SQLite), "
            "next_due %s: %r" % (H.iso(nd), x))

    # ---- restart 65 s before W2's window is judged (t1 + 24h + grace): nothing else
    # is due, no event comes; the window must still fire on time (the timer looks at
    # least every minute), exactly once, at t1 + 24h
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM (+12 h)")
    due = t1 + DAY_MS + GRACE_MS
    r0 = H.now_ms()
    off2 = due - 65000 - r0
    d.env.update(H.faketime_env(ctx, off2))
    d.start()
    ctx.log("restarted under faketime +%.3f h (shelfd's clock %s; W2's window judged at %s)",
            off2 / H_MS, H.iso(H.now_ms() + off2), H.iso(due))
    H.wait_until(lambda: fired("no-b-24h") and
                 [e for e in events("alert") if e.get("rule") == "no-b-24h"], 90,
                 "the no-b-24h firing and its alert, due 65 s after the restart")
    time.sleep(2.0)
    bs = fired("no-b-24h")
    H.check(len(bs) == 1, "no-b-24h must fire exactly once (W2, not cancelled; W1 cancelled by "
            "the B 1 s before its end): fired %d times: %r" % (len(bs), bs))
    b = bs[0]
    H.check(b.get("action") == "alert" and b.get("source") == "rules" and
            H.ms_of(b.get("ts")) == t1 + DAY_MS and H.ms_of(b.get("trigger_ts")) == t1 and
            b.get("message") == RULES[0]["then"]["message"],
            "no-b-24h firing: expected ts %s (t1 + 24h), trigger_ts %s (t1): %r"
            % (H.iso(t1 + DAY_MS), H.iso(t1), b))
    H.check(isinstance(b.get("late_ms"), int) and 0 <= b["late_ms"] < 3000,
            "no-b-24h late_ms %r: expected on time (under 3 s)" % b.get("late_ms"))
    al = [e for e in events("alert") if e.get("rule") == "no-b-24h"]
    H.check(len(al) == 1 and al[0].get("alert") == "rule" and
            al[0].get("message") == RULES[0]["then"]["message"],
            "exactly one no-b-24h alert: %r" % al)

    # ---- (e) the listing at the end
    r = rules()
    want = {"no-b-24h": (1, t1 + DAY_MS), "no-y-1h": (2, t_new + H_MS), "c-now": (1, t_c),
            "flash-c": (1, t_c), "promo-p": (2, t_d2)}
    for name, (nf, last) in want.items():
        x = rule_info(name, r)
        H.check(x.get("fired") == nf and H.ms_of(x.get("last_fired")) == last and
                x.get("windows") == 0,
                "`shelfctl rules` %s: expected fired %d, last_fired %s, no open window: %r"
                % (name, nf, H.iso(last), x))
    x = rule_info("no-b-24h", r)
    lw = H.ms_of(x.get("last_fired_wall"))
    H.check(lw and 0 <= lw - due < 3000,
            "no-b-24h last_fired_wall %r: expected %s (when it was due, shelfd's clock)"
            % (x.get("last_fired_wall"), H.iso(due)))
    total = len(events("rule"))
    H.check(total == 8, "rule events at HQ: %d, expected 8 (1 + 2 + 1 + 1 + promo price x2 and "
            "price_end): %r" % (total, [(e.get("rule"), e.get("action")) for e in events("rule")]))
    H.check(not hq.counter.bad, "bad messages at HQ: %s" % hq.counter.bad[:3])
    H.check(d.stop() == 0, "shelfd exit status on SIGTERM (+24 h)")
    os.close(master)
    os.close(slave)
    return ("24h boundary: B at t0+24h-1s cancelled, B at t1+24h+1s did not; 1 firing at t1+24h "
            "after restarts at +12h/+24h-65s, on time (late_ms %d); U-before-W cancelled, older W fired at its "
            "own ts+1h, 2-min-old W late; temp price 399 -> HQ's 450 restored; older/equal/invalid "
            "sets rejected; c-now %.0f ms" % (b["late_ms"], c_lat * 1000))


if __name__ == "__main__":
    H.main(run, __doc__)
