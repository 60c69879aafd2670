"""Benchmark of a SPEC §9 scale tier: the floor, a full `exo run`, `exo watch` ticks, breach to halt.

Not a test: prints figures and ratios, asserts nothing. Every figure is measured in this run, on
this machine, against "the floor" (scripts/floor_duckdb.py) run on the same inputs.

1. generates the tier's deterministic inputs (scripts/scale_inputs.py) in a temp home (or --keep DIR);
2. the floor (DuckDB) and the pandas pipeline as subprocesses: wall + peak RSS (/usr/bin/time -v);
3. `exo run` (first build) and again on the unchanged home;
4. `exo watch` (fast path): --ticks normal ticks (SPEC §9 "a tick": 100 fills + one 5-minute mark for
   every symbol), then a breaching tick: breach to halt = from the mark file's rename into place to
   `trading_enabled: false` in config/killswitch.yml; then a tick back at normal prices; SIGTERM, wait;
5. the same with `exo watch --no-fast-path` (the baseline), after `exo kill on`: one normal tick, then
   a breaching tick deep enough to re-trip after the manual re-enable (risk.yml retrip_step_pct);
6. a summary table.

Peak RSS: exo run and the floor scripts through /usr/bin/time -v (the largest process of the tree,
which for these is the main one); exo watch by polling /proc over its process tree (sum, every 0.1 s).

    .venv/bin/python scripts/bench_scale.py --tier S|M|L [--ticks 3] [--keep DIR] [--no-pandas]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import scale_inputs  # noqa: E402

PY = str(REPO / ".venv" / "bin" / "python")
EXO = str(REPO / ".venv" / "bin" / "exo")
NOW = "2026-03-06T21:10:00Z"          # after the generated session's close: its marks are not "in the future"
MAX_TICKS = len(scale_inputs.FIVE_MIN) - 30   # 5-minute marks left in "today" after the first 30
TIMEOUT = {"S": 180.0, "M": 1800.0, "L": 7200.0}   # one step (a build, a tick, a halt), seconds
TICK_RE = re.compile(r"·\s*([0-9.]+)\s*s\b")
DECISION_RE = re.compile(r"intraday decision at ([0-9.]+)\s*s")


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------- utils

def fmt_s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def fmt_mb(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:,.0f} MB"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.1f}×"


def tail(text: str, n: int = 25) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join("    | " + ln for ln in lines[-n:])


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = "?"
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal:"):
                mem = f"{int(ln.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return f"{cores} cores, {mem} RAM"


def measured(cmd: list[str], timeout: float) -> dict:
    """Run ``cmd`` under /usr/bin/time -v: wall (perf_counter around it), peak RSS (kB), rc, out, err."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        tpath = tf.name
    full = ["/usr/bin/time", "-v", "-o", tpath, *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += f"\n[bench] killed after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    rss = None
    try:
        m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", Path(tpath).read_text())
        rss = int(m.group(1)) if m else None
    except OSError:
        pass
    finally:
        Path(tpath).unlink(missing_ok=True)
    return {"wall": wall, "rss_kb": rss, "rc": p.returncode, "out": out, "err": err}


def tree_rss_kb(root: int) -> int:
    """Sum of VmRSS over ``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
                if ln.startswith("VmRSS:"):
                    total += int(ln.split()[1])
                    break
        except OSError:
            pass
    return total


def trading_enabled(home: Path) -> bool | None:
    """The kill-switch state; None when the file cannot be read right now (a rename racing us)."""
    try:
        v = (yaml.safe_load((home / "config" / "killswitch.yml").read_text()) or {}).get("trading_enabled")
        return None if v is None else bool(v)
    except Exception:  # noqa: BLE001 — mid-rename or half-written: look again
        return None


def wait_halt(home: Path, t0: float, timeout: float) -> float | None:
    """Seconds from ``t0`` (perf_counter) until trading_enabled is false; None on timeout."""
    while time.perf_counter() - t0 < timeout:
        if trading_enabled(home) is False:
            return time.perf_counter() - t0
        time.sleep(0.02)
    return None


def cto_approver(home: Path) -> str | None:
    try:
        cfg = yaml.safe_load((home / "config" / "alerts.yml").read_text()) or {}
        approvers = cfg.get("approvers") or []
        for a in approvers:
            if str(a.get("role", "")).upper() == "CTO":
                return str(a["name"])
        return str(approvers[0]["name"]) if approvers else None
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------------------------- watch

class Watcher:
    """`exo watch` in its own process group; stdout lines to a queue, stderr to a file, RSS polled."""

    def __init__(self, home: Path, seconds: float, extra: list[str], log: Path):
        self.cmd = [EXO, "--home", str(home), "watch", "--for", f"{seconds:.0f}", "--now", NOW, *extra]
        self.log = log
        self.err = open(log, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1,
                                  env=env, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.peak_kb = 0
        self._stop = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._poll_rss, daemon=True).start()

    def _read(self) -> None:
        for ln in self.p.stdout:
            self.lines.put(ln.rstrip("\n"))
        self.lines.put(None)

    def _poll_rss(self) -> None:
        while not self._stop.is_set() and self.p.poll() is None:
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.p.pid))
            self._stop.wait(0.1)

    def next_tick(self, timeout: float) -> str:
        """The next stdout line starting with `tick ` (other lines are echoed)."""
        end = time.perf_counter() + timeout
        while True:
            left = end - time.perf_counter()
            if left <= 0:
                raise Failure(f"no tick line within {timeout:.0f} s")
            try:
                ln = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if ln is None:
                raise Failure(f"exo watch exited (rc {self.p.wait()}) before the next tick line")
            if ln.startswith("tick "):
                return ln
            if ln.strip():
                print(f"      (watch) {ln}")

    def stop(self, timeout: float) -> int | None:
        """SIGTERM (finishes the tick in progress), wait; SIGKILL the group if it does not exit."""
        rc = None
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  !! exo watch did not exit {timeout:.0f} s after SIGTERM: killing its process group")
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        self._stop.set()
        self.err.close()
        # leftovers of its group (e.g. a child that outlived it)
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return rc

    def stderr_tail(self) -> str:
        try:
            return tail(self.log.read_text())
        except OSError:
            return ""


def tick_seconds(line: str) -> tuple[float | None, float | None]:
    m, d = TICK_RE.search(line), DECISION_RE.search(line)
    return (float(m.group(1)) if m else None, float(d.group(1)) if d else None)


class Session:
    """One bench home: the book and the running tick number."""

    def __init__(self, home: Path, tier: str):
        self.home, self.tier = home, tier
        self.book = scale_inputs.make_book(scale_inputs.TIERS[tier])
        self.n = 0

    def land(self, breach: bool = False, drop: float = 0.05) -> tuple[str, float]:
        if self.n + 1 > MAX_TICKS:
            raise Failure(f"tick {self.n + 1}: past the session's last 5-minute mark ({MAX_TICKS} ticks fit)")
        self.n += 1
        t_mark, _ = scale_inputs.tick(self.home, self.book, self.n, breach=breach, drop=drop)
        return t_mark, time.perf_counter()   # the rename is the last thing tick() does


def watch_phase(s: Session, label: str, extra: list[str], normal_ticks: int, drop: float,
                timeout: float, logdir: Path, recover: bool = False) -> dict:
    res: dict = {"ticks": [], "decisions": [], "halt": None, "rc": None, "peak_kb": None, "ok": False}
    budget = timeout * (normal_ticks + 3) + 60
    w = Watcher(s.home, budget, extra, logdir / f"watch_{label}.err")
    print(f"  [{label}] {' '.join(w.cmd[1:])}")
    try:
        first = w.next_tick(timeout)
        print(f"    first   {first}")
        for _ in range(normal_ticks):
            time.sleep(1.0)
            t_mark, t0 = s.land()
            ln = w.next_tick(timeout)
            secs, dec = tick_seconds(ln)
            res["ticks"].append(secs)
            res["decisions"].append(dec)
            print(f"    tick {s.n:>2} ({t_mark[11:16]}Z mark; line after {time.perf_counter() - t0:.2f} s)  {ln}")
        time.sleep(1.0)
        if trading_enabled(s.home) is not True:
            guard, level = latest_halt_level(s.home)
            raise Failure(f"trading is not enabled before the breach ({guard} halted at {level}%): nothing to measure")
        t_mark, t0 = s.land(breach=True, drop=drop)
        halt = wait_halt(s.home, t0, timeout)
        res["halt"] = halt
        if halt is None:
            print(f"    !! no halt within {timeout:.0f} s of the breaching tick {s.n} (drop {drop:.0%})")
        else:
            print(f"    breach  tick {s.n} ({t_mark[11:16]}Z mark, prices −{drop:.0%}): breach to halt {halt:.3f} s")
        ln = w.next_tick(timeout)
        secs, dec = tick_seconds(ln)
        res["breach_tick"], res["breach_decision"] = secs, dec
        print(f"            {ln}")
        res["ok"] = halt is not None
        if recover:
            # prices back on their path: the day and the month are no longer in breach, so a guard that
            # has not halted yet (the monthly one, its halt pre-empted) does not trip after the re-enable
            time.sleep(1.0)
            t_mark, t0 = s.land()
            print(f"    recover tick {s.n} ({t_mark[11:16]}Z mark, normal prices)  {w.next_tick(timeout)}")
    except Failure as e:
        print(f"    !! {label}: {e}")
        print(w.stderr_tail())
    finally:
        res["rc"] = w.stop(timeout)
        res["peak_kb"] = w.peak_kb
        print(f"    exo watch exit code {res['rc']}; peak RSS (process tree) {fmt_mb(w.peak_kb)}")
        if res["rc"] != 0:
            res["ok"] = False
            print(w.stderr_tail())
    return res


def latest_halt_level(home: Path) -> tuple[str | None, float | None]:
    try:
        hist = (yaml.safe_load((home / "config" / "killswitch.yml").read_text()) or {}).get("history") or []
        for e in reversed(hist):
            if e.get("action") == "disable":
                return e.get("guard"), e.get("level_pct")
    except Exception:  # noqa: BLE001
        pass
    return None, None


# ---------------------------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", choices=sorted(scale_inputs.TIERS), required=True)
    ap.add_argument("--ticks", type=int, default=3, help="normal ticks in the fast-path watch (default 3)")
    ap.add_argument("--keep", type=Path, help="build the home here and keep it (must not exist or be empty)")
    ap.add_argument("--drop", type=float, default=0.05, help="price drop of the fast path's breaching tick")
    ap.add_argument("--no-pandas", action="store_true",
                    help="skip the pandas pipeline (on L it needs more memory than the machine has)")
    ap.add_argument("--timeout", type=float, help="seconds allowed for one step (default by tier)")
    a = ap.parse_args()
    timeout = a.timeout or TIMEOUT[a.tier]
    if a.ticks < 0 or a.ticks + 4 > MAX_TICKS:
        ap.error(f"--ticks must be within 0..{MAX_TICKS - 4}")

    if a.keep:
        if a.keep.exists() and any(a.keep.iterdir()):
            ap.error(f"--keep {a.keep}: exists and is not empty")
        a.keep.mkdir(parents=True, exist_ok=True)
        home, tmp = a.keep.resolve(), None
    else:
        tmp = tempfile.mkdtemp(prefix=f"bench_scale_{a.tier}_")
        home = Path(tmp) / "home"
    logdir = home.parent if tmp else home
    failures: list[str] = []
    R: dict = {}
    print(f"bench_scale — tier {a.tier} {scale_inputs.TIERS[a.tier]} · {machine()} · home {home}")

    try:
        # 1. generation -------------------------------------------------------------------------
        r = measured([EXO, "--home", str(home), "init"], timeout)
        if r["rc"] != 0:
            print("  !! exo init failed:\n" + tail(r["err"] or r["out"]))
            return 1
        t0 = time.perf_counter()
        scale_inputs.write_inputs(home, a.tier)
        gen = time.perf_counter() - t0
        db = home / "data" / "trading.db"
        with sqlite3.connect(db) as con:
            n_fills = con.execute("select count(*) from fills").fetchone()[0]
        con.close()
        market = sum(f.stat().st_size for f in (home / "data" / "market").rglob("*") if f.is_file())
        print(f"1. generated in {gen:.2f} s: {n_fills:,} fills, trading.db {db.stat().st_size / 1e6:,.1f} MB, "
              f"marks {market / 1e6:,.1f} MB")
        R.update(gen=gen, fills=n_fills)

        # 2. floors -----------------------------------------------------------------------------
        floors = {}
        for name, script in (("floor", "floor_duckdb.py"), ("pandas", "floor_pandas.py")):
            if name == "pandas" and a.no_pandas:
                print("2. pandas: skipped (--no-pandas)")
                continue
            r = measured([PY, str(REPO / "scripts" / script), "--home", str(home), "--json"], timeout)
            if r["rc"] != 0:
                failures.append(f"{script} exited {r['rc']}")
                print(f"  !! {script} exited {r['rc']}:\n" + tail(r["err"]))
                continue
            try:
                j = json.loads(r["out"].strip().splitlines()[-1])
            except (ValueError, IndexError):
                j = {}
            floors[name] = {**r, "json": j}
            print(f"2. {name:<6} ({script}): wall {r['wall']:.2f} s (own timer {j.get('seconds', float('nan')):.2f} s), "
                  f"peak RSS {fmt_mb(r['rss_kb'])}; sessions {j.get('sessions')}, last NAV {j.get('last_nav', 0):,.2f}, "
                  f"VaR95 {j.get('var')}")
        R["floor"], R["pandas"] = floors.get("floor"), floors.get("pandas")

        # 3. exo run ----------------------------------------------------------------------------
        runs = []
        for label in ("first build", "unchanged home"):
            r = measured([EXO, "--home", str(home), "run", "--now", NOW, "--json"], timeout)
            try:
                j = json.loads(r["out"])
            except ValueError:
                j = {}
            if r["rc"] != 0 or not j.get("ok"):
                failures.append(f"exo run ({label}) exited {r['rc']}")
                print(f"  !! exo run ({label}) exited {r['rc']} (failed step {j.get('failed_step')}: {j.get('error')}):\n"
                      + tail(r["err"]))
            nav = (j.get("headline") or {}).get("nav")
            fl = (R["floor"] or {}).get("json", {}).get("last_nav")
            agree = ""
            if nav is not None and fl is not None:
                agree = f"; NAV {nav:,.2f} (floor: {'same' if abs(nav - fl) < 0.01 else f'{fl:,.2f}, DIFFERS'})"
            print(f"3. exo run, {label}: wall {r['wall']:.2f} s (own {j.get('duration_s', float('nan')):.2f} s), "
                  f"peak RSS {fmt_mb(r['rss_kb'])}{agree}")
            warn = (j.get("ingest") or {}).get("warnings")
            if warn:
                print(f"   ingest warnings: {warn}")
            runs.append(r)
        R["run"], R["rerun"] = runs
        if R["floor"]:
            print(f"   full run / floor: wall {ratio(runs[0]['wall'], R['floor']['wall'])}, "
                  f"RSS {ratio(runs[0]['rss_kb'], R['floor']['rss_kb'])}")
        if trading_enabled(home) is not True:
            print("  !! trading is disabled after exo run (a guard halted the generated book?) — re-enabling")
            measured([EXO, "--home", str(home), "kill", "on", "--reason", "bench", "--approved-by",
                      cto_approver(home) or "alice"], timeout)

        # 4. watch, fast path --------------------------------------------------------------------
        s = Session(home, a.tier)
        print("4. exo watch (fast path)")
        R["fast"] = watch_phase(s, "fast", [], a.ticks, a.drop, timeout, logdir, recover=True)
        if not R["fast"]["ok"]:
            failures.append("exo watch (fast path)")

        # 5. watch, baseline ---------------------------------------------------------------------
        print("5. exo watch --no-fast-path (baseline)")
        guard, level = latest_halt_level(home)
        if trading_enabled(home) is False:
            approver = cto_approver(home)
            r = measured([EXO, "--home", str(home), "kill", "on", "--reason", "bench",
                          *(["--approved-by", approver] if approver else [])], timeout)
            if r["rc"] != 0:
                print(f"  !! exo kill on exited {r['rc']}:\n" + tail(r["err"] or r["out"]))
        if trading_enabled(home) is not True:
            failures.append("could not re-enable trading for the baseline")
            print("  !! trading still disabled: no baseline measurement")
            R["base"] = {"ok": False, "halt": None, "ticks": []}
        else:
            # after a manual re-enable the guard re-trips only retrip_step_pct deeper than its halt:
            # the baseline's breach drops prices twice as far as the fast path's
            drop2 = 1 - (1 - a.drop) ** 2
            print(f"   re-enabled (last halt: {guard} at {level}%); baseline breach drops prices {drop2:.1%} "
                  f"to re-trip; 1 normal tick first")
            R["base"] = watch_phase(s, "baseline", ["--no-fast-path"], 1, drop2, timeout, logdir)
            if not R["base"]["ok"]:
                failures.append("exo watch (baseline)")
    finally:
        if tmp and not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"(home and watch logs kept for inspection: {tmp})")

    # 6. table ---------------------------------------------------------------------------------------
    fl, pd_, run, rerun = R.get("floor"), R.get("pandas"), R.get("run"), R.get("rerun")
    fast, base = R.get("fast") or {}, R.get("base") or {}
    ticks = [t for t in fast.get("ticks", []) if t is not None]
    decs = [d for d in fast.get("decisions", []) if d is not None]
    fw = lambda d: d["wall"] if d else None  # noqa: E731
    rows = [
        ("fills", f"{R.get('fills', 0):,}"),
        ("generation", fmt_s(R.get("gen"))),
        ("floor (duckdb script)", f"{fmt_s(fw(fl))}, {fmt_mb(fl and fl['rss_kb'])}"),
        ("pandas pipeline", f"{fmt_s(fw(pd_))}, {fmt_mb(pd_ and pd_['rss_kb'])}  ({ratio(fw(pd_), fw(fl))} floor)"),
        ("exo run, first build", f"{fmt_s(fw(run))}, {fmt_mb(run and run['rss_kb'])}  ({ratio(fw(run), fw(fl))} floor wall, "
                                 f"{ratio(run and run['rss_kb'], fl and fl['rss_kb'])} floor RSS)"),
        ("exo run, unchanged home", f"{fmt_s(fw(rerun))}  ({ratio(fw(rerun), fw(fl))} floor)"),
        (f"tick, median of {len(ticks)}", f"{fmt_s(statistics.median(ticks) if ticks else None)}"
                                          f"  (intraday decision {fmt_s(statistics.median(decs) if decs else None)})"),
        ("exo watch peak RSS", f"fast {fmt_mb(fast.get('peak_kb'))}, baseline {fmt_mb(base.get('peak_kb'))}"),
        ("breach to halt, fast path", fmt_s(fast.get("halt"))),
        ("breach to halt, baseline", fmt_s(base.get("halt"))),
        ("baseline / fast path", ratio(base.get("halt"), fast.get("halt"))),
    ]
    print()
    print(f"== bench_scale tier {a.tier} · {machine()} · {time.strftime('%Y-%m-%d %H:%M')} ==")
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    if failures:
        print(f"FAILED: {'; '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
