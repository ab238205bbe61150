#!/usr/bin/env python3
"""(q) The reference guide screen (scripts/screen-server + scripts/screen/) in headless Chromium.

Starts scripts/screen-server on a free 127.0.0.1 port and checks its HTTP
contract (scripts/screen/README.md): GET / serves the page, POST /content
stores a content (200), bad JSON and an invalid content are 400 with the
reason (the JSON path), an older version is 409 and ignored, the same
version again is a 200 "duplicate", /content.json?after=V is a long-poll
woken by the next POST, every request is in --log with its arrival time;
--fail answers 500 and --delay-ms delays the answer. Then Debian's chromium
(--headless=new --no-sandbox: the tests may run as root) loads the page with
a virtual time budget, and its --dump-dom must show the pushed headline, each
product's name, headline and price formatted from minor units ("12.90", "€",
"1,234.50"), the image served by a local image server loaded, a broken image
replaced by a placeholder; a second content (one product) replaces the first.
Screenshots of both are kept (the paths are printed; with --tmp DIR they
stay in DIR). Nothing but 127.0.0.1 is contacted: the browser's host
resolver maps every name to NOTFOUND and its background networking is off.
"""
import html.parser
import http.server
import json
import os
import shutil
import signal
import socketserver
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zlib

import harness as H

BROWSER_TIMEOUT = 60    # one chromium run (normally ~3 s)
BUDGET_MS = 3000        # virtual time given to the page
IMAGE_SEEN = []


def png(w, h):
    """A small RGBA PNG (a red product 'tin' on transparent), stdlib only."""
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")
        for x in range(w):
            inside = abs(x - w / 2) < w * 0.32 and h * 0.12 < y < h * 0.9
            band = inside and h * 0.4 < y < h * 0.6
            row += bytes((255, 255, 255, 255) if band else
                         (214, 40, 57, 255) if inside else (0, 0, 0, 0))
        rows.append(bytes(row))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


PNG = png(120, 160)


class ImageHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        IMAGE_SEEN.append(self.path)
        if self.path != "/img/tin.png":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)


class ImageServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---------------------------------------------------------------- the DOM

class Dom(html.parser.HTMLParser):
    """The parts of the rendered page the test looks at."""

    VOID = {"img", "br", "meta", "link", "input", "hr", "i"}

    def __init__(self):
        super().__init__()
        self.stack = []        # (tag, attrs dict) of open elements
        self.main = {}         # attrs of main#screen
        self.headline = ""
        self.items_class = ""
        self.cards = []        # {"sku","name","tag","amount","cur","media","ph","img"}

    def _in(self, cls):
        for _, a in reversed(self.stack):
            if cls in (a.get("class") or "").split():
                return True
        return False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "main" and a.get("id") == "screen":
            self.main = a
        if a.get("id") == "items":
            self.items_class = a.get("class") or ""
        if tag == "article" and "card" in cls:
            self.cards.append({"sku": a.get("data-sku"), "name": "", "tag": "", "amount": "",
                               "cur": "", "media": "", "ph": False, "img": None})
        if self.cards and self._in("card"):
            c = self.cards[-1]
            if "media" in cls:
                c["media"] = a.get("class")
            if "ph" in cls:
                c["ph"] = True
            if tag == "img":
                c["img"] = a.get("src")
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self.stack:
            return
        cls = (self.stack[-1][1].get("class") or "").split()
        if self.stack[-1][1].get("id") == "headline":
            self.headline += data
        if self.cards and self._in("card"):
            c = self.cards[-1]
            for k in ("name", "tag", "amount", "cur"):
                if k in cls:
                    c[k] += data


# ---------------------------------------------------------------- helpers

def http(method, url, body=None, timeout=10):
    """(status, headers, body bytes); never raises for an HTTP status."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with H.NO_PROXY.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def content(version, headline, items, kind="recs"):
    return {"version": version, "store": "S1", "screen": "screen-dairy", "zone": "dairy",
            "kind": kind, "ts": "2026-11-23T09:14:00.000Z", "headline": headline,
            "currency": "EUR", "items": items}


def chromium_stderr_tail(path, n=25):
    """chromium's stderr without the D-Bus noise of a container (no session bus)."""
    lines = [l for l in H.tail(path, 400).splitlines()
             if "dbus" not in l and "unexpected operator" not in l]
    return "\n".join(lines[-n:]) or "(nothing but D-Bus messages, or empty)"


def browse(ctx, exe, url, mode, tag):
    """Run chromium once: mode "dom" -> the dumped DOM (str), "shot" -> the PNG path.

    Its own process group (the browser forks zygotes and renderers): the whole
    group is killed when it ends or times out, so nothing is left behind."""
    prof = ctx.path("chromium-profile-%s-%s" % (tag, mode))  # no lock left by a killed run
    out = ctx.path("chromium-%s.%s" % (tag, "html" if mode == "dom" else "png"))
    err = ctx.path("chromium-%s.stderr" % tag)
    argv = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--user-data-dir=%s" % prof, "--disk-cache-dir=%s" % ctx.path("chromium-cache"),
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-breakpad", "--metrics-recording-only",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-proxy-server",
            "--disable-dev-shm-usage", "--hide-scrollbars",
            "--window-size=1280,720", "--virtual-time-budget=%d" % BUDGET_MS]
    argv += ["--dump-dom"] if mode == "dom" else ["--screenshot=%s" % out]
    argv.append(url)
    t = time.monotonic()
    with open(err, "wb") as ferr, open(out if mode == "dom" else os.devnull, "wb") as fout:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr,
                             cwd=str(ctx.tmp), env=ctx.env, start_new_session=True)
        try:
            rc = p.wait(BROWSER_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                p.wait()
    dt = time.monotonic() - t
    if rc is None:
        raise H.Fail("chromium (%s) did not finish within %d s; its stderr (%s) ends:\n%s"
                     % (tag, BROWSER_TIMEOUT, err, chromium_stderr_tail(err)))
    if rc != 0 or not out.exists() or out.stat().st_size == 0:
        raise H.Fail("chromium (%s) exit status %s after %.1f s, output %s %s; its stderr ends:\n%s"
                     % (tag, rc, dt, out, "empty" if out.exists() else "missing",
                        chromium_stderr_tail(err)))
    ctx.log("chromium %s (%s) took %.1f s", tag, mode, dt)
    return (out.read_text(errors="replace") if mode == "dom" else out), dt


def png_size(path):
    b = path.read_bytes()[:24]
    H.check(b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", "%s is not a PNG" % path)
    return struct.unpack(">II", b[16:24])


# ---------------------------------------------------------------- the scenario

def run(ctx):
    exe = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin:/usr/lib/chromium")
    if not exe:
        raise H.Fail("chromium is not installed: scripts/install-deps installs Debian's "
                     "chromium package (apt-get install chromium fonts-dejavu-core)")
    img = ImageServer(("127.0.0.1", 0), ImageHandler)
    threading.Thread(target=img.serve_forever, daemon=True).start()
    try:
        return scenario(ctx, exe, "http://127.0.0.1:%d" % img.server_address[1])
    finally:
        img.shutdown()


def scenario(ctx, exe, img_base):
    s = H.ScreenServer(ctx, "screen")
    base = s.base.rstrip("/")

    # --- the HTTP contract
    st, hd, body = http("GET", base + "/")
    H.check(st == 200 and b"screen.js" in body and hd["Content-Type"].startswith("text/html"),
            "GET / -> %s %r" % (st, body[:80]))
    st, _, _ = http("GET", base + "/content.json")
    H.check(st == 204, "GET /content.json before any content -> %s, want 204" % st)

    first = content(17, "Shoppers who buy milk powder also take", [
        {"sku": "690123", "name": "Vitamin D3 drops for kids", "price": 1290,
         "headline": "Most chosen with milk powder", "image": img_base + "/img/tin.png"},
        {"sku": "690124", "name": "Organic oat porridge 500 g", "price": 349,
         "headline": "Breakfast for the little ones", "image": img_base + "/img/gone.png"},
        {"sku": "690125", "name": "Baby wipes sensitive 3x64", "price": 1999}])
    t = time.monotonic()
    st, _, body = http("POST", base + "/content", first)
    post_ms = (time.monotonic() - t) * 1000
    H.check(st == 200 and json.loads(body) == {"status": "shown", "version": 17},
            "POST v17 -> %s %r" % (st, body))

    st, _, body = http("POST", base + "/content", b'{"version": 18, "items": [')
    H.check(st == 400 and "bad JSON" in json.loads(body)["error"],
            "POST bad JSON -> %s %r" % (st, body))
    st, _, body = http("POST", base + "/content", b'{"version": NaN}')
    H.check(st == 400, "POST with a NaN literal -> %s %r" % (st, body))
    bad = content(18, "x", [{"sku": "A1", "name": "n", "price": "12.90"}])
    st, _, body = http("POST", base + "/content", bad)
    H.check(st == 400 and json.loads(body)["error"].startswith("items[0].price:"),
            "POST price as a string -> %s %r" % (st, body))
    st, _, body = http("POST", base + "/content", content(3, "old", []))
    H.check(st == 409 and json.loads(body) == {"error": "stale version", "shown": 17},
            "POST an older version -> %s %r" % (st, body))
    st, _, body = http("POST", base + "/content", first)
    H.check(st == 200 and json.loads(body)["status"] == "duplicate",
            "POST the same version again -> %s %r" % (st, body))
    st, _, body = http("GET", base + "/content.json")
    H.check(st == 200 and json.loads(body) == first,
            "GET /content.json after the 400/409s: %s %.200r" % (st, body))

    # --- the page in chromium (plain polling: a pending long-poll would hold
    # chromium's virtual time, and so --dump-dom, until it answers)
    page = base + "/?poll=500"
    # The picture loads asynchronously: a dump can come before its onload (seen
    # once in CI). The shopper sees it a moment later, so a dump without it is
    # taken again (at most twice more) before the checks below fail.
    for attempt in range(3):
        dom_text, dt_dom = browse(ctx, exe, page, "dom", "v17")
        dom = Dom()
        dom.feed(dom_text)
        if dom.cards and "loaded" in dom.cards[0].get("media", ""):
            break
        ctx.note("chromium dump %d: the first card's picture not loaded yet; again" % (attempt + 1))
    H.check(dom.main.get("data-version") == "17" and "idle" not in dom.main.get("class", ""),
            "the page did not render v17 (main: %r); DOM in %s"
            % (dom.main, ctx.path("chromium-v17.html")))
    H.check(dom.headline == first["headline"], "headline shown: %r" % dom.headline)
    H.check([c["sku"] for c in dom.cards] == ["690123", "690124", "690125"],
            "cards shown: %r" % dom.cards)
    want = [("Vitamin D3 drops for kids", "Most chosen with milk powder", "12.90"),
            ("Organic oat porridge 500 g", "Breakfast for the little ones", "3.49"),
            ("Baby wipes sensitive 3x64", "", "19.99")]
    for c, (name, tag, amount) in zip(dom.cards, want):
        H.check((c["name"], c["tag"], c["amount"], c["cur"]) == (name, tag, amount, "€"),
                "card %s shows %r, want name %r, headline %r, price %r EUR"
                % (c["sku"], c, name, tag, amount))
    c1, c2, c3 = dom.cards
    H.check("loaded" in c1["media"] and c1["img"] == img_base + "/img/tin.png" and not c1["ph"],
            "the served image is not shown loaded: %r (image server saw %r)" % (c1, IMAGE_SEEN))
    H.check("broken" in c2["media"] and c2["ph"] and c2["img"] is None,
            "the 404 image was not replaced by a placeholder: %r" % c2)
    H.check("noimage" in c3["media"] and c3["ph"], "no placeholder without image: %r" % c3)
    H.check(dom.items_class.split() == ["items", "n-3"], "items layout %r" % dom.items_class)
    shot1, dt_shot = browse(ctx, exe, page, "shot", "v17")
    H.check(png_size(shot1) == (1280, 720), "screenshot size %r" % (png_size(shot1),))
    print("screenshot (3 products): %s" % shot1, flush=True)

    # --- the long-poll: woken by the next content, which replaces the page's
    got = {}

    def longpoll():
        got["r"] = http("GET", base + "/content.json?after=17", timeout=30)
        got["t"] = time.monotonic()
    th = threading.Thread(target=longpoll, daemon=True)
    th.start()
    time.sleep(0.5)
    H.check(th.is_alive(), "/content.json?after=17 answered before any new content: %r"
            % (got.get("r"),))
    second = content(18, "Today in dairy", [
        {"sku": "690200", "name": "Family cheese platter", "price": 123450,
         "headline": "Serves twelve: order at the counter"}], kind="zone")
    t = time.monotonic()
    st, _, body = http("POST", base + "/content", second)
    H.check(st == 200 and json.loads(body)["version"] == 18, "POST v18 -> %s %r" % (st, body))
    th.join(5)
    H.check("r" in got and got["r"][0] == 200 and json.loads(got["r"][2])["version"] == 18,
            "the long-poll was not answered with v18: %r" % (got.get("r"),))
    wake_ms = (got["t"] - t) * 1000

    dom_text, _ = browse(ctx, exe, page, "dom", "v18")
    dom = Dom()
    dom.feed(dom_text)
    H.check(dom.main.get("data-version") == "18" and dom.headline == "Today in dairy"
            and len(dom.cards) == 1 and dom.cards[0]["amount"] == "1,234.50"
            and dom.cards[0]["name"] == "Family cheese platter"
            and dom.items_class.split() == ["items", "n-1"],
            "v18 not rendered as one product at 1,234.50: main %r, headline %r, cards %r"
            % (dom.main, dom.headline, dom.cards))
    shot2, _ = browse(ctx, exe, page, "shot", "v18")
    print("screenshot (1 product): %s" % shot2, flush=True)

    # --- the request log: every request with its arrival time
    # (a line is written when its answer has gone: threads can finish out of
    # order, so the lines are put in the order the requests arrived)
    log = sorted(s.log(), key=lambda r: r["t_arrival"])
    posts = [r for r in log if r["method"] == "POST"]
    H.check([(r["status"], r["version"]) for r in posts]
            == [(200, 17), (400, None), (400, None), (400, 18), (409, 3), (200, 17), (200, 18)],
            "POSTs in the log: %r" % [(r["status"], r.get("version")) for r in posts])
    H.check(all(r["t_answer"] >= r["t_arrival"] > 0 for r in log), "log times: %r" % log[:3])
    H.check(any(r["path"].startswith("/content.json?poll") or r["path"] == "/content.json"
                for r in log if r["method"] == "GET"), "the page's polls are not in the log")
    H.check(any(r["path"] == "/screen.js" and r["status"] == 200 for r in log),
            "screen.js was never served")

    # --- a broken screen (--fail) and a slow one (--delay-ms)
    f = H.ScreenServer(ctx, "screen-fail", ["--fail"])
    st, _, _ = http("POST", f.base + "content", first)
    H.check(st == 500, "POST to a --fail screen -> %s, want 500" % st)
    st, _, _ = http("GET", f.base + "content.json")
    H.check(st == 204, "a --fail screen stored the content (GET -> %s)" % st)
    slow = H.ScreenServer(ctx, "screen-slow", ["--delay-ms", "400"])
    t = time.monotonic()
    st, _, _ = http("POST", slow.base + "content", first)
    slow_ms = (time.monotonic() - t) * 1000
    H.check(st == 200 and 400 <= slow_ms < 2000, "--delay-ms 400: %s after %.0f ms" % (st, slow_ms))
    # the server writes its log line after answering: wait for it
    r = H.wait_until(lambda: slow.log(), 5, "screen-slow's log line")[-1]
    H.check(r["t_answer"] - r["t_arrival"] >= 0.39, "--delay-ms log line %r" % r)

    return ("screen contract ok (POST %.1f ms, long-poll woke %.1f ms after a POST, "
            "--delay-ms 400 -> %.0f ms); chromium shows headline, 3 products (12.90 EUR, "
            "loaded image, placeholders) then 1 product (1,234.50) [dump-dom %.1f s, "
            "screenshot %.1f s]" % (post_ms, wake_ms, slow_ms, dt_dom, dt_shot))


if __name__ == "__main__":
    H.main(run, __doc__)
