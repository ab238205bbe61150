#!/usr/bin/env python3
"""(i) The base-station emulator over a pty, driven by esl-tool (no shelfd).

Covers: BUILD/esl-emu (the real station logic, simulated labels) and
BUILD/esl-tool (a gateway-side client on the same codec and link) over a
115200-baud-paced pty. Handshake (HELLO_R with boot_id); a PBM sent to a
label lands bit-exact in its framebuffer (control-socket `dump`, compared to
the PBM) and the label's hash matches; the same image again is ALREADY;
random bytes injected both ways (`garbage N` towards the gateway, raw bytes
written into the pty towards the station) in the middle of a transfer: the
transfer completes, both decoders count the garbage, the framebuffer is
exact; the emulator's line pacing (a 4.7 KB image takes at least its wire
time); a transfer cut off (esl-tool killed, the line `glitch`ed) resumes
from where it stopped; 20 labels pipelined (`esl-tool bench`) reach >= 70%
of the line's raw limit; a simulated station reset: new boot_id, labels
keep what they show, the next transfer works; LED flash; 100% radio loss
-> NO_RESPONSE; an unknown label -> NO_LABEL; a 2.9" image for a 4.2" label
-> TYPE_MISMATCH; no sanitizer report in the emulator's stderr.
"""
import json
import os
import random
import re
import socket
import subprocess
import threading
import time

import harness as H

BAUD = 115200


class Emu:
    """One esl-emu process with its pty link and control socket."""

    def __init__(self, ctx, labels="40:1,4:2,2:3", extra=()):
        self.ctx = ctx
        self.link = ctx.path("esl0")
        self.sock = ctx.path("emu.sock")
        self.out = ctx.path("emu.out")
        self.err = ctx.path("emu.err")
        self.argv = [str(ctx.bin / "esl-emu"), "--labels", labels, "--checkin-ms", "1500",
                     "--wake-ms", "100", "--seed", "7", "--baud", str(BAUD),
                     "--pty-link", str(self.link), "--ctl", str(self.sock), "-v"] + list(extra)
        ctx.logs.append(("esl-emu", str(self.err)))

    def start(self):
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = self.ctx.spawn("esl-emu", self.argv, order=10, stdout=o, stderr=e)
        H.wait_until(lambda: self.alive() and os.path.exists(self.sock)
                     and os.path.islink(self.link), 10, "esl-emu pty and control socket")
        self.ctx.log("esl-emu up: %s -> %s", self.link, os.readlink(self.link))

    def alive(self):
        if self.proc.poll() is not None:
            raise H.Fail("esl-emu exited %s:\n%s" % (self.proc.returncode, H.tail(self.err)))
        return True

    def ctl(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.sock))
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        try:
            return json.loads(buf)
        except ValueError:
            raise H.Fail("esl-emu answered %r to %r" % (buf[:200], line))

    def stats(self):
        return self.ctl("stats")


def tool(ctx, *args, timeout=30, check=True):
    """Run esl-tool; returns (rc, stdout). check: fail unless it exits 0."""
    argv = [str(ctx.bin / "esl-tool"), "--timeout", str(timeout - 5), str(ctx.path("esl0"))]
    argv += [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ctx.env)
    if check and p.returncode != 0:
        raise H.Fail("esl-tool %s exited %d:\n%s%s" % (" ".join(map(str, args)), p.returncode,
                                                       p.stdout, p.stderr))
    return p.returncode, p.stdout + p.stderr


def link_counters(out):
    m = re.search(r"^link: (.*)$", out, re.M)
    if not m:
        raise H.Fail("no link: line in esl-tool output:\n" + out)
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def make_pbm(path, w, h, seed, noisy=False, sparse=False):
    """A one-plane P4 image: stripes, a diagonal and a seed-dependent box (noisy: random
    bytes; sparse: only the box and a frame, which PackBits shrinks like a price label)."""
    rnd = random.Random(seed)
    stride = (w + 7) // 8
    rows = bytearray()
    for y in range(h):
        row = bytearray(stride)
        if noisy:
            row = bytearray(rnd.getrandbits(8) for _ in range(stride))
        else:
            for x in range(w):
                box = 20 + seed < x < 90 + seed and 30 < y < 60
                if sparse:
                    ink = box or x < 2 or y < 2 or x >= w - 2 or y >= h - 2
                else:
                    ink = (x + seed) % 37 < 3 or x == y or box
                if ink:
                    row[x // 8] |= 0x80 >> (x % 8)
        if w % 8:
            row[-1] &= (0xFF << (8 - w % 8)) & 0xFF
        rows += row
    with open(path, "wb") as f:
        f.write(b"P4\n%d %d\n" % (w, h) + bytes(rows))
    return bytes(rows)


def read_pbm(path):
    data = open(path, "rb").read()
    m = re.match(rb"P4\s+(\d+)\s+(\d+)\s", data)
    if not m:
        raise H.Fail("%s is not a binary PBM" % path)
    return int(m.group(1)), int(m.group(2)), data[m.end():]


def check_fb(ctx, emu, label, pixels, w=296, h=128):
    out = ctx.path("dump-%s.pbm" % label)
    r = emu.ctl("dump %s %s" % (label, out))
    H.check(r.get("ok"), "dump %s: %r" % (label, r))
    dw, dh, got = read_pbm(out)
    H.check((dw, dh) == (w, h), "dump %s is %dx%d" % (label, dw, dh))
    if got != pixels:
        bad = sum(1 for a, b in zip(got, pixels) if a != b)
        raise H.Fail("label %s framebuffer differs from the PBM sent (%d of %d bytes)"
                     % (label, bad, len(pixels)))
    return r


def run(ctx):
    for b in ("esl-emu", "esl-tool"):
        H.check(os.access(ctx.bin / b, os.X_OK), "%s not built (make %s/%s)" % (b, ctx.bin, b))
    emu = Emu(ctx)
    emu.start()

    # handshake
    _, out = tool(ctx, "hello")
    m = re.search(r"HELLO_R proto=1 status=OK .*boot_id=([0-9A-F]{8})", out)
    H.check(m, "no good HELLO_R:\n" + out)
    boot1 = m.group(1)
    H.check(emu.stats()["boot_id"] == boot1, "boot_id %s differs from stats" % boot1)

    ctx.log("-- one image")
    # one image, bit-exact in the framebuffer
    img1 = ctx.path("one.pbm")
    px1 = make_pbm(img1, 296, 128, 1)
    t0 = time.monotonic()
    _, out = tool(ctx, "send", "E1000001", img1)
    dt1 = time.monotonic() - t0
    H.check("delivered" in out, "send E1000001:\n" + out)
    mh = re.search(r"hash=([0-9a-f]{16})", out)
    r = check_fb(ctx, emu, "E1000001", px1)
    H.check(r["hash"] == mh.group(1), "label hash %s, image hash %s" % (r["hash"], mh.group(1)))
    lab = emu.ctl("label E1000001")
    H.check(lab["updates"] == 1 and lab["type"] == 1, "label E1000001: %r" % lab)
    _, out = tool(ctx, "send", "E1000001", img1)
    H.check("already shows" in out, "same image again is not ALREADY:\n" + out)

    ctx.log("-- pacing")
    # pacing: a raw 4736-byte image cannot cross a 115200-baud line faster than its wire time
    img2 = ctx.path("noisy.pbm")
    px2 = make_pbm(img2, 296, 128, 2, noisy=True)
    rx0 = emu.stats()["rx_bytes"]
    t0 = time.monotonic()
    _, out = tool(ctx, "send", "E1000002", img2)
    dt2 = time.monotonic() - t0
    rx_bytes = emu.stats()["rx_bytes"] - rx0
    H.check("delivered" in out, "send E1000002:\n" + out)
    check_fb(ctx, emu, "E1000002", px2)
    wire = rx_bytes / (BAUD / 10.0)
    H.check(dt2 >= wire * 0.95, "%d bytes crossed in %.3fs, wire time is %.3fs: not paced"
            % (rx_bytes, dt2, wire))

    ctx.log("-- garbage both ways")
    # garbage both ways in the middle of a transfer
    img3 = ctx.path("three.pbm")
    px3 = make_pbm(img3, 296, 128, 3, noisy=True)
    st0 = emu.stats()
    res = {}

    def send3():
        res["rc"], res["out"] = tool(ctx, "send", "E1000003", img3, timeout=60, check=False)
    th = threading.Thread(target=send3)
    th.start()
    time.sleep(0.15)
    H.check(emu.ctl("garbage 3000")["ok"], "garbage command refused")
    rnd = random.Random(99)
    fd = os.open(str(ctx.path("esl0")), os.O_WRONLY | os.O_NOCTTY)
    try:
        for _ in range(6):
            junk = bytes(rnd.getrandbits(8) for _ in range(400))
            junk = junk.replace(b"\xa5", b"\xa5\x00") if rnd.random() < 0.5 else junk
            os.write(fd, junk)
            time.sleep(0.03)
    finally:
        os.close(fd)
    th.join(70)
    H.check(not th.is_alive(), "esl-tool send with garbage did not finish")
    H.check(res.get("rc") == 0 and "delivered" in res["out"],
            "send through garbage failed (rc %r):\n%s" % (res.get("rc"), res.get("out")))
    check_fb(ctx, emu, "E1000003", px3)
    gw = link_counters(res["out"])
    st1 = emu.stats()
    H.check(gw["garbage"] >= 2500, "gateway side counted %d garbage bytes" % gw["garbage"])
    H.check(st1["garbage"] - st0["garbage"] >= 2000,
            "station counted %d garbage bytes" % (st1["garbage"] - st0["garbage"]))
    H.check(st1["garbage_sent"] == 3000, "garbage_sent %r" % st1["garbage_sent"])

    ctx.log("-- resume")
    # an interrupted transfer resumes where it stopped: esl-tool killed mid-image, sent again
    img5 = ctx.path("five.pbm")
    px5 = make_pbm(img5, 296, 128, 5, noisy=True)
    argv = [str(ctx.bin / "esl-tool"), "--timeout", "20", str(ctx.path("esl0")), "send",
            "E1000005", str(img5)]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=ctx.env)
    H.wait_until(lambda: emu.stats()["chunks"] > st1["chunks"] + 1, 10,
                 "two chunks of E1000005 at the station")
    p.kill()
    p.wait()
    # and what it had already queued in the pty is lost with it, as on a cut cable
    H.check(emu.ctl("glitch")["ok"], "glitch refused")
    _, out = tool(ctx, "send", "E1000005", img5)
    m = re.search(r"IMG_BEGIN_R status=OK next=(\d+)", out)
    H.check(m and int(m.group(1)) >= 2048, "the second send did not resume:\n" + out)
    resumed_at = int(m.group(1))
    H.check("delivered" in out, "resumed send E1000005:\n" + out)
    check_fb(ctx, emu, "E1000005", px5)
    H.check(emu.stats()["images_resumed"] >= 1, "images_resumed not counted")

    ctx.log("-- bench")
    # throughput: pipelined like PROTOCOL.md section 7, against the line's raw limit
    small = ctx.path("small.pbm")
    make_pbm(small, 296, 128, 6, sparse=True)
    _, out = tool(ctx, "--first-id", "E1000010", "bench", "20", small, timeout=60)
    m = re.search(r"bench: 20 of 20 labels delivered.*?([0-9.]+) labels/s;.*?"
                  r"([0-9.]+) bytes on the wire per label; raw limit ([0-9.]+) labels/s; "
                  r"efficiency ([0-9.]+)%", out)
    H.check(m, "bench did not deliver all 20:\n" + out)
    eff = float(m.group(4))
    H.check(eff >= 70, "pipelined efficiency %.1f%% < 70%%:\n%s" % (eff, out))
    bench = "%s labels/s, %s B/label, %.1f%% of the raw limit" % (m.group(1), m.group(2), eff)

    ctx.log("-- station reset")
    # station reset: new boot_id, labels keep their pictures, link works again
    r = emu.ctl("reset")
    H.check(r["ok"] and r["boot_id"] != boot1, "reset: %r" % r)
    _, out = tool(ctx, "hello")
    H.check(("boot_id=%s" % r["boot_id"]) in out, "HELLO_R after reset:\n" + out)
    check_fb(ctx, emu, "E1000001", px1)
    check_fb(ctx, emu, "E1000003", px3)
    img4 = ctx.path("four.pbm")
    px4 = make_pbm(img4, 296, 128, 4)
    _, out = tool(ctx, "send", "E1000004", img4)
    check_fb(ctx, emu, "E1000004", px4)

    ctx.log("-- flash, loss, unknown label")
    # flash, radio loss, unknown label
    _, out = tool(ctx, "flash", "E1000007")
    H.check("kind=flash" in out and "status=OK" in out, "flash:\n" + out)
    H.check(emu.ctl("label E1000007")["flashes"] == 1, "E1000007 did not flash")
    H.check(emu.ctl("loss 100")["ok"], "loss refused")
    rc, out = tool(ctx, "send", "E1000006", img4, check=False)
    H.check(rc == 1 and "NO_RESPONSE" in out, "with 100%% loss (rc %d):\n%s" % (rc, out))
    emu.ctl("loss 0")
    rc, out = tool(ctx, "send", "E2000000", img4, check=False)
    H.check(rc == 1 and "NO_LABEL" in out, "unknown label (rc %d):\n%s" % (rc, out))
    # a 2.9" image for a 4.2" label is refused by the station
    rc, out = tool(ctx, "send", "E100002D", img4, check=False)
    H.check(rc == 1 and "TYPE_MISMATCH" in out, "wrong label type (rc %d):\n%s" % (rc, out))

    st = emu.stats()
    emu.alive()
    H.check(emu.ctl("quit")["ok"], "quit")
    H.wait_until(lambda: emu.proc.poll() is not None, 5, "esl-emu to quit")
    H.check(emu.proc.returncode == 0, "esl-emu exited %r" % emu.proc.returncode)
    err = open(emu.err, errors="replace").read()
    for pat in H.SAN_PATTERNS:
        H.check(pat not in err, "sanitizer report in esl-emu stderr:\n" + err[-3000:])
    return ("5 images bit-exact in framebuffers (%.2fs, %.2fs for %d B at %d baud: wire %.2fs); "
            "through %d+%d garbage bytes (station crc/hdr errors %d/%d, gateway %d/%d); resumed "
            "at byte %d; bench %s; reset kept labels; after it delivered=%d failed=%d"
            % (dt1, dt2, rx_bytes, BAUD, wire, gw["garbage"], st1["garbage"] - st0["garbage"],
               st1["crc_err"], st1["hdr_err"], gw["crc_err"], gw["hdr_err"], resumed_at, bench,
               st["delivered"], st["failed"]))


if __name__ == "__main__":
    H.main(run, __doc__)
