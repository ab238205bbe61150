#!/usr/bin/env python3
"""(h) Username and password file to HQ; a wrong password is refused and reported.

Covers: hq.username + hq.password_file. The broker allows no anonymous
clients and checks a mosquitto_passwd file. 1) shelfd with the right
password: connected, all 200 sales acknowledged by the broker (hq.acked) and
the outbox empties. 2) shelfd with a wrong password: hq.state "error" with
a last_error that says the broker refused it, it never connects, keeps
running and keeps its sales in the outbox. The password never appears in
shelfd's log.
"""
import subprocess
import time

import harness as H

N = 200
PASSWORD = "s3cret-Pw-42"


def run(ctx):
    broker = H.Broker(ctx)
    pwfile = ctx.path("broker.passwd")
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "S1", PASSWORD], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pwfile.chmod(0o644)
    conf = broker.conf.read_text().replace("allow_anonymous true",
                                           "allow_anonymous false\npassword_file %s" % pwfile)
    broker.conf.write_text(conf)
    broker.start()

    good = ctx.path("good.pw")
    good.write_text(PASSWORD + "\n")
    link = ctx.path("till1")
    sim = H.PosSim(ctx, link, count=N, rate=0, stall_ms=10000)
    sim.start()
    d = H.Shelfd(ctx, broker.port, link=link,
                 hq={"username": "S1", "password_file": str(good)})
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 15,
                 "hq.state connected with username/password", interval=0.2)
    H.wait_until(lambda: d.device()["state"] == "open", 10, "till1 state open")
    sim.resume()
    st = H.wait_until(lambda: (lambda s: s["hq"]["acked"] >= N and s["outbox"]["depth"] == 0
                               and s)(d.status()), 30, "all sales acknowledged", interval=0.2)
    H.check(st["hq"]["acked"] == N, "acked %r, want %d" % (st["hq"]["acked"], N))
    rc = d.stop()
    sim.stop()
    H.check(rc == 0, "shelfd exited %r on SIGTERM" % rc)

    bad = ctx.path("bad.pw")
    bad.write_text("not-the-password\n")
    link2 = ctx.path("till2")
    sim2 = H.PosSim(ctx, link2, name="pos2", start=N + 1, count=20, rate=0, stall_ms=10000)
    sim2.start()
    d2 = H.Shelfd(ctx, broker.port, name="shelfd-badpw", link=link2,
                  hq={"username": "S1", "password_file": str(bad)})
    d2.start()
    sim2.resume()
    states = set()

    def refused():
        s = d2.status()
        states.add(s["hq"]["state"])
        return s["hq"]["state"] == "error" and s["hq"].get("last_error") and s
    s2 = H.wait_until(refused, 10, "hq.state error with last_error (wrong password)",
                      interval=0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:
        states.add(d2.status()["hq"]["state"])
        time.sleep(0.25)
    H.check("connected" not in states, "shelfd with a wrong password reached 'connected'")
    err = s2["hq"]["last_error"]
    H.check("refused" in err or "authori" in err.lower(),
            "last_error does not say the broker refused: %r" % err)
    H.wait_until(lambda: d2.status()["outbox"]["depth"] >= 20, 10, "sales kept in the outbox")
    H.check(d2.alive(), "shelfd with a wrong password exited:\n" + d2.tail())
    rc = d2.stop()
    sim2.stop()
    H.check(rc == 0, "shelfd (wrong password) exited %r on SIGTERM" % rc)
    for sd in (d, d2):
        H.check(PASSWORD not in sd.tail(10000) and "not-the-password" not in sd.tail(10000),
                "a password appears in %s's log" % sd.name)
    return ("user/password: %d/%d sales acked; wrong password: state %r, last_error %r, "
            "states seen %s" % (st["hq"]["acked"], N, s2["hq"]["state"], err[:80],
                               sorted(states)))


if __name__ == "__main__":
    H.main(run, __doc__)
