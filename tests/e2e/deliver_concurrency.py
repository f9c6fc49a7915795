#!/usr/bin/env python3
"""Concurrent deliveries into one mailbox (DESIGN.md, "The spool" 3: two
qruns never deliver the same message at once; "Privileges": deliveries
running at once are bounded, max_deliveries).

  1. trigger none: 4 qrun loops run while 20 qsend submissions run at
     once, all to samt's mailbox (as samt, samt+tag, abuse = samt, some
     to samt and abuse at once: one copy); then a final qrun.
  2. the same with the trigger socket served by a real openbsd-inetd
     (SPOOL/trigger stream unix nowait root QRUN qrun -t -C CONF), the
     submissions half -odi (waiting for the delivery), half -odb.
  3. max_deliveries 2, with the trigger: 10 submissions at once to a
     slow |program alias that records when it starts and ends, while 3
     plain qruns run: never more than 2 deliveries at once (and 2 at
     some moment), no slot lock file beyond lock/slot.1, each message
     delivered once.

After 1 and 2: every message is in the mbox exactly once, byte-exact
(after undoing the From_ line, Return-Path, quoting and the header
fields qsend adds), the mbox parses strictly (From_ lines only at
message starts, each message ending with a blank line), the queue is
empty and no lock is left.

Needs root (deliveries run as the recipient) and, for 2 and 3,
/usr/sbin/inetd (openbsd-inetd).  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

SEED = 6143
SUBMISSIONS = 20
LOOPS = 4
SENDER = "conc@example.org"
ALIASES = "abuse: samt\nslow: |%s\n"
# what qsend may add in front of a message: its trace and missing fields
ADDED = re.compile(rb"Received: [^\n]*\n(?:\t[^\n]*\n)*"
                   rb"(?:(?:From|Date|Message-ID): [^\n]*\n)*")
SLOW_SCRIPT = """#!/bin/sh
cat >/dev/null
echo "start $(date +%%s.%%N) $$" >> %(rec)s
sleep %(sleep)s
echo "end $(date +%%s.%%N) $$" >> %(rec)s
exit 0
"""


def make_body(rng, tag):
    size = int(rng.choice([300, 2000, 20000, 150000]) * rng.uniform(0.5, 1))
    lines = [b"Subject: concurrency %s" % tag.encode(),
             b"X-Test-Id: %s" % tag.encode(), b""]
    n = sum(len(x) + 1 for x in lines)
    while n < size:
        r = rng.random()
        line = (b"From here, quoted %d" % n if r < 0.05 else
                b">From there %d" % n if r < 0.08 else
                rng.randbytes(rng.randrange(0, 120)).translate(
                    bytes.maketrans(b"\n\r\0", b"xyz")))
        lines.append(line)
        n += len(line) + 1
    return b"\n".join(lines) + b"\n"


class Trigger:
    """openbsd-inetd serving inst's trigger socket with qrun -t."""

    def __init__(self, inst):
        self.sock = os.path.join(inst.spool, "trigger")
        self.conf = os.path.join(inst.dir, "inetd.conf")
        self.logpath = os.path.join(inst.dir, "inetd.log")
        with open(self.conf, "w") as f:
            f.write("%s stream unix nowait root %s qrun -t -C %s\n"
                    % (self.sock, T.QRUN, inst.conf))
        self.logf = open(self.logpath, "w")
        self.p = subprocess.Popen([T.INETD, "-d", "-R", "1000000",
                                   self.conf], stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        deadline = time.time() + 10
        while True:
            try:
                if stat.S_ISSOCK(os.stat(self.sock).st_mode):
                    break
            except FileNotFoundError:
                pass
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("inetd did not listen on %s:\n%s"
                                   % (self.sock, self.log()))
            time.sleep(0.02)

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def stop(self):
        """Stops inetd, then whatever qrun -t it started (each in a group
        of its own: they are given time to finish first)."""
        if self.p is not None:
            T.kill_group(self.p, signal.SIGKILL)
            self.p = None
        self.logf.close()


def qrun_procs(conf):
    """Live qrun processes of this instance (for the clean-up)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"qrun") and conf.encode() in cmd:
            out.append(int(d))
    return out


class Case:
    def __init__(self, name, trigger, extra=""):
        self.name = name
        self.errors = []
        self.inst = T.Instance(users=["samt", "alice"])
        self.trigger = None
        T.prepare_spool(self.inst)
        self.maildir = T.make_mail_dir(self.inst)
        self.box = os.path.join(self.maildir, "samt")
        self.recdir = os.path.join(self.inst.dir, "rec")
        os.mkdir(self.recdir)
        os.chmod(self.recdir, 0o1777)
        self.rec = os.path.join(self.recdir, "runs")
        self.slow = os.path.join(self.inst.dir, "slow.sh")
        with open(self.slow, "w") as f:
            f.write(SLOW_SCRIPT % {"rec": self.rec, "sleep": "0.3"})
        os.chmod(self.slow, 0o755)
        with open(self.inst.aliases, "w") as f:
            f.write(ALIASES % self.slow)
        trig = "trigger %s/trigger\n" % self.inst.spool if trigger else ""
        self.inst.write_conf("mailbox mbox:%s/%%u\nretry_min 1s\n"
                             "retry_max 2s\nlock_timeout 20s\n"
                             "max_message_size 20m\n%s%s"
                             % (self.maildir, trig, extra))
        if trigger:
            self.trigger = Trigger(self.inst)

    def fail(self, msg):
        self.errors.append("%s: %s" % (self.name, msg))
        print("FAIL " + self.errors[-1])
        sys.stdout.flush()

    def cleanup(self):
        if self.trigger:
            self.trigger.stop()
        # qrun -t children of inetd: let them finish, then make sure
        deadline = time.time() + 15
        while qrun_procs(self.inst.conf) and time.time() < deadline:
            time.sleep(0.05)
        left = qrun_procs(self.inst.conf)
        if left:
            self.fail("qrun processes still running at the end: %r" % left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.inst.cleanup()

    def loops(self, n, stop):
        """n threads each running plain qruns back to back until stop."""
        runs = [0] * n

        def loop(k):
            while not stop.is_set():
                rc, out = T.run_group([T.QRUN, "-C", self.inst.conf], 60)
                runs[k] += 1
                if rc != 0:
                    self.fail("qrun loop %d: exit %r: %r"
                              % (k, rc, out[-300:]))
        threads = [threading.Thread(target=loop, args=(k,))
                   for k in range(n)]
        for t in threads:
            t.start()
        return threads, runs

    def submit_all(self, jobs):
        """Runs the (rcpts, body, args) submissions all at once."""
        results = [None] * len(jobs)
        go = threading.Barrier(len(jobs))

        def one(i):
            rcpts, body, args = jobs[i]
            go.wait()
            results[i] = T.qsend_queue(self.inst, SENDER, rcpts, body,
                                       timeout=120, extra_args=args)
        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(results):
            if r is None or r.returncode != 0:
                self.fail("submission %d failed: %r" % (
                    i, r and (r.returncode, r.stderr[-300:])))
        return results

    def final_run(self):
        for _ in range(5):
            if not self.inst.queue_files():
                return
            rc, out = T.run_group([T.QRUN, "-C", self.inst.conf], 60)
            if rc != 0:
                self.fail("final qrun: exit %r: %r" % (rc, out[-300:]))
            if self.inst.queue_files():
                time.sleep(1.1)

    def listing(self):
        rc, out = T.run_group([T.QSEND, "-C", self.inst.conf, "-bp"], 30)
        return out.decode("utf-8", "replace")

    def check_mbox(self, bodies):
        """Every body in the mbox exactly once, byte-exact; clean parse."""
        with open(self.box, "rb") as f:
            data = f.read()
        parse = T.parse_mbox(data)
        if parse.error or parse.tail is not None:
            self.fail("the mbox does not parse: %s" % (
                parse.error or "ends in a cut-off message"))
            return
        seen = {}
        rp = b"Return-Path: <%s>\n" % SENDER.encode()
        for s, e, sender, content in parse.messages:
            if sender != SENDER.encode() or not content.startswith(rp):
                self.fail("message at %d: From_ sender %r, %r" % (
                    s, sender, content[:40]))
                continue
            text = T.mbox_unquote(content[len(rp):-1])
            m = re.search(rb"^X-Test-Id: (\S+)$", text, re.M)
            tag = m.group(1).decode() if m else None
            if tag not in bodies:
                self.fail("message at %d is none of ours: %r" % (
                    s, text[:200]))
                continue
            seen[tag] = seen.get(tag, 0) + 1
            added = ADDED.match(text)
            if not added or text[added.end():] != bodies[tag]:
                self.fail("message %s is not byte-exact after unquoting"
                          % tag)
        missing = sorted(set(bodies) - set(seen))
        twice = sorted((t, c) for t, c in seen.items() if c > 1)
        if missing:
            self.fail("%d message(s) missing from the mbox: %s" % (
                len(missing), ", ".join(missing)))
        if twice:
            self.fail("message(s) delivered more than once: %r" % twice)
        print("%s: %d messages in the mbox (%d bytes), each once: %s" % (
            self.name, len(parse.messages), len(data),
            "yes" if not missing and not twice else "no"))

    def check_clean(self):
        if self.inst.queue_files():
            self.fail("the queue is not empty:\n%s" % self.listing())
        left = [f for f in os.listdir(self.maildir)
                if f.endswith(".lock") or f.startswith(".lk")]
        if left:
            self.fail("left in the mail directory: %r" % left)


def mailbox_case(name, trigger, rng):
    c = Case(name, trigger)
    try:
        bodies, jobs = {}, []
        for i in range(SUBMISSIONS):
            tag = "%s-%02d" % (name.split()[0], i)
            body = make_body(rng, tag)
            bodies[tag] = body
            rcpts = rng.choice([["samt"], ["samt+tag%d" % i], ["abuse"],
                                ["samt", "abuse"], ["samt", "samt+x"]])
            args = ["-odq"] if not trigger else \
                ["-odi"] if i % 2 == 0 else ["-odb"]
            jobs.append((rcpts, body, args))
        stop = threading.Event()
        t0 = time.time()
        threads, runs = c.loops(LOOPS, stop)
        c.submit_all(jobs)
        # the loops go on until the queue is empty (or 20s)
        deadline = time.time() + 20
        while c.inst.queue_files() and time.time() < deadline:
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join()
        left = len(c.inst.queue_files())
        c.final_run()
        pids = set(re.findall(r"qrun\[([0-9]+)\]: [0-9A-Za-z]+: to=.*"
                              r"stat=Sent", c.inst.log_text()))
        print("%s: %d submissions and %d qrun loop runs in %.1fs; %d "
              "different qrun processes delivered; %d message(s) left for "
              "the final run" % (name, SUBMISSIONS, sum(runs),
                                 time.time() - t0, len(pids), left))
        c.check_mbox(bodies)
        c.check_clean()
        if trigger:
            n = c.trigger.log().count("qrun")
            print("%s: inetd log mentions qrun %d times" % (name, n))
    finally:
        c.cleanup()
    return c.errors


def slots_case(rng):
    name = "max_deliveries 2"
    c = Case(name, True, "max_deliveries 2\n")
    try:
        n = 10
        jobs = [(["slow"], make_body(rng, "slow-%02d" % i)[:400] + b"\n",
                 ["-odb"]) for i in range(n)]
        stop = threading.Event()
        seen_slots = set()

        def watch():
            d = os.path.join(c.inst.spool, "lock")
            while not stop.is_set():
                try:
                    seen_slots.update(os.listdir(d))
                except FileNotFoundError:
                    pass
                time.sleep(0.01)
        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.time()
        qruns = [subprocess.Popen([T.QRUN, "-C", c.inst.conf],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL,
                                  start_new_session=True) for _ in range(3)]
        c.submit_all(jobs)
        deadline = time.time() + 30
        while c.inst.queue_files() and time.time() < deadline:
            time.sleep(0.1)
        for p in qruns:
            try:
                p.wait(timeout=max(deadline - time.time(), 1))
            except subprocess.TimeoutExpired:
                c.fail("a plain qrun did not finish in 30s")
            T.kill_group_wait(p)
        c.final_run()
        stop.set()
        watcher.join()
        events = []
        try:
            with open(c.rec) as f:
                for line in f:
                    kind, ts, pid = line.split()
                    events.append((float(ts), 1 if kind == "start" else -1,
                                   pid))
        except FileNotFoundError:
            pass
        events.sort(key=lambda e: (e[0], e[1]))
        now = peak = 0
        for _, d, _ in events:
            now += d
            peak = max(peak, now)
        starts = sum(1 for e in events if e[1] == 1)
        ends = sum(1 for e in events if e[1] == -1)
        print("%s: %d program deliveries in %.1fs, at most %d at once; "
              "slot files seen: %s" % (name, starts, time.time() - t0, peak,
                                       ", ".join(sorted(seen_slots))))
        if starts != n or ends != n:
            c.fail("the slow program ran %d times (ended %d), not once per "
                   "message (%d)" % (starts, ends, n))
        if peak > 2:
            c.fail("%d deliveries ran at once with max_deliveries 2" % peak)
        elif peak < 2:
            c.fail("never 2 deliveries at once (peak %d): the bound was not "
                   "exercised" % peak)
        extra = sorted(s for s in seen_slots
                       if s.startswith("slot.") and s not in
                       ("slot.0", "slot.1"))
        if extra:
            c.fail("slot lock files beyond max_deliveries 2: %r" % extra)
        c.check_clean()
    finally:
        c.cleanup()
    return c.errors


def main():
    T.require_delivery()
    T.require_tool(T.INETD)
    rng = random.Random(SEED)
    t0 = time.time()
    errors = mailbox_case("trigger-none", False, rng)
    errors += mailbox_case("inetd-trigger", True, rng)
    errors += slots_case(rng)
    print("%.1fs" % (time.time() - t0))
    if errors:
        print("%d failure(s)" % len(errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
