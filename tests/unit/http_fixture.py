#!/usr/bin/env python3
"""HTTP(S) fixture for tests/unit/test_fetch.c (Python 3 stdlib only).

Serves the files of --dir with Range support ("bytes=N-" and "bytes=N-M":
206 with Content-Range, 416 with "bytes */SIZE" past the end), plus:

  /slow        Content-Length 100000; sends 1000 bytes, then 1 byte every 2 s
  /truncated   the file "truncated": without a Range header, announces the full
               length, sends half of it and closes; with Range, a proper 206
  /big         Content-Length 10 MiB of zeros
  /bignolen    10 MiB of zeros, no Content-Length (ends when it closes)
  /norange     the file "norange", always 200 with all of it (ignores Range)
  /shortrange  the file "good.bin", but a Range request gets a 206 of 10 bytes
               (a Content-Range that stops short of the total)
  /redir       302 to /good.bin; /redirloop: 302 to itself
  /404         404

Every request is appended to --log as "METHOD PATH range=<Range or ->".
Listens on 127.0.0.1 on free ports and writes "HTTP_PORT HTTPS_PORT" (0 when
there is no TLS listener) to --port-file once listening. TLS (--cert/--key)
runs a second listener with the same handler.
"""
import argparse
import http.server
import os
import re
import socketserver
import ssl
import threading
import time

ARGS = None
LOG_LOCK = threading.Lock()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with LOG_LOCK, open(ARGS.log, "a") as f:
            f.write("%s %s range=%s\n" % (self.command, self.path,
                                          self.headers.get("Range", "-")))

    def head(self, code, length=None, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def zeros(self, n):
        chunk = b"\0" * 65536
        while n > 0:
            k = min(n, len(chunk))
            self.wfile.write(chunk[:k])
            n -= k

    def serve_file(self, name, honor_range=True, cut_without_range=False):
        path = os.path.join(ARGS.dir, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.head(404, 0)
            return
        size = len(data)
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "") if honor_range else None
        if m:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
            if start >= size:
                self.head(416, 0, {"Content-Range": "bytes */%d" % size})
                return
            end = min(end, size - 1)
            body = data[start:end + 1]
            self.head(206, len(body),
                      {"Content-Range": "bytes %d-%d/%d" % (start, end, size)})
            self.wfile.write(body)
            return
        self.head(200, size)
        if cut_without_range:
            self.wfile.write(data[:size // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    def do_GET(self):
        self.record()
        p = self.path.split("?", 1)[0]
        try:
            if p == "/slow":
                self.head(200, 100000)
                self.wfile.write(b"s" * 1000)
                self.wfile.flush()
                for _ in range(99000):
                    time.sleep(2)
                    self.wfile.write(b"s")
                    self.wfile.flush()
            elif p == "/truncated":
                self.serve_file("truncated", cut_without_range=True)
            elif p == "/big":
                self.head(200, 10 << 20)
                self.zeros(10 << 20)
            elif p == "/bignolen":
                self.head(200)
                self.zeros(10 << 20)
            elif p == "/norange":
                self.serve_file("norange", honor_range=False)
            elif p == "/shortrange":
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if not m:
                    self.serve_file("good.bin")
                    return
                start = int(m.group(1))
                with open(os.path.join(ARGS.dir, "good.bin"), "rb") as f:
                    data = f.read()
                self.head(206, 10, {"Content-Range": "bytes %d-%d/%d" %
                                    (start, start + 9, len(data))})
                self.wfile.write(data[start:start + 10])
            elif p == "/redir":
                self.head(302, 0, {"Location": "/good.bin"})
            elif p == "/redirloop":
                self.head(302, 0, {"Location": "/redirloop"})
            elif p == "/404":
                self.head(404, 0)
            else:
                self.serve_file(p.lstrip("/"))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ARGS = ap.parse_args()

    plain = Server(("127.0.0.1", 0), Handler)
    servers = [plain]
    tls_port = 0
    if ARGS.cert:
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        tls_port = tls.server_address[1]
        servers.append(tls)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (plain.server_address[1], tls_port))
    os.rename(tmp, ARGS.port_file)
    plain.serve_forever()


if __name__ == "__main__":
    main()
