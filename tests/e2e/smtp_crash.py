#!/usr/bin/env python3
"""Crash safety of qsmtpd's spool writes (DESIGN.md, "The spool", 1).

Hundreds of sessions, each over a socketpair as inetd would run it, each
SIGKILLed at a random moment: while the message is still arriving (DATA
or BDAT, part of it sent), right after its end was sent (while qsmtpd
commits), or after the reply.  Messages are a few bytes to about 1 MB,
to widen the windows.  Afterwards:

  - every message that got "250 2.0.0 QID ..." is in queue/QID, complete
    and byte-exact (after the Received: field qsmtpd adds);
  - every file in queue/ parses (version line, envelope, empty line,
    Received:) and holds exactly a message that was sent in full;
  - files in tmp/ are allowed (a killed session leaves its partial file
    there; they are never messages): counted and reported.

The random seed is printed; INETMAIL_CRASH_SEED=N reproduces a run and
INETMAIL_CRASH_ITER=N changes the number of sessions (default 300).
Needs root (qsmtpd drops to the spool user).  Exit 0 pass, 1 fail, 77 skip.
"""
import math
import os
import random
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

DEFAULT_SEED = 5321
ITERATIONS = int(os.environ.get("INETMAIL_CRASH_ITER", "300"))
TIME_BUDGET = 50.0              # seconds; the run stops early past this
MAX_SIZE = 1100 * 1000
ACCEPTED = re.compile(r"^250 2\.0\.0 (%s) Message accepted for delivery$"
                      % T.QID_RE, re.M)
TRANSLATE = bytes.maketrans(b"\r\n", b"xy")


def make_message(rng, seed, i, size):
    """A unique message of about size bytes, CRLF line ends, with dotted
    lines and 8-bit bytes; unstuffed (as the reader should get it)."""
    head = (b"Subject: crash test %d\r\nX-Iteration: %d\r\nX-Seed: %d\r\n"
            b"\r\n" % (i, i, seed))
    parts = [head]
    n = len(head)
    while n < size:
        r = rng.random()
        if r < 0.03:
            line = b"."
        elif r < 0.06:
            line = b".." + rng.randbytes(rng.randrange(0, 20)).translate(
                TRANSLATE)
        else:
            line = rng.randbytes(rng.randrange(0, 160)).translate(TRANSLATE)
        parts.append(line + b"\r\n")
        n += len(line) + 2
    return b"".join(parts)


class Run:
    def __init__(self, inst, seed):
        self.inst = inst
        self.seed = seed
        self.rng = random.Random(seed)
        self.full = {}          # iteration -> message sent in full
        self.rcpt = {}          # iteration -> envelope recipient
        self.accepted = {}      # qid -> iteration
        self.stats = {}
        self.latency = 0.005    # recent end-of-data-to-250 time, seconds
        self.errors = []

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def one(self, i):
        rng = self.rng
        size = int(math.exp(rng.uniform(math.log(8), math.log(MAX_SIZE))))
        msg = make_message(rng, self.seed, i, size)
        mode = rng.choices(["during", "commit", "after"], [4, 4, 2])[0]
        bdat = rng.random() < 0.25
        rcpt = rng.choice(["samt@localhost", "alice@localhost",
                           "staff@localhost", "x%d@remote.example" % i])
        p, sock = T.start_qsmtpd_session(self.inst)
        c = T.Client(sock, timeout=10)
        try:
            self.session(i, p, c, msg, mode, bdat, rcpt)
        finally:
            T.kill_group(p)
            sock.close()

    def session(self, i, p, c, msg, mode, bdat, rcpt):
        rng = self.rng
        c.reply()
        c.send("EHLO crash.example\r\nMAIL FROM:<crash%d@example.com>\r\n"
               "RCPT TO:<%s>\r\n" % (i, rcpt))
        for _ in range(3):
            r = c.reply()
            if not r.startswith("250"):
                raise AssertionError("iteration %d: %r" % (i, r))
        if bdat:
            wire = b""
            rest = msg
            while rest:
                k = min(len(rest), rng.choice([len(rest),
                                                rng.randrange(1, 70000)]))
                last = k == len(rest)
                wire += (b"BDAT %d%s\r\n" % (k, b" LAST" if last else b""))
                wire += rest[:k]
                rest = rest[k:]
            stored = msg.replace(b"\r\n", b"\n")
        else:
            c.send("DATA\r\n")
            r = c.reply()
            if not r.startswith("354"):
                raise AssertionError("iteration %d: DATA: %r" % (i, r))
            wire = T.dot_stuff(msg) + b".\r\n"
            stored = msg.replace(b"\r\n", b"\n")
        kind = ("bdat-" if bdat else "data-") + mode
        self.count(kind)
        if mode == "during":
            # any proper prefix: the end of the message is never complete
            cut = rng.randrange(0, len(wire))
            c.send(wire[:cut])
            time.sleep(rng.uniform(0, 0.003))
            os.killpg(p.pid, signal.SIGKILL)
        elif mode == "commit":
            delay = rng.uniform(0, 1.5 * self.latency)
            c.send(wire)
            self.full[i] = stored
            time.sleep(delay)
            os.killpg(p.pid, signal.SIGKILL)
        else:
            t0 = time.time()
            c.send(wire)
            self.full[i] = stored
            r = c.reply()
            while bdat and r.endswith(" octets received"):
                r = c.reply()
            self.latency = 0.7 * self.latency + 0.3 * (time.time() - t0)
            os.killpg(p.pid, signal.SIGKILL)
            if not ACCEPTED.match(r):
                self.errors.append("iteration %d: end of data answered %r"
                                   % (i, r))
            c.buf = (r + "\r\n").encode() + c.buf
        p.wait(timeout=10)
        self.rcpt[i] = rcpt
        c.closed(timeout=5)             # collect whatever qsmtpd wrote
        replies = c.buf.decode("utf-8", "replace").replace("\r\n", "\n")
        got = ACCEPTED.findall(replies)
        if got and mode == "during":
            self.errors.append("iteration %d: 250 for a partial message: %r"
                               % (i, replies))
        for qid in got:
            if qid in self.accepted:
                self.errors.append("queue ID %s given twice" % qid)
            self.accepted[qid] = i
            self.count(kind + "-250")

    def verify(self):
        queue = self.inst.queue_files()
        seen = {}
        for qid in queue:
            path = os.path.join(self.inst.spool, "queue", qid)
            with open(path, "rb") as f:
                data = f.read()
            try:
                env, received, body = T.parse_queue_file(data)
            except ValueError as e:
                self.errors.append("queue/%s does not parse: %s" % (qid, e))
                continue
            if not re.match("^%s$" % T.QID_RE, qid) or \
                    T.envelope_values(env, "id") != [qid]:
                self.errors.append("queue/%s: id %r" % (
                    qid, T.envelope_values(env, "id")))
            if not received.decode("utf-8", "replace").startswith(
                    "Received: from crash.example (localhost)\n"
                    "\tby mail.example.com (inetmail) with ESMTP id %s"
                    % qid):
                self.errors.append("queue/%s: Received: %r" % (qid, received))
            m = re.search(rb"^X-Iteration: ([0-9]+)$", body[:200], re.M)
            i = int(m.group(1)) if m else None
            if i not in self.full:
                self.errors.append("queue/%s (%d bytes) is not a message "
                                   "that was sent in full (iteration %s)"
                                   % (qid, len(body), i))
                continue
            if body != self.full[i]:
                self.errors.append("queue/%s differs from iteration %d's "
                                   "message (%d vs %d bytes)" % (
                                       qid, i, len(body), len(self.full[i])))
            if T.envelope_values(env, "sender") != [
                    "crash%d@example.com" % i] or \
                    T.envelope_values(env, "rcpt") != [self.rcpt[i]]:
                self.errors.append("queue/%s: envelope of iteration %d "
                                   "wrong: %r" % (qid, i, env))
            if i in seen:
                self.errors.append("iteration %d queued twice: %s and %s"
                                   % (i, seen[i], qid))
            seen[i] = qid
        for qid, i in sorted(self.accepted.items()):
            if qid not in queue:
                self.errors.append("iteration %d got 250 %s but queue/%s "
                                   "is missing" % (i, qid, qid))
        unanswered = len(seen) - len([q for q in seen.values()
                                      if q in self.accepted])
        return queue, unanswered


def main():
    T.require_root()
    seed = int(os.environ.get("INETMAIL_CRASH_SEED", str(DEFAULT_SEED)))
    print("seed %d (INETMAIL_CRASH_SEED=%d reproduces this run), "
          "%d iterations" % (seed, seed, ITERATIONS))
    sys.stdout.flush()
    t0 = time.time()
    inst = T.Instance(extra="max_message_size 20m")
    try:
        T.prepare_spool(inst)
        run = Run(inst, seed)
        done = 0
        for i in range(ITERATIONS):
            if time.time() - t0 > TIME_BUDGET:
                print("time budget spent: stopped after %d iterations" % i)
                break
            try:
                run.one(i)
            except (AssertionError, EOFError, OSError,
                    socket.timeout) as e:
                run.errors.append("iteration %d: %s: %s" % (
                    i, type(e).__name__, e))
            done += 1
        queue, unanswered = run.verify()
        tmp = inst.tmp_files()
        print("%d sessions in %.1fs; %d got 250; queue/ holds %d "
              "(%d committed without the 250 reaching the client); "
              "tmp/ holds %d leftover(s) of killed sessions" % (
                  done, time.time() - t0, len(run.accepted), len(queue),
                  unanswered, len(tmp)))
        print("by kind: " + ", ".join("%s=%d" % kv
                                      for kv in sorted(run.stats.items())))
        for e in run.errors[:30]:
            print("FAIL " + e)
        if len(run.errors) > 30:
            print("... and %d more" % (len(run.errors) - 30))
        if run.errors:
            print("seed was %d" % seed)
            return 1
        return 0
    finally:
        inst.cleanup()


if __name__ == "__main__":
    sys.exit(main())
