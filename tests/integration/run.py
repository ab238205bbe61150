#!/usr/bin/env python3
"""Run the black-box scenarios (tests/integration/test_*.py).

Each scenario runs as its own process (its own session, so a timeout can
stop everything it started) in its own temp dir, with a per-scenario
timeout. Prints PASS/FAIL per scenario with the reason (and the scenario's
output when it failed), then `integration: N passed, N failed`; exits 1 if
any failed. Temp dirs of passing scenarios are removed; failing ones kept.

Usage: run.py [--bin BUILD_DIR] [--timeout S] [-v] [SCENARIO...]
  SCENARIO: a, test_a_online, test_a_online.py (default: all)
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# generous per-scenario limits (seconds); the whole run is ~3 minutes
TIMEOUTS = {"test_a_online": 120, "test_b_broker_outage": 120, "test_c_kill9": 240,
            "test_d_garbage": 120, "test_e_pty_reopen": 120, "test_f_tls": 120,
            "test_g_corrupt_db": 120, "test_h_auth": 120, "test_i_emu_link": 120,
            "test_j_prices_shelfhq": 120, "test_k_prices_offline": 180,
            "test_l_labels": 600, "test_m_snapshot": 120,
            "test_n_sensing": 420, "test_o_probe_flood": 240,
            "test_p_sensing_clock": 180, "test_q_screen_page": 120,
            "test_r_screens_recs": 120, "test_s_rules": 150, "test_t_markdown": 150,
            "test_u_zone_rise": 90}


def find(names):
    all_ = sorted(p for p in HERE.glob("test_*.py"))
    if not names:
        return all_
    out = []
    for n in names:
        n = Path(n).stem
        hits = [p for p in all_ if p.stem == n or p.stem.startswith("test_%s_" % n)]
        if not hits:
            sys.exit("run.py: no scenario %r (have: %s)" % (n, ", ".join(p.stem for p in all_)))
        out += hits
    return out


def run_one(path, bindir, timeout, verbose):
    tmp = tempfile.mkdtemp(prefix="shelfd-it-%s-" % path.stem.split("_")[1])
    logpath = Path(tmp) / "output.log"
    t0 = time.monotonic()
    with open(logpath, "wb") as log:
        p = subprocess.Popen([sys.executable, str(path), "--bin", bindir, "--tmp", tmp],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        timed_out = False
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            # SIGTERM lets the scenario stop its own processes; then the group
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    # anything the scenario left in its process group (it should leave nothing)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    dt = time.monotonic() - t0
    out = logpath.read_text(errors="replace")
    result = [line for line in out.splitlines() if line.startswith("RESULT: ")]
    ok = p.returncode == 0 and result and result[-1].startswith("RESULT: PASS")
    if timed_out:
        reason = "timed out after %ds" % timeout
        ok = False
    elif result:
        reason = result[-1].split(" ", 2)[2] if len(result[-1].split(" ", 2)) > 2 else ""
    else:
        reason = "exited %s without a result" % p.returncode
    return ok, reason, dt, out, tmp


def main():
    ap = argparse.ArgumentParser(description="Run the shelfd integration scenarios.")
    ap.add_argument("--bin", default=str(HERE.parents[1] / "build"),
                    help="build dir holding shelfd and shelfctl (default: build)")
    ap.add_argument("--timeout", type=int, help="per-scenario timeout in seconds (overrides)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every scenario's output")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    bindir = str(Path(a.bin).resolve())
    npass = nfail = 0
    t0 = time.monotonic()
    for path in find(a.scenarios):
        timeout = a.timeout or TIMEOUTS.get(path.stem, 120)
        print("%s ..." % path.stem, flush=True)
        ok, reason, dt, out, tmp = run_one(path, bindir, timeout, a.verbose)
        if a.verbose or not ok:
            for line in out.splitlines():
                print("    " + line)
        notes = [line for line in out.splitlines() if line.startswith("NOTE: ")]
        if ok:
            npass += 1
            print("PASS %s (%.1fs): %s" % (path.stem, dt, reason), flush=True)
            for n in notes:
                print("     " + n)
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            nfail += 1
            print("FAIL %s (%.1fs): %s   [kept %s]" % (path.stem, dt, reason, tmp), flush=True)
    print("(integration scenarios took %.0fs)" % (time.monotonic() - t0))
    print("integration: %d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
