#!/usr/bin/env python3
"""(m) Price snapshots: a batch that carries a catalogue to download.

Covers DESIGN §5.1 / issue 3 item 1 with a real local HTTP server: a batch
with "snapshot":{"url","sha256","size"} is acked "scheduled", downloaded by
shelfd (libcurl inside its loop), checked and applied as the whole price
table: its SKUs set, the SKUs it lacks removed ("not for sale" on their
labels), acked "applied" with the removed SKUs listed. A wrong sha256 and a
file larger than announced are acked "rejected" and change nothing. A
download cut off in the middle is retried and resumed with a Range request
(the server sees it), then applied. With "prices":{"snapshot_missing":"keep"}
what the catalogue lacks keeps its price.
"""
import hashlib
import http.server
import json
import socketserver
import threading
import time

import harness as H

FILES = {}
SEEN = []        # (path, Range header) of every request
CUT_ONCE = set()  # paths whose first answer is cut off half-way


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        SEEN.append((self.path, rng))
        body = FILES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1,
                                                                  len(body)))
        else:
            self.send_response(200)
        part = body[start:]
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if self.path in CUT_ONCE:
            CUT_ONCE.discard(self.path)
            self.wfile.write(part[:len(part) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(part)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def run(ctx):
    httpd = Server(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        return scenario(ctx, port)
    finally:
        httpd.shutdown()


def scenario(ctx, http_port):
    broker = H.Broker(ctx)
    broker.start()
    hq = H.HQ(ctx, broker)
    hq.start()
    d = H.Shelfd(ctx, broker.port, store="S1")
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected")

    def publish(obj):
        H.publish(ctx, broker, "shelf/v1/S1/prices", obj)

    def acks(ref):
        hq.poll()
        return [a for a in hq.counter.acks if a.get("ref") == ref]

    def final(ref, timeout=30):
        return H.wait_until(lambda: [a for a in acks(ref) if a["status"] != "scheduled"],
                            timeout, "the final ack of " + ref)[0]

    def price(sku):
        rc, v = d.ctl("prices", "get", sku, check=False)
        return v["price"] if rc == 0 else None

    # Prices before the catalogue: OLD-1 and KEEP-1 (KEEP-1 is in the snapshot).
    publish({"id": "b0", "issued_at": "2026-11-23T05:00:00.000Z", "currency": "EUR",
             "items": [{"sku": "OLD-1", "price": 100}, {"sku": "KEEP-1", "price": 200}]})
    H.wait_until(lambda: acks("b0"), 10, "b0 applied")

    def snapshot(path, items, cut=False):
        body = json.dumps({"items": items}).encode()
        FILES[path] = body
        if cut:
            CUT_ONCE.add(path)
        return {"url": "http://127.0.0.1:%d%s" % (http_port, path),
                "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}

    # 1. a good catalogue
    items = [{"sku": "KEEP-1", "price": 250, "name": "Kept"}] + \
        [{"sku": "CAT-%04d" % i, "price": 1000 + i} for i in range(500)]
    publish({"id": "s1", "issued_at": "2026-11-23T06:00:00.000Z", "currency": "EUR",
             "snapshot": snapshot("/cat1.json", items)})
    a = final("s1")
    H.check(acks("s1")[0]["status"] == "scheduled", "first ack of s1: %r" % acks("s1")[0])
    H.check(a["status"] == "applied" and a["applied"] == 501 and a["removed"] == 1
            and a["removed_skus"] == ["OLD-1"], "s1 ack: %r" % a)
    H.check(price("KEEP-1")["price"] == 250 and price("CAT-0499")["price"] == 1499,
            "prices after s1")
    H.check(price("OLD-1")["removed"] is True, "OLD-1 after the snapshot: %r" % price("OLD-1"))

    # 2. wrong sha256: rejected, nothing changes
    snap = snapshot("/cat2.json", [{"sku": "KEEP-1", "price": 1}])
    snap["sha256"] = "0" * 64
    publish({"id": "s2", "issued_at": "2026-11-23T07:00:00.000Z", "currency": "EUR",
             "snapshot": snap})
    a = final("s2")
    H.check(a["status"] == "rejected" and a["errors"][0]["at"] == "snapshot.url",
            "s2 ack: %r" % a)
    H.check(price("KEEP-1")["price"] == 250, "a rejected snapshot changed a price")

    # 3. larger than announced: rejected
    snap = snapshot("/cat3.json", [{"sku": "KEEP-1", "price": 2}])
    snap["size"] = 10
    publish({"id": "s3", "issued_at": "2026-11-23T08:00:00.000Z", "currency": "EUR",
             "snapshot": snap})
    a = final("s3")
    H.check(a["status"] == "rejected", "s3 ack: %r" % a)
    H.check(price("KEEP-1")["price"] == 250, "a too-large snapshot changed a price")

    # 4. cut off half-way, then resumed
    items = [{"sku": "CAT-%04d" % i, "price": 3000 + i} for i in range(2000)]
    publish({"id": "s4", "issued_at": "2026-11-23T09:00:00.000Z", "currency": "EUR",
             "snapshot": snapshot("/cat4.json", items, cut=True)})
    t = time.monotonic()
    a = final("s4", timeout=60)
    H.check(a["status"] == "applied" and a["applied"] == 2000, "s4 ack: %r" % a)
    ranges = [r for p, r in SEEN if p == "/cat4.json"]
    H.check(len(ranges) >= 2 and ranges[0] is None and ranges[-1]
            and ranges[-1].startswith("bytes=") and ranges[-1] != "bytes=0-",
            "requests for the cut file: %r" % ranges)
    H.check(price("CAT-1999")["price"] == 4999 and price("KEEP-1")["removed"] is True,
            "prices after s4")
    H.check(d.stop() == 0, "shelfd exit status")

    # 5. prices.snapshot_missing = keep: what the catalogue lacks keeps its price
    d.config["prices"] = {"snapshot_missing": "keep"}
    d.conf.write_text(json.dumps(d.config))
    d.start()
    H.wait_until(lambda: d.status()["hq"]["state"] == "connected", 10, "connected again")
    publish({"id": "s5", "issued_at": "2026-11-23T10:00:00.000Z", "currency": "EUR",
             "snapshot": snapshot("/cat5.json", [{"sku": "CAT-0000", "price": 7}])})
    a = final("s5")
    H.check(a["status"] == "applied" and a["applied"] == 1 and a["removed"] == 0,
            "s5 ack (keep): %r" % a)
    H.check(price("CAT-1999")["price"] == 4999 and price("CAT-0000")["price"] == 7,
            "prices after a snapshot with snapshot_missing=keep")
    H.check(d.stop() == 0, "shelfd exit status")
    return ("snapshot applied (501 set, 1 removed); wrong sha256 and too large rejected; "
            "cut-off download resumed with %s after %.0f s" % (ranges[-1], time.monotonic() - t))


if __name__ == "__main__":
    H.main(run, __doc__)
