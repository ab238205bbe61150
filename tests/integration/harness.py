"""harness: the parts every black-box scenario shares.

A scenario starts the real binaries (build/shelfd, build/shelfctl) with a
private config in its own temp dir, a real mosquitto broker on a free
127.0.0.1 port ("HQ"), an HQ-side mosquitto_sub that counts what arrives,
and scripts/pos-sim writing sales to a pty. Nothing listens on or talks to
any address but 127.0.0.1.

    Ctx       the scenario's temp dir, log, and every process it started
              (all stopped in close(), even after a failure)
    Broker    mosquitto with a temp config (plain or TLS, optional persistence)
    HQ        mosquitto_sub -F %j into a file, parsed into a Counter
    Counter   the delivery report (Azure IoT Edge model): every event is
              numbered by seq; counts missing, duplicated, misordered
    Shelfd    one shelfd instance: config, start/stop/kill -9, shelfctl
    PosSim    one scripts/pos-sim process (the POS on a pty)
    ScreenServer  one scripts/screen-server (a guide screen) on a free port:
              .base .port .logpath .proc; log(), posts(), content(), stop()
    publish   mosquitto_pub -q 1 of one message (a dict/list as JSON, a
              str/bytes as is) to the broker, as HQ would send it
    now_ms, iso, ms_of   epoch ms now, epoch ms -> RFC 3339 UTC with
              milliseconds (shelfd's format), RFC 3339 -> epoch ms

A scenario file defines run(ctx) returning a one-line summary, raises Fail
with the reason, and ends with `harness.main(run, __doc__)`. It runs alone
(`python3 tests/integration/test_a_online.py --bin build`) or under run.py.
Python 3.11 stdlib only.
"""
import argparse
import datetime
import glob
import importlib.machinery
import importlib.util
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POS_SIM = REPO / "scripts" / "pos-sim"
STORE = "S1"
SAN_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")
# the broker lives in /usr/sbin, often not in a normal user's PATH
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin") \
    or "/usr/sbin/mosquitto"
SCREEN_SERVER = REPO / "scripts" / "screen-server"
# urllib without any *_proxy from the environment: the tests only talk to 127.0.0.1
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Fail(Exception):
    """A scenario failed; the message is the reason printed by run.py."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def load_pos_sim():
    """scripts/pos-sim as a module (make_sale recomputes what a receipt held)."""
    loader = importlib.machinery.SourceFileLoader("pos_sim", str(POS_SIM))
    spec = importlib.util.spec_from_loader("pos_sim", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns something truthy; return it. Fail after timeout s."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise Fail("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError as e:
        return "(%s)" % e


def parse_tst(s):
    """mosquitto_sub %j "tst" ("2026-11-23T09:07:31.121494Z+0000") -> epoch seconds."""
    try:
        d = datetime.datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f")
        return d.replace(tzinfo=datetime.timezone.utc).timestamp()
    except (ValueError, TypeError):
        return time.time()


def now_ms():
    """The wall clock as epoch ms."""
    return int(time.time() * 1000)


def iso(ms=None):
    """Epoch ms (default: now) -> RFC 3339 UTC with milliseconds (shelfd's format)."""
    if ms is None:
        ms = now_ms()
    return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ms_of(s):
    """RFC 3339 (with or without fraction, any offset) -> epoch ms; None for None."""
    if s is None:
        return None
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))


class Ctx:
    def __init__(self, bindir, tmp, name):
        self.bin = Path(bindir).resolve()
        self.tmp = Path(tmp)
        self.name = name
        self.t0 = time.monotonic()
        self.procs = []   # (label, Popen, order): stopped in ascending order
        self.shelfds = []
        self.logs = []    # (label, path) shown on failure
        self.notes = []   # lines for the report (not failures)
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.user = pwd.getpwuid(os.getuid()).pw_name

    def log(self, fmt, *args):
        msg = fmt % args if args else fmt
        print("[%6.2f] %s" % (time.monotonic() - self.t0, msg), flush=True)

    def note(self, fmt, *args):
        msg = fmt % args if args else fmt
        self.notes.append(msg)
        self.log("note: " + msg)

    def path(self, *parts):
        p = self.tmp.joinpath(*parts)
        return p

    def spawn(self, label, argv, order, stdout=None, stderr=None, **kw):
        """Start a process we own; it is stopped in close()."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL,
                             stderr=stderr or subprocess.DEVNULL, env=self.env, **kw)
        self.procs.append((label, p, order))
        return p

    def close(self):
        """Stop every process still running: SIGTERM, then SIGKILL after 5 s."""
        for label, p, _ in sorted(self.procs, key=lambda x: x[2]):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    self.log("%s (pid %d) ignored SIGTERM, killing", label, p.pid)
                    p.kill()
                    p.wait()
                except ProcessLookupError:
                    pass

    def sanitizer_report(self):
        """Sanitizer findings in any shelfd/shelfctl stderr, or None."""
        for label, path in self.logs:
            if not label.startswith(("shelfd", "shelfctl")):
                continue
            try:
                text = Path(path).read_text(errors="replace")
            except OSError:
                continue
            for pat in SAN_PATTERNS:
                i = text.find(pat)
                if i >= 0:
                    start = text.rfind("\n", 0, max(0, i - 200)) + 1
                    return "%s: %s\n%s" % (label, pat, text[start:start + 3000])
        return None


# ---------------------------------------------------------------- broker

class Broker:
    """A mosquitto broker on 127.0.0.1:port with a temp config.

    tls: None or {"ca","cert","key"} -> a TLS listener requiring client
    certificates. persistence: keep sessions and queued messages across a
    stop/start (so a persistent HQ subscriber loses nothing)."""

    def __init__(self, ctx, name="broker", port=None, tls=None, persistence=False):
        self.ctx = ctx
        self.name = name
        self.port = port or free_port()
        self.tls = tls
        self.persistence = persistence
        self.dir = ctx.path(name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.logpath = self.dir / "mosquitto.log"
        self.proc = None
        self.starts = 0
        lines = ["listener %d 127.0.0.1" % self.port,
                 "allow_anonymous true",
                 # the tests count every message: never drop queued QoS 1
                 "max_queued_messages 0",
                 "max_queued_bytes 0",
                 "log_dest stderr",
                 "log_type error", "log_type warning", "log_type notice",
                 "log_type information",
                 "connection_messages true"]
        if os.getuid() == 0:
            lines.append("user %s" % ctx.user)   # do not drop to "mosquitto"
        if tls:
            lines += ["cafile %s" % tls["ca"], "certfile %s" % tls["cert"],
                      "keyfile %s" % tls["key"], "require_certificate true"]
        if persistence:
            pdir = self.dir / "persist"
            pdir.mkdir(exist_ok=True)
            lines += ["persistence true", "persistence_location %s/" % pdir,
                      "autosave_interval 1"]
        self.conf.write_text("\n".join(lines) + "\n")
        ctx.logs.append(("broker " + name, str(self.logpath)))

    def start(self, timeout=10):
        self.starts += 1
        with open(self.logpath, "ab") as f:
            f.write(b"=== start %d ===\n" % self.starts)
        log = open(self.logpath, "ab")
        self.proc = self.ctx.spawn(self.name, [MOSQUITTO, "-c", str(self.conf)], order=30,
                                   stderr=log, stdout=log)
        log.close()

        def up():
            if self.proc.poll() is not None:
                raise Fail("broker exited with %s:\n%s" % (self.proc.returncode,
                                                           tail(self.logpath, 15)))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until(up, timeout, "broker on 127.0.0.1:%d" % self.port)
        self.ctx.log("broker %s up on 127.0.0.1:%d%s", self.name, self.port,
                     " (TLS)" if self.tls else "")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.ctx.log("broker %s stopped", self.name)

    def client_args(self, tls=None):
        """mosquitto_sub/pub connection arguments (tls: {"ca","cert","key"})."""
        a = ["-h", "127.0.0.1", "-p", str(self.port)]
        if tls:
            a += ["--cafile", tls["ca"], "--cert", tls["cert"], "--key", tls["key"]]
        return a


# ---------------------------------------------------------------- HQ side

class Counter:
    """Everything HQ received, counted by seq (dedupe by (store, seq))."""

    IDENTITY = ("seq", "type", "ts", "kind", "receipt", "alert")  # equal in every copy

    def __init__(self, store=STORE, keep_full=True):
        self.store = store
        self.keep_full = keep_full  # False: keep only seq/type/receipt/alert fields
        self.messages = 0          # event messages
        self.events = 0            # events including duplicates
        self.count = {}            # seq -> copies received
        self.first = {}            # seq -> event (first copy)
        self.arrivals = {}         # seq -> [arrival time (epoch s), ...]
        self.by_receipt = {}       # receipt -> set of seqs
        self.max_seq_type = {}     # type -> highest seq received
        self.max_seq = None
        self.misordered = 0        # new seq below the highest of its type so far
        self.misordered_global = 0  # same, across all types
        self.unsorted_msgs = 0     # messages whose seqs are not strictly ascending
        self.bad = []              # problems with payloads
        self.alerts = []           # alert events (first copies) in arrival order
        self.status = []           # (time, payload dict, retained)
        self.probes = set()
        self.acks = []        # bodies of shelf/v1/{store}/acks, in arrival order
        self.last_arrival = 0.0

    def add(self, topic, payload, tst, retained):
        parts = topic.split("/")
        if len(parts) >= 3 and parts[2] == "_probe":
            self.probes.add(parts[-1])
            return
        try:
            body = json.loads(payload)
        except ValueError as e:
            self.bad.append("%s: not JSON (%s): %.80r" % (topic, e, payload))
            return
        if topic == "shelf/v1/%s/status" % self.store:
            self.status.append((tst, body, retained))
            return
        if topic == "shelf/v1/%s/acks" % self.store:
            self.acks.append(body)
            return
        if not topic.startswith("shelf/v1/%s/events/" % self.store):
            return
        ttype = topic.rsplit("/", 1)[1]
        if not isinstance(body, dict) or body.get("store") != self.store \
                or not isinstance(body.get("events"), list):
            self.bad.append("%s: bad envelope %.120r" % (topic, payload))
            return
        self.messages += 1
        self.last_arrival = time.monotonic()
        prev = None
        for ev in body["events"]:
            seq = ev.get("seq") if isinstance(ev, dict) else None
            if not isinstance(seq, int):
                self.bad.append("%s: event without integer seq: %.120r" % (topic, ev))
                continue
            if ev.get("type") != ttype:
                self.bad.append("%s: event type %r on topic of type %r (seq %d)"
                                % (topic, ev.get("type"), ttype, seq))
            if prev is not None and seq <= prev:
                self.unsorted_msgs += 1
            prev = seq
            self.events += 1
            self.arrivals.setdefault(seq, []).append(tst)
            if seq in self.count:
                self.count[seq] += 1
                # a duplicate must be the same event: one seq reused for
                # another event would hide a loss behind a "duplicate"
                first = self.first[seq]
                diff = [k for k in self.IDENTITY if first.get(k) != ev.get(k)]
                if diff:
                    self.bad.append("seq %d received twice with different %s: %.150r / %.150r"
                                    % (seq, "/".join(diff), first, ev))
                continue
            self.count[seq] = 1
            if not self.keep_full:
                ev = {k: ev[k] for k in self.IDENTITY + ("device", "error", "moved_to", "reason")
                      if k in ev}
            self.first[seq] = ev
            top = self.max_seq_type.get(ttype)
            if top is not None and seq < top:
                self.misordered += 1
            if top is None or seq > top:
                self.max_seq_type[ttype] = seq
            if self.max_seq is not None and seq < self.max_seq:
                self.misordered_global += 1
            if self.max_seq is None or seq > self.max_seq:
                self.max_seq = seq
            if ttype == "sale":
                r = ev.get("receipt")
                self.by_receipt.setdefault(r, set()).add(seq)
            elif ttype == "alert":
                self.alerts.append(ev)

    # --- the report
    def duplicates(self):
        """Extra copies received (sum over seqs of copies - 1)."""
        return sum(c - 1 for c in self.count.values())

    def distinct(self):
        return len(self.count)

    def gaps(self):
        """Seqs missing inside [min, max] of what arrived."""
        if not self.count:
            return 0
        return max(self.count) - min(self.count) + 1 - len(self.count)

    def gap_ranges(self, limit=10):
        s = sorted(self.count)
        out = []
        for a, b in zip(s, s[1:]):
            if b != a + 1:
                out.append("%d..%d" % (a + 1, b - 1))
                if len(out) >= limit:
                    break
        return out

    def receipts(self):
        return set(self.by_receipt)

    def receipt_numbers(self):
        out = set()
        for r in self.by_receipt:
            if isinstance(r, str) and r.startswith("R-") and r[2:].isdigit():
                out.add(int(r[2:]))
        return out

    def double_committed(self):
        """Receipts committed under more than one seq (ingested twice)."""
        return sorted(r for r, s in self.by_receipt.items() if len(s) > 1)

    def sales(self):
        return [e for e in self.first.values() if e.get("type") == "sale"]

    def alerts_of(self, kind):
        return [a for a in self.alerts if a.get("alert") == kind]

    def summary(self):
        return ("%d msgs, %d events, %d distinct seqs, %d duplicates, %d misordered "
                "(%d across types), %d gaps, %d unsorted msgs"
                % (self.messages, self.events, self.distinct(), self.duplicates(),
                   self.misordered, self.misordered_global, self.gaps(), self.unsorted_msgs))


class HQ:
    """The HQ-side subscriber: mosquitto_sub -v on shelf/v1/# at QoS 1,
    output as one JSON object per message (-F %j) into a file that poll()
    parses. persistent=True: a fixed client id and clean session off, so
    nothing is lost while the broker is down or restarting (the subscriber
    reconnects by itself; poll() restarts it if it ever exits)."""

    def __init__(self, ctx, broker, name="hq", persistent=False, tls=None, keep_full=True):
        self.ctx = ctx
        self.broker = broker
        self.name = name
        self.persistent = persistent
        self.tls = tls
        self.out = ctx.path(name + ".out")
        self.err = ctx.path(name + ".err")
        self.counter = Counter(keep_full=keep_full)
        self.proc = None
        self.pos = 0
        self.partial = b""
        self.restarts = 0
        ctx.logs.append((name + " stderr", str(self.err)))

    def _argv(self):
        a = ["mosquitto_sub"] + self.broker.client_args(self.tls) + \
            ["-t", "shelf/v1/#", "-q", "1", "-F", "%j"]
        if self.persistent:
            a += ["-c", "-i", "hq-" + self.ctx.name]
        else:
            a += ["-i", "hq-%s-%d" % (self.ctx.name, os.getpid())]
        return a

    def start(self):
        out = open(self.out, "ab")
        err = open(self.err, "ab")
        self.proc = self.ctx.spawn(self.name, self._argv(), order=20, stdout=out, stderr=err)
        out.close()
        err.close()
        self.wait_ready()

    def wait_ready(self, timeout=15):
        """Publish probes until the subscriber shows one: it is subscribed."""
        nonce = "%d-%d" % (os.getpid(), random.randrange(1 << 30))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            subprocess.run(["mosquitto_pub"] + self.broker.client_args(self.tls) +
                           ["-t", "shelf/v1/_probe/" + nonce, "-q", "1", "-m", "x"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10, env=self.ctx.env)
            t = time.monotonic() + 1
            while time.monotonic() < t:
                self.poll()
                if nonce in self.counter.probes:
                    return
                time.sleep(0.02)
        raise Fail("HQ subscriber not receiving after %ds:\n%s" % (timeout, tail(self.err, 10)))

    def poll(self):
        """Parse what arrived since the last call; restart a dead subscriber."""
        try:
            with open(self.out, "rb") as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            data = b""
        if data:
            data = self.partial + data
            lines = data.split(b"\n")
            self.partial = lines.pop()
            for line in lines:
                if not line.strip():
                    continue
                try:
                    m = json.loads(line)
                except ValueError:
                    self.counter.bad.append("unparseable subscriber line %.100r" % line)
                    continue
                self.counter.add(m.get("topic", ""), m.get("payload", ""),
                                 parse_tst(m.get("tst")), bool(m.get("retain")))
        if self.proc and self.proc.poll() is not None and self.persistent:
            self.restarts += 1
            self.ctx.log("HQ subscriber exited (%s), restarting", self.proc.returncode)
            out = open(self.out, "ab")
            err = open(self.err, "ab")
            self.proc = self.ctx.spawn(self.name, self._argv(), order=20, stdout=out, stderr=err)
            out.close()
            err.close()
        return self.counter

    def wait_receipts(self, want, timeout, stall=20, what="receipts"):
        """Wait until every receipt number in @want arrived. Fails after
        @timeout s, or after @stall s without any new event."""
        want = set(want)
        end = time.monotonic() + timeout
        last_n = -1
        last_change = time.monotonic()
        while True:
            c = self.poll()
            got = want & c.receipt_numbers()
            if len(got) == len(want):
                return
            now = time.monotonic()
            if c.events != last_n:
                last_n = c.events
                last_change = now
            if now >= end or now - last_change >= stall:
                miss = sorted(want - got)
                raise Fail("%s: %d of %d arrived at HQ after %.0fs (%s; first missing: %s)"
                           % (what, len(got), len(want), timeout if now >= end else stall,
                              c.summary(), miss[:10]))
            time.sleep(0.05)

    def settle(self, quiet=1.0, timeout=30):
        """Wait until nothing has arrived for @quiet s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            c = self.poll()
            if time.monotonic() - max(c.last_arrival, 0) >= quiet:
                return
            time.sleep(0.05)


def publish(ctx, broker, topic, payload):
    """Publish one message to @broker at QoS 1, as HQ would (mosquitto_pub -f: a
    payload of any size). @payload: a dict or list (sent as JSON) or a str or
    bytes (sent as is, so a test can send what is not valid JSON)."""
    if isinstance(payload, (dict, list)):
        payload = json.dumps(payload)
    path = ctx.path("payload.json")
    path.write_bytes(payload if isinstance(payload, bytes) else payload.encode())
    subprocess.run(["mosquitto_pub"] + broker.client_args() + ["-q", "1", "-t", topic,
                    "-f", str(path)], check=True, env=ctx.env, timeout=30)


# ---------------------------------------------------------------- shelfd

class Shelfd:
    """One shelfd: its config, data dir and control socket under the
    scenario's temp dir; stderr (all runs) in NAME.stderr."""

    def __init__(self, ctx, broker_port, name="shelfd", link=None, tls=None, hq=None,
                 outbox=None, data_dir=None, store=STORE, devices=(), binary="shelfd",
                 env=None, extra=None):
        self.ctx = ctx
        self.name = name
        self.data = Path(data_dir) if data_dir else ctx.path(name + "-data")
        self.data.mkdir(parents=True, exist_ok=True)
        self.sock = str(self.data / "ctl.sock")
        self.conf = ctx.path(name + ".json")
        self.errpath = ctx.path(name + ".stderr")
        self.ctlerr = ctx.path(name + "-shelfctl.stderr")
        self.proc = None
        self.runs = 0
        self.binary = binary  # "shelfd-gpiosim": linked against the libgpiod double
        self.env = dict(ctx.env)
        self.env.update(env or {})
        hqc = {"host": "127.0.0.1", "port": broker_port, "keepalive": 5,
               "backoff_min_ms": 200, "backoff_max_ms": 2000,
               "batch_max_events": 500, "max_inflight": 16}
        if tls:
            hqc["tls"] = {"ca": tls["ca"], "cert": tls["cert"], "key": tls["key"]}
        hqc.update(hq or {})
        ob = {"max_mb": 256, "sync": "full"}
        ob.update(outbox or {})
        self.store = store
        self.config = {"store_id": store, "data_dir": str(self.data),
                       "control_socket": self.sock, "log_level": "info",
                       "hq": hqc, "outbox": ob, "devices": []}
        if link:
            self.config["devices"].append({"name": "till1", "kind": "pos", "port": str(link),
                                           "baud": 115200, "format": "jsonl"})
        self.config["devices"] += list(devices)
        self.config.update(extra or {})
        self.conf.write_text(json.dumps(self.config, indent=2) + "\n")
        ctx.logs.append((name + " stderr", str(self.errpath)))
        ctx.logs.append(("shelfctl (" + name + ") stderr", str(self.ctlerr)))
        ctx.shelfds.append(self)

    @property
    def db(self):
        return self.data / "shelfd.db"

    def check_config(self):
        r = subprocess.run([str(self.ctx.bin / "shelfd"), "--check-config", "-c", str(self.conf)],
                           capture_output=True, text=True, timeout=20, env=self.ctx.env)
        return r.returncode, r.stdout + r.stderr

    def start(self, wait=True, timeout=15):
        self.runs += 1
        with open(self.errpath, "ab") as f:
            f.write(b"=== harness: start %d ===\n" % self.runs)
        err = open(self.errpath, "ab")
        self.proc = subprocess.Popen([str(self.ctx.bin / self.binary), "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     env=self.env)
        self.ctx.procs.append((self.name, self.proc, 10))
        err.close()
        if wait:
            self.wait_ready(timeout)
        return self.proc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=15):
        """Until `shelfctl status` answers (fails at once if shelfd exits)."""
        def ready():
            if not self.alive():
                raise Fail("%s exited with %s during start-up:\n%s"
                           % (self.name, self.proc.returncode, tail(self.errpath, 30)))
            rc, _ = self.ctl("status", check=False)
            return rc == 0
        wait_until(ready, timeout, "%s to answer shelfctl status" % self.name, interval=0.05)

    def stop(self, timeout=15):
        """SIGTERM; returns the exit status (-N for a signal)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("%s did not exit within %ds of SIGTERM:\n%s"
                       % (self.name, timeout, tail(self.errpath, 30)))

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            with open(self.errpath, "ab") as f:
                f.write(b"=== harness: SIGKILL ===\n")

    def ctl(self, *args, check=True, as_json=True, timeout=10):
        """Run shelfctl -s SOCK [--json] ARGS. Returns (rc, parsed JSON or text).
        check=True fails the scenario unless rc == 0."""
        argv = [str(self.ctx.bin / "shelfctl"), "-s", self.sock]
        if as_json:
            argv.append("--json")
        argv += list(args)
        try:
            r = subprocess.run(argv, capture_output=True, timeout=timeout, env=self.ctx.env)
        except subprocess.TimeoutExpired:
            raise Fail("%s timed out after %ds" % (" ".join(argv), timeout))
        if r.stderr:
            with open(self.ctlerr, "ab") as f:
                f.write(b"$ " + " ".join(args).encode() + b"\n" + r.stderr)
        out = r.stdout.decode(errors="replace")
        val = out
        if as_json and r.returncode == 0:
            try:
                val = json.loads(out)
            except ValueError:
                raise Fail("`shelfctl --json %s` printed invalid JSON: %.300r"
                           % (" ".join(args), out))
        if check and r.returncode != 0:
            raise Fail("`shelfctl %s` exited %d: %s %s"
                       % (" ".join(args), r.returncode, out.strip()[:300],
                          r.stderr.decode(errors="replace").strip()[:300]))
        return r.returncode, val

    def status(self):
        return self.ctl("status")[1]

    def device(self, name="till1"):
        _, d = self.ctl("devices")
        for dev in d.get("devices", []):
            if dev.get("name") == name:
                return dev
        raise Fail("device %s not in `shelfctl devices`: %.300r" % (name, d))

    def tail(self, n=40):
        return tail(self.errpath, n)


# ---------------------------------------------------------------- ESL

class Emu:
    """BUILD/esl-emu: the base-station firmware logic with simulated labels on a
    pty (@link); ctl() talks to its control socket (one JSON line per command)."""

    def __init__(self, ctx, labels="20:1,4:2,2:3", baud=115200, checkin_ms=1500, wake_ms=100,
                 air_kbps=250, seed=7, name="esl-emu", extra=()):
        self.ctx = ctx
        self.name = name
        self.link = ctx.path(name + ".pty")
        self.sock = ctx.path(name + ".sock")
        self.err = ctx.path(name + ".err")
        self.argv = [str(ctx.bin / "esl-emu"), "--labels", labels, "--checkin-ms",
                     str(checkin_ms), "--wake-ms", str(wake_ms), "--air-kbps", str(air_kbps),
                     "--seed", str(seed), "--baud", str(baud), "--pty-link", str(self.link),
                     "--ctl", str(self.sock)] + list(extra)
        self.proc = None
        ctx.logs.append((name + " stderr", str(self.err)))

    def start(self):
        for p in (self.sock, self.link):
            if os.path.lexists(p):
                os.unlink(p)
        with open(self.err, "ab") as e:
            self.proc = self.ctx.spawn(self.name, self.argv, order=15,
                                       stdout=subprocess.DEVNULL, stderr=e)
        wait_until(lambda: self.alive() and os.path.exists(self.sock)
                   and os.path.islink(self.link), 10, "esl-emu pty and control socket")
        return self

    def alive(self):
        if self.proc.poll() is not None:
            raise Fail("esl-emu exited %s:\n%s" % (self.proc.returncode, tail(self.err)))
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
            v = json.loads(buf)
        except ValueError:
            raise Fail("esl-emu answered %r to %r" % (buf[:200], line))
        if not v.get("ok"):
            raise Fail("esl-emu: %r -> %r" % (line, v))
        return v

    def label(self, label_id):
        return self.ctl("label " + label_id)


def read_pbm(path):
    """(width, height, rows of bytes) of a binary PBM."""
    data = Path(path).read_bytes()
    parts = data.split(maxsplit=3)
    if parts[0] != b"P4":
        raise Fail("%s is not a P4 PBM" % path)
    w, h = int(parts[1]), int(parts[2])
    stride = (w + 7) // 8
    px = parts[3][-stride * h:]
    return w, h, [px[y * stride:(y + 1) * stride] for y in range(h)]


def read_png_ink(path):
    """(width, height, rows of bytes as PBM-style bits: any ink = 1) of the indexed
    PNGs shelfd's tools write (4-bit palette white/black/red, stored deflate)."""
    import zlib
    data = Path(path).read_bytes()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    row = 1 + (w + 1) // 2
    stride = (w + 7) // 8
    rows = []
    for y in range(h):
        r = raw[y * row + 1:(y + 1) * row]
        bits = bytearray(stride)
        for x in range(w):
            v = (r[x // 2] >> (0 if x % 2 else 4)) & 0xF
            if v:
                bits[x // 8] |= 0x80 >> (x % 8)
        rows.append(bytes(bits))
    return w, h, rows


# ---------------------------------------------------------------- POS

class PosSim:
    """scripts/pos-sim as a child process: the POS device on a pty at @link."""

    def __init__(self, ctx, link, name="pos", start=1, count=0, rate=0, garbage=0,
                 refund_every=0, void_every=0, paused=True, hold=True, stall_ms=2000, seed=1):
        self.ctx = ctx
        self.link = str(link)
        self.name = name
        self.first = start
        self.count = count
        self.summary_path = ctx.path(name + ".summary.json")
        self.errpath = ctx.path(name + ".stderr")
        a = [sys.executable, str(POS_SIM), "--link", self.link, "--start", str(start),
             "--count", str(count), "--rate", str(rate), "--garbage-bytes", str(garbage),
             "--refund-every", str(refund_every), "--void-every", str(void_every),
             "--stall-ms", str(stall_ms), "--seed", str(seed),
             "--summary", str(self.summary_path)]
        if paused:
            a.append("--paused")
        if hold:
            a.append("--hold")
        self.argv = a
        self.proc = None
        self.result = None
        ctx.logs.append((name + " stderr", str(self.errpath)))

    def start(self, timeout=10):
        try:
            old = os.readlink(self.link)
        except OSError:
            old = None
        try:
            self.summary_path.unlink()
        except FileNotFoundError:
            pass
        err = open(self.errpath, "ab")
        self.proc = self.ctx.spawn(self.name, self.argv, order=15, stderr=err)
        err.close()

        def linked():
            if self.proc.poll() is not None:
                raise Fail("pos-sim exited %s:\n%s" % (self.proc.returncode, tail(self.errpath)))
            try:
                t = os.readlink(self.link)
            except OSError:
                return None
            # the link is published after the pty is set up and the signal
            # handlers are installed
            return t if (t != old or old is None) and os.path.exists(t) else None
        self.slave = wait_until(linked, timeout, "pos-sim to publish " + self.link)
        return self

    def resume(self):
        self.proc.send_signal(signal.SIGUSR2)

    def pause(self):
        self.proc.send_signal(signal.SIGUSR1)

    def stop(self, timeout=10):
        """SIGTERM (closes the master: the device vanishes); returns the summary."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail("pos-sim did not exit on SIGTERM")
        try:
            self.result = json.loads(self.summary_path.read_text())
        except (OSError, ValueError) as e:
            raise Fail("pos-sim left no summary (%s):\n%s" % (e, tail(self.errpath)))
        return self.result

    def written_numbers(self):
        """Receipt numbers written whole (needs stop() first)."""
        r = self.result
        return set(range(r["first"], r["last"] + 1)) - set(r["skipped"])


# ---------------------------------------------------------------- screens

class ScreenServer:
    """One scripts/screen-server (the reference guide screen) on 127.0.0.1.

    @tag names its files (TAG.out: its output, TAG.log: its --log, one JSON
    record per request) and its process; @args: more options ("--fail",
    "--delay-ms", "400"); @port: 0 for a free one, or a port to come back on.
    Started and listening when the constructor returns: .base is its URL
    ("http://127.0.0.1:PORT/"), .port its port, .proc the process."""

    def __init__(self, ctx, tag, args=(), port=0):
        self.ctx = ctx
        self.tag = tag
        self.args = [str(a) for a in args]
        self.out = ctx.path(tag + ".out")
        self.logpath = ctx.path(tag + ".log")
        ctx.logs.append(("screen-server " + tag, str(self.out)))
        with open(self.out, "wb") as f:
            self.proc = ctx.spawn(tag, ["python3", str(SCREEN_SERVER), "--port", str(port),
                                        "--log", str(self.logpath)] + self.args, order=12,
                                  stdout=f, stderr=subprocess.STDOUT)
        self.base = wait_until(self._listening, 10, "screen-server %s to listen" % tag)
        self.port = int(self.base.rstrip("/").rsplit(":", 1)[1])
        ctx.log("screen-server %s at %s%s", tag, self.base,
                "".join(" " + a for a in self.args))

    def _listening(self):
        if self.proc.poll() is not None:
            raise Fail("screen-server %s exited with %s:\n%s"
                       % (self.tag, self.proc.returncode, tail(self.out, 15)))
        for line in self.out.read_text(errors="replace").splitlines():
            if line.startswith("screen-server: listening on http://127.0.0.1:"):
                return line.split()[-1]
        return None

    def stop(self):
        """SIGTERM (SIGKILL after 10 s); its port is free again."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        """Every request it logged so far (--log, parsed); [] before the first."""
        try:
            text = self.logpath.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def posts(self):
        """The POST /content requests of log()."""
        return [r for r in self.log()
                if r.get("method") == "POST" and r.get("path") == "/content"]

    def content(self):
        """What it shows now (GET /content.json), or None before any content (204)."""
        with NO_PROXY.open(self.base + "content.json", timeout=10) as r:
            return None if r.status == 204 else json.loads(r.read().decode())


# ---------------------------------------------------------------- TLS

def make_certs(ctx, d):
    """A CA, a server cert for 127.0.0.1, client certs for shelfd and HQ,
    and an unrelated CA ("wrong"). Returns a dict of paths."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)

    def ossl(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise Fail("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()[-500:]))

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "wrongca"):
        ossl("req", "-x509", *key, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "3",
             "-subj", "/CN=shelf test %s" % ca, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    leaves = {"server": ("127.0.0.1", "subjectAltName=IP:127.0.0.1\n"
                                      "extendedKeyUsage=serverAuth\n"),
              "client": ("shelfd-S1", "extendedKeyUsage=clientAuth\n"),
              "hq": ("hq", "extendedKeyUsage=clientAuth\n")}
    for name, (cn, ext) in leaves.items():
        (d / (name + ".ext")).write_text("basicConstraints=CA:FALSE\n" + ext)
        ossl("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
        ossl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", name + ".crt", "-days", "3", "-extfile", name + ".ext")
    for f in d.glob("*.key"):
        f.chmod(0o600)
    p = {n: str(d / n) for n in ("ca.crt", "wrongca.crt", "server.crt", "server.key",
                                  "client.crt", "client.key", "hq.crt", "hq.key")}
    return {"ca": p["ca.crt"], "wrong_ca": p["wrongca.crt"],
            "server": {"ca": p["ca.crt"], "cert": p["server.crt"], "key": p["server.key"]},
            "client": {"ca": p["ca.crt"], "cert": p["client.crt"], "key": p["client.key"]},
            "hq": {"ca": p["ca.crt"], "cert": p["hq.crt"], "key": p["hq.key"]}}


# ---------------------------------------------------------------- time travel

# libfaketime (Debian package faketime), wherever the multiarch dir is.
FAKETIME_LIBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1")

# libfaketime (0.9.10) treats every TFD_TIMER_ABSTIME timerfd value as a
# CLOCK_REALTIME time and shifts it by the fake offset, which breaks shelfd's
# loop timer (an absolute CLOCK_MONOTONIC timerfd): EINVAL, or a timer that
# fires at once. This preload, listed BEFORE libfaketime, passes
# timerfd_settime() straight to the kernel; with FAKETIME_DONT_FAKE_MONOTONIC
# the monotonic clock is the real one, so loop timers are exact while the
# wall clock (CLOCK_REALTIME, time(), gettimeofday()) is shifted.
_TIMERFD_SHIM = r"""
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>
int timerfd_settime(int fd, int flags, const struct itimerspec *n, struct itimerspec *o)
{
	return (int)syscall(SYS_timerfd_settime, fd, flags, n, o);
}
"""


def faketime_lib():
    """The path of libfaketime.so.1, or None."""
    for pat in FAKETIME_LIBS:
        hits = sorted(glob.glob(pat))
        if hits:
            return hits[0]
    return None


def faketime_env(ctx, offset_ms):
    """Environment entries that run ONE process (give them to that shelfd only:
    Shelfd(env=...) or shelfd.env.update()) with its wall clock @offset_ms
    ahead of the real one (it keeps ticking); the monotonic clock stays real.
    Fails when libfaketime or a C compiler (for the timerfd preload) is missing."""
    lib = faketime_lib()
    if not lib:
        raise Fail("libfaketime not found (%s): install the Debian package faketime "
                   "(scripts/install-deps)" % ", ".join(FAKETIME_LIBS))
    shim = ctx.path("timerfd-shim.so")
    if not shim.exists():
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            raise Fail("no C compiler to build the timerfd preload for libfaketime")
        src = ctx.path("timerfd-shim.c")
        src.write_text(_TIMERFD_SHIM)
        r = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(shim), str(src)],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("building the timerfd preload failed: %s" % r.stderr.strip()[-500:])
    asan = ctx.env.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": "%s %s" % (shim, lib),
            "FAKETIME": "%+.3fs" % (offset_ms / 1000.0),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            # a sanitizer build wants its runtime first in the preload list
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


# ---------------------------------------------------------------- common checks

def check_sales_content(counter, sim_mod, numbers, kinds=None):
    """Every received sale for receipt numbers in @numbers carries what the
    POS wrote (lines, total, member, kind) and the envelope fields."""
    bad = []
    for ev in counter.sales():
        r = ev.get("receipt", "")
        if not (isinstance(r, str) and r.startswith("R-") and r[2:].isdigit()):
            bad.append("phantom receipt %r (seq %s)" % (r, ev.get("seq")))
            continue
        n = int(r[2:])
        if n not in numbers:
            continue
        kind = kinds(n) if kinds else "sale"
        want = json.loads(sim_mod.make_sale(n, kind))
        problems = []
        for k in ("lines", "total"):
            if ev.get(k) != want[k]:
                problems.append("%s %r != %r" % (k, ev.get(k), want[k]))
        if ev.get("member") != want.get("member"):
            problems.append("member %r != %r" % (ev.get("member"), want.get("member")))
        if ev.get("kind") != kind:
            problems.append("kind %r != %r" % (ev.get("kind"), kind))
        if ev.get("source") != "till1":
            problems.append("source %r" % ev.get("source"))
        if not isinstance(ev.get("ts"), str):
            problems.append("ts %r" % ev.get("ts"))
        if problems:
            bad.append("%s: %s" % (r, "; ".join(problems)))
    return bad


# ---------------------------------------------------------------- main

def _interrupted(signum, frame):
    # run.py's timeout (or ^C): unwind so ctx.close() stops our processes
    signal.signal(signum, signal.SIG_DFL)
    raise Fail("interrupted by signal %d (timeout?)" % signum)


def main(run, doc):
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    ap.add_argument("--bin", default=str(REPO / "build"), help="build dir with shelfd, shelfctl")
    ap.add_argument("--tmp",
                    help="temp dir for this scenario (default: a new one, removed on PASS)")
    a = ap.parse_args()
    name = Path(sys.argv[0]).stem
    own_tmp = a.tmp is None
    tmp = a.tmp or tempfile.mkdtemp(prefix="shelfd-it-%s-" % name)
    ctx = Ctx(a.bin, tmp, name)
    for b in ("shelfd", "shelfctl"):
        if not os.access(ctx.bin / b, os.X_OK):
            print("RESULT: FAIL %s not found in %s (run make all)" % (b, ctx.bin), flush=True)
            return sys.exit(1)
    ctx.log("scenario %s in %s, binaries from %s", name, tmp, ctx.bin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    ok = False
    reason = ""
    try:
        summary = run(ctx) or ""
        ok = True
    except Fail as e:
        reason = str(e)
    except Exception as e:  # a harness bug still fails the scenario, with a trace
        import traceback
        traceback.print_exc()
        reason = "harness error: %r" % e
    finally:
        try:
            ctx.close()
        except Fail as e:
            ok, reason = False, reason or str(e)
    san = ctx.sanitizer_report()
    if san:
        ok = False
        reason = (reason + "; " if reason else "") + "sanitizer report in " + san.splitlines()[0]
        print(san, flush=True)
    if not ok:
        for label, path in ctx.logs:
            if label.startswith("shelfd") or label.startswith("broker"):
                if os.path.exists(path) and os.path.getsize(path) > 0:
                    print("---- tail of %s (%s) ----" % (label, path))
                    print(tail(path, 30))
        print("---- end ----", flush=True)
    for n in ctx.notes:
        print("NOTE: " + n)
    if ok:
        print("RESULT: PASS " + summary.replace("\n", " "), flush=True)
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("RESULT: FAIL " + reason.split("\n")[0], flush=True)
        if "\n" in reason:
            print(reason)
        print("(temp dir kept: %s)" % tmp, flush=True)
    sys.exit(0 if ok else 1)
