#!/usr/bin/env python3
"""Crash safety of local mbox delivery (DESIGN.md, "The spool" 3 and
"Delivery": on any error the mbox is truncated back to its old size).

qrun is SIGKILLed (with its delivery child: the whole process group, as
a crash would) about 200 times while it delivers messages of a few bytes
to about 1 MB, with lines that need mboxrd quoting, to recipients that
share mailboxes (samt, staff = samt+alice, abuse = samt, samt+box, all =
samt+alice+bob):

  - systematic kills (with strace, if installed): the delivery is killed
    at the N-th write, fsync, link, unlink, rename or ftruncate, for every
    N, into a clean mbox and into one that a killed delivery left with a
    cut-off message and its lock;
  - random kills, first on disk (where fsyncs take most of the time),
    then on a tmpfs (where the appends do): at random moments, a few ms
    after the start, or while an mbox grows.

After every kill each mbox is parsed strictly (From_ lines only at
message starts, every message ending with a blank line) and checked:

  - the only damage a kill may leave is one cut-off message at the END
    of an mbox, and then the dotlock must say where it begins (a dead
    inetmail pid and the old size), so the next delivery can cut it off;
    a lock that inetmail leaves must always name its process;
  - the next delivery into that mbox truncates it back to that size
    before appending: nothing is ever appended behind a cut-off message,
    and no complete message before that size is ever changed;
  - a complete message after the recorded size (a kill between the
    append's fsync and the lock's removal) may be cut off too: it was
    not yet recorded as delivered, so it is delivered again (counted).

Finally qrun runs (repeatedly, past retry_min) until the queue is empty;
then every message is in each of its mailboxes byte-exact (after undoing
the From_ line, Return-Path and quoting), no lock is left, and the
duplicates found equal the complete copies that kills left unrecorded in
the saved state (each kill between an append and its state update).  A
preflight checks mboxrd quoting of edge cases, and that a stale lock the
recipient cannot remove makes the delivery wait lock_timeout, not spin.

INETMAIL_CRASH_SEED=N reproduces a run (the systematic kills are always
the same), INETMAIL_DELIVER_KILLS=N changes the number of kills (default
210; a slow or busy machine may manage fewer in the time budget: a
warning, and a failure below 100).  Needs root (deliveries run as the
recipients).  Exit 0 pass, 1 fail, 77 skip.
"""
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

DEFAULT_SEED = 5322
KILLS = int(os.environ.get("INETMAIL_DELIVER_KILLS", "210"))
MIN_KILLS = min(KILLS, 100)     # fewer: something is badly wrong
TIME_BUDGET = 72.0              # seconds, for both phases' kills
MAX_SIZE = 1100 * 1000
USERS = ["samt", "alice", "bob", "quote", "victim"]
MBOXES = ["samt", "alice", "bob"]
ALIASES = ("staff: samt, alice\nabuse: samt\nall: samt, alice,\n  bob\n")
RCPTS = {"samt": {"samt"}, "alice": {"alice"}, "bob": {"bob"},
         "staff": {"samt", "alice"}, "abuse": {"samt"},
         "samt+box": {"samt"}, "all": {"samt", "alice", "bob"}}
PRINTABLE = bytes(range(0x20, 0x7f)) + b"\t" + bytes(range(0x80, 0x100))


def rand_line(rng):
    r = rng.random()
    if r < 0.04:
        return b"From " + rand_text(rng, 0, 40)
    if r < 0.06:
        return b">" * rng.randrange(1, 4) + b"From " + rand_text(rng, 0, 30)
    if r < 0.07:
        return rng.choice([b"From", b"Fro", b">From", b"From:", b"from x",
                           b"", b">", b" From x"])
    if r < 0.10:
        return b""
    return rand_text(rng, 0, 150)


def rand_text(rng, lo, hi):
    n = rng.randrange(lo, hi + 1)
    return bytes(rng.choice(PRINTABLE) for _ in range(n)) if n < 40 else \
        rng.randbytes(n).translate(TRANSLATE)


# random bytes without \n, \r and NUL
TRANSLATE = bytes.maketrans(b"\n\r\0", b"xyz")


def make_body(rng, seed, i, size):
    head = (b"Subject: delivery crash test %d\nX-Seq: %d\nX-Seed: %d\n\n"
            % (i, i, seed))
    parts = [head]
    n = len(head)
    # big messages: mostly long plain lines (fast to make), some quoting
    while n < size:
        if size > 20000 and rng.random() < 0.9:
            line = rng.randbytes(rng.randrange(50, 200)).translate(TRANSLATE)
        else:
            line = rand_line(rng)
        parts.append(line + b"\n")
        n += len(line) + 1
    body = b"".join(parts)
    r = rng.random()
    if r < 0.05:
        body = body[:-1]                # no final newline
    elif r < 0.08:
        body += b"From the end"         # last line needs quoting, no \n
    return body


class Box:
    """What the test knows of one mbox: its bytes after the last check
    and their parse (whole messages as (start, end, sender, qid), and
    the offset of a cut-off message at the end, or None)."""

    def __init__(self, path):
        self.path = path
        self.data = b""
        self.msgs = []
        self.tail = None

    def bounds(self):
        return [0] + [e for _, e, _, _ in self.msgs]


class Run:
    def __init__(self, inst, maildir, seed):
        self.inst = inst
        self.maildir = maildir
        self.seed = seed
        self.rng = random.Random(seed)
        self.expected = {}      # qid -> (sender, body, set of mboxes)
        self.known = {u: {} for u in MBOXES}    # content -> qid
        self.boxes = {u: Box(os.path.join(maildir, u)) for u in MBOXES}
        self.errors = []
        self.kills = 0
        self.finished = 0
        self.full_runs = 0
        self.rolled_back = 0    # complete, unrecorded messages cut off
        self.cut_offs = 0       # cut-off messages left by kills
        self.removed = 0        # ... removed by the next delivery
        self.early = 0
        # copies appended by a killed run that the saved state does not
        # record (each becomes a duplicate): one per message (the kill
        # came between that append and its state update), or several of
        # one message (the state was not saved after each delivery)
        self.dup_last = 0
        self.dup_others = 0
        self.forgotten = 0      # ... kept because a recorded cut was lost
        self.forgot_note = None
        self.rate = 3e-8        # seconds per byte delivered (calibrated)
        self.base = 0.012       # seconds for a qrun with nothing to do
        self.per_box = 0.01     # seconds per mailbox delivery
        self.stretch = 1.2      # kill window / predicted run time
        self.appends = 0        # kills aimed at an append in progress
        self.empty_locks = 0    # locks left naming no process
        self.submitted = 0

    def read(self, u):
        try:
            with open(self.boxes[u].path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def error(self, msg):
        self.errors.append(msg)
        print("FAIL " + msg)
        sys.stdout.flush()

    def submit(self, i, size=None, names=None):
        rng = self.rng
        if size is None:
            size = int(math.exp(rng.uniform(math.log(60),
                                            math.log(MAX_SIZE))))
        body = make_body(rng, self.seed, i, size)
        if names is None:
            names = rng.sample(sorted(RCPTS), rng.randrange(1, 5))
        sender = "crash%d@example.org" % i
        before = set(self.inst.queue_files())
        p = T.qsend_queue(self.inst, sender, names, body)
        if p.returncode != 0:
            self.error("qsend for message %d failed (%d): %r"
                       % (i, p.returncode, p.stderr))
            return None
        new = set(self.inst.queue_files()) - before
        if len(new) != 1:
            self.error("qsend for message %d: queue/ gained %r" % (i, new))
            return None
        qid = new.pop()
        queued = T.queue_body(self.inst, qid)
        if queued is None or not queued.endswith(body):
            self.error("queue/%s does not end with message %d" % (qid, i))
            return None
        boxes = set()
        for n in names:
            boxes |= RCPTS[n]
        self.expected[qid] = (sender, queued, boxes)
        content = T.mbox_content(sender, queued)
        for u in boxes:
            self.known[u][content] = qid
        self.submitted += 1
        return qid

    def work(self, qid):
        e = self.expected.get(qid)
        return len(e[1]) * len(e[2]) if e else 0

    def lock(self, u):
        return T.read_lock_info(self.boxes[u].path + ".lock")

    def check_recoverable(self, u, box, when):
        """A cut-off message at the end must be recorded in the lock."""
        if box.tail is None:
            return
        lk = self.lock(u)
        try:
            ino = os.stat(box.path).st_ino
        except FileNotFoundError:
            ino = None
        if lk is None or lk[1] is None or T.pid_alive(lk[0]) or \
                lk[1] > box.tail or lk[1] not in box.bounds() or \
                lk[2] not in (None, ino):
            self.error("%s: %s ends in a cut-off message (offset %d, %d "
                       "bytes) but its lock (%r) does not record where it "
                       "begins: the next delivery will append behind it"
                       % (when, u, box.tail, len(box.data) - box.tail, lk))

    def check_after(self, it, locks, killed, queued):
        """Checks every mbox against what it held before run it."""
        when = "run %d (%s)" % (it, "killed" if killed else "finished")
        copies = {}             # qid -> mboxes given a lasting copy
        for u in MBOXES:
            box = self.boxes[u]
            prev, lk = box.data, locks[u]
            self.check_lock_names_pid(u, when)
            cur = self.read(u)
            rec = lk is not None and lk[0] is not None and \
                lk[1] is not None and lk[1] < len(prev) and \
                not T.pid_alive(lk[0])
            if len(cur) == len(prev) and cur == prev:
                self.check_recoverable(u, box, when)
                nl = self.lock(u)
                if rec and (nl is None or nl[1] != lk[1]):
                    self.forget(u, box, lk[1], when)
                continue
            k = len(prev)
            if rec:
                if len(cur) >= len(prev) and \
                        memoryview(cur)[:len(prev)] == memoryview(prev):
                    self.forget(u, box, lk[1], when)    # not cut back
                else:
                    k = lk[1]
            if len(cur) < k or memoryview(cur)[:k] != memoryview(prev)[:k]:
                j = next((i for i in range(min(len(cur), k))
                          if cur[i] != prev[i]), min(len(cur), k))
                self.error("%s: %s: bytes before offset %d (the size the "
                           "killed delivery recorded, or the old size) "
                           "changed: first difference at %d (old %d bytes, "
                           "new %d)" % (when, u, k, j, len(prev), len(cur)))
                box.data = cur
                box.msgs, box.tail = [], None
                self.reparse(u)
                continue
            b = max(x for x in box.bounds() if x <= k)
            parse = T.parse_mbox(cur[b:], self.known[u])
            if parse.error:
                self.error("%s: %s does not parse from offset %d on: %s "
                           "(before the run: %d bytes%s; lock %r)" % (
                               when, u, b, parse.error, len(prev),
                               ", ending in a cut-off message at %d"
                               % box.tail if box.tail is not None else "",
                               lk))
                box.data = cur
                self.reparse(u)
                continue
            if box.tail is not None:
                self.removed += 1
            self.rolled_back += sum(1 for s, _, _, _ in box.msgs if s >= k)
            box.msgs = [m for m in box.msgs if m[1] <= b] + [
                (s + b, e + b, snd, self.known[u][c])
                for s, e, snd, c in parse.messages]
            box.tail = None if parse.tail is None else parse.tail + b
            box.data = cur
            self.check_recoverable(u, box, when)
            if box.tail is not None:
                self.cut_offs += 1
            # copies of still queued messages outlive the kill unless the
            # lock left behind cuts them off again
            nl = self.lock(u)
            cut = nl[1] if nl and nl[1] is not None else len(cur)
            for s, e, _, qid in box.msgs:
                if s >= k and e <= cut and qid in queued:
                    copies.setdefault(qid, set()).add(u)
        if not killed:
            return
        for qid, got in copies.items():
            unrec = got - self.recorded(qid)
            if len(unrec) == 1:
                self.dup_last += 1
            else:
                self.dup_others += len(unrec)

    def check_lock_names_pid(self, u, when):
        """A lock inetmail leaves must name its process: one that names
        none goes stale only after DELIVER_STALE (300s), and till then
        every delivery to the mailbox waits lock_timeout and is deferred.
        Reported, then removed (as time would), so the run goes on."""
        path = self.boxes[u].path + ".lock"
        lk = T.read_lock_info(path)
        if lk is None or lk[0] is not None:
            return
        with open(path, "rb") as f:
            raw = f.read(100)
        self.empty_locks += 1
        if self.empty_locks == 1:
            self.error("%s: the kill left %s.lock naming no process (%r): "
                       "it blocks the mailbox until it is 300s old (removed "
                       "by the test so that the run goes on)" % (when, u, raw))
        os.unlink(path)

    def forget(self, u, box, size, when):
        """The cut back to size that a killed delivery recorded was lost
        (a later delivery took its lock over and was killed before it
        cut): what lies beyond stays for good.  A cut-off message there
        is damage (check_recoverable or the parse reports it); whole
        messages there were never recorded as delivered: duplicates."""
        n = sum(1 for s, _, _, _ in box.msgs if s >= size)
        self.forgotten += n
        if n and not self.forgot_note:
            self.forgot_note = ("%s: %s: the cut back to %d recorded by a "
                                "killed delivery was lost; %d whole "
                                "message(s) beyond it stay (duplicates)"
                                % (when, u, size, n))

    def recorded(self, qid):
        """The mailboxes whose delivery of qid the saved state records
        (all, once the message has left the queue)."""
        if qid not in self.inst.queue_files():
            return set(self.expected[qid][2])
        try:
            with open(os.path.join(self.inst.spool, "state", qid)) as f:
                text = f.read()
        except FileNotFoundError:
            return set()
        return set(re.findall(r"^t sent mbox .* :([^ ]*) :[^ ]*$", text,
                              re.M))

    def reparse(self, u):
        box = self.boxes[u]
        parse = T.parse_mbox(box.data, self.known[u])
        box.msgs = [(s, e, snd, self.known[u][c])
                    for s, e, snd, c in parse.messages]
        box.tail = parse.tail

    def timed_run(self, qid):
        locks = {u: self.lock(u) for u in MBOXES}
        t0 = time.time()
        rc, _ = T.run_group([T.QRUN, "-C", self.inst.conf, "-I", qid], 60)
        dt = time.time() - t0
        if rc != 0:
            self.error("calibration: qrun exited %r" % rc)
        self.check_after(-1, locks, False, set(self.inst.queue_files()))
        return dt

    def calibrate(self, i):
        """Times uninterrupted deliveries: a small message to one and to
        three mailboxes (the cost of a qrun and of one delivery: fork,
        locks, fsyncs, state), a big one to three (the cost of a byte)."""
        q = [self.submit(i, size=100, names=["samt"]),
             self.submit(i + 1, size=100, names=["all"]),
             self.submit(i + 2, size=MAX_SIZE, names=["all"])]
        if None in q:
            return
        t1, t3, tb = [self.timed_run(x) for x in q]
        self.per_box = max((t3 - t1) / 2, 0.002)
        self.base = max(t1 - self.per_box, 0.005)
        self.rate = max((tb - t3) / (3 * MAX_SIZE), 1e-9)

    def predict(self, qids):
        t = self.base
        for q in qids:
            e = self.expected.get(q)
            if e:
                t += len(e[2]) * (self.per_box + self.rate * len(e[1]))
        return t

    def append_kill_delay(self, p, sizes, pred, wsize):
        """Polls the mboxes until one grows (an append began): returns a
        delay within that append; or 0 if the run ended first."""
        deadline = time.time() + 3 * self.stretch * pred + 0.5
        while time.time() < deadline and p.poll() is None:
            for u in MBOXES:
                try:
                    if os.stat(self.boxes[u].path).st_size > sizes[u]:
                        self.appends += 1
                        return self.rng.uniform(0, self.rate * wsize)
                except FileNotFoundError:
                    pass
            time.sleep(0.0005)
        return 0

    def one(self, it):
        rng = self.rng
        queue = self.inst.queue_files()
        if len(queue) < 3 or rng.random() < 0.4:
            self.submit(it)
            queue = self.inst.queue_files()
        args = [T.QRUN, "-C", self.inst.conf]
        if it % 15 == 14:
            pred = self.predict(queue)
            wsize = MAX_SIZE
            self.full_runs += 1
        else:
            qid = queue[-1] if rng.random() < 0.5 else rng.choice(queue)
            args += ["-I", qid]
            pred = self.predict([qid])
            wsize = len(self.expected[qid][1]) if qid in self.expected \
                else MAX_SIZE
        r = rng.random()
        mode = "early" if r < 0.15 else "append" if r < 0.5 else "any"
        if mode == "early":
            delay = rng.uniform(0, 0.03)
            self.early += 1
        else:
            delay = rng.uniform(0, self.stretch * pred)
        locks = {u: self.lock(u) for u in MBOXES}
        sizes = {u: len(self.boxes[u].data) for u in MBOXES}
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             start_new_session=True)
        if mode == "append":
            # wait for an mbox to grow, then kill within the append
            delay = self.append_kill_delay(p, sizes, pred, wsize)
        try:
            p.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            killed = True
        if not T.kill_group_wait(p):
            self.error("run %d: processes of qrun's group survive SIGKILL"
                       % it)
        # keep about one run in ten uninterrupted: kills then fall all
        # over the deliveries, whatever this machine's speed
        if killed:
            self.kills += 1
        else:
            self.finished += 1
        if mode == "any":
            self.stretch *= 1.005 if killed else 0.95
        if not killed:
            if p.returncode != 0:
                self.error("run %d: qrun exited %d" % (it, p.returncode))
        self.check_after(it, locks, killed, set(self.inst.queue_files()))

    def settle(self, budget=8):
        """Full runs, past retry_min, until the queue is empty (or the
        budget is spent: a lock that never goes stale would keep it)."""
        t0 = time.time()
        for n in range(12):
            if not self.inst.queue_files():
                return n
            if time.time() - t0 > budget:
                self.error("final runs: the queue did not empty in %ds"
                           % budget)
                return n
            q = subprocess.Popen([T.QRUN, "-C", self.inst.conf],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                out, _ = q.communicate(timeout=budget)
            except subprocess.TimeoutExpired:
                self.error("final qrun still running after %ds: %s"
                           % (budget, T.hang_report(q.pid)))
                T.kill_group_wait(q)
                out = b""
            if q.returncode not in (0, None, -9):
                self.error("final qrun exited %d: %r" % (q.returncode,
                                                         out[-500:]))
            if self.inst.queue_files():
                time.sleep(1.1)
        return 12

    def verify_final(self):
        dups = {}
        left = self.inst.queue_files()
        if left:
            listing = subprocess.run([T.QSEND, "-C", self.inst.conf, "-bp"],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT).stdout
            self.error("the queue is not empty after the final runs: %d "
                       "message(s):\n%s" % (
                           len(left), listing.decode("utf-8", "replace")
                           [:2000]))
        for u in MBOXES:
            data = self.read(u)
            parse = T.parse_mbox(data, self.known[u])
            if parse.error or parse.tail is not None:
                self.error("final %s: %s" % (u, parse.error or
                                             "ends in a cut-off message"))
                continue
            count = {}
            for s, e, sender, content in parse.messages:
                qid = self.known[u][content]
                count[qid] = count.get(qid, 0) + 1
                exp_sender, body, _ = self.expected[qid]
                if sender.decode() != exp_sender:
                    self.error("final %s: %s has From_ sender %r" % (
                        u, qid, sender))
                rp = b"Return-Path: <%s>\n" % exp_sender.encode()
                text = T.mbox_unquote(content[len(rp):-1])
                want = body if body.endswith(b"\n") else body + b"\n"
                if not content.startswith(rp) or text != want:
                    self.error("final %s: %s is not byte-exact after "
                               "unquoting" % (u, qid))
            for qid, (_, _, boxes) in sorted(self.expected.items()):
                if u in boxes and qid not in count:
                    self.error("final %s: message %s is missing" % (u, qid))
            for qid, c in count.items():
                if u not in self.expected[qid][2]:
                    self.error("final %s: %s delivered there, but not "
                               "addressed to it" % (u, qid))
                elif c > 1:
                    dups[(qid, u)] = c
            lockpath = self.boxes[u].path + ".lock"
            if os.path.exists(lockpath):
                with open(lockpath, "rb") as f:
                    raw = f.read(100)
                age = time.time() - os.stat(lockpath).st_mtime
                self.error("final %s: %s.lock is left over: %r, %.0fs old%s"
                           % (u, u, raw, age, "; a lock naming no process "
                              "is only stale after 300s (DELIVER_STALE): "
                              "till then every delivery to this mailbox "
                              "waits lock_timeout and is deferred"
                              if not raw.startswith(b"inetmail ") else ""))
        return dups


def quoting_preflight(inst, maildir, errors):
    """Edge cases of mboxrd quoting, delivered once, checked byte-exact."""
    body = (b"Subject: quoting\n\nFrom x\n>From y\n>>From z\nFrom\n"
            b">From\n>Fro\n>\n>>\nFrom:\nfrom x\n" + b">" * 1023 + b"From a\n"
            + b">" * 1024 + b"From b\n" + b">" * 1100 + b"From c\n"
            + b">" * 3000 + b"\n" + b"From the end")
    p = T.qsend_queue(inst, "q@example.org", ["quote"], body)
    rc, _ = T.run_group([T.QRUN, "-C", inst.conf], 30)
    try:
        with open(os.path.join(maildir, "quote"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    if p.returncode != 0 or rc != 0 or inst.queue_files():
        errors.append("quoting preflight: qsend %d, qrun %r, queue %r" % (
            p.returncode, rc, inst.queue_files()))
        return
    parse = T.parse_mbox(data)
    if parse.error or len(parse.messages) != 1:
        errors.append("quoting preflight: mbox does not parse: %s"
                      % parse.error)
        return
    content = parse.messages[0][3]
    rp = b"Return-Path: <q@example.org>\n"
    got = T.mbox_unquote(content[len(rp):-1])
    i = got.find(b"Subject: quoting\n")
    if content.startswith(rp) and i >= 0 and got[i:] == body + b"\n":
        return
    bad = [(len(g) - len(g.lstrip(b">")), len(w) - len(w.lstrip(b">")),
            w.lstrip(b">")[:8])
           for g, w in zip(got[i:].split(b"\n"), (body + b"\n").split(b"\n"))
           if g != w]
    errors.append("QUOTING (mboxrd): a delivered message is not byte-exact "
                  "after unquoting: %s" % "; ".join(
                      "a line of %d '>' + %r came back with %d '>'"
                      % (w, t, g) for g, w, t in bad[:4]))


SYSTEMATIC = [
    # (baseline, syscall), the likeliest trouble first (a busy machine may
    # not get through all in the time budget): "clean": an mbox holding
    # one whole message; "cutoff": one whole message, then a cut-off one
    # that a killed delivery left, and its lock recording where it begins
    ("clean", "write"), ("cutoff", "ftruncate"), ("cutoff", "write"),
    ("clean", "fsync"), ("clean", "unlink"), ("clean", "rename"),
    ("cutoff", "link"), ("cutoff", "unlink"), ("clean", "link"),
]
GOOD = (b"From a@example.org Mon Jan  5 10:00:00 2026\n"
        b"Return-Path: <a@example.org>\nSubject: whole\n\nbody\n\n")
CUTOFF = (b"From b@example.org Mon Jan  5 10:00:01 2026\n"
          b"Return-Path: <b@example.org>\nSubject: cut off\n\nhalf a li")
SYS_BODY = (b"Subject: systematic kill\n\nFrom the start\n>From quoted\n"
            b"last line\n")


def systematic_kills(inst, maildir, errors, notes, budget):
    """Kills the delivery (its child, or qrun itself: each process counts
    its own calls) at the N-th call of one syscall, for N = 1, 2, ...
    until a run gets through; after each kill checks the mbox and the
    lock, then lets an unhindered qrun -I deliver and checks again.
    Returns (kills, duplicates)."""
    strace = shutil.which("strace")
    if strace is None:
        notes.append("strace not installed: systematic kills skipped")
        return 0, 0
    box = os.path.join(maildir, "victim")
    uid = 2000 + USERS.index("victim")
    kills = dups = 0
    found = {}                  # kind -> (places, first description)
    t0 = time.time()
    for base, call in SYSTEMATIC:
        if time.time() - t0 > budget:
            break
        for n in range(1, 40):
            if time.time() - t0 > budget:
                notes.append("systematic kills: time budget spent at %s "
                             "%s #%d" % (base, call, n))
                break
            drain(inst)
            for f in os.listdir(maildir):
                if f.startswith("victim") or f.startswith(".lk"):
                    os.unlink(os.path.join(maildir, f))
            with open(box, "wb") as f:
                f.write(GOOD + (CUTOFF if base == "cutoff" else b""))
            os.chown(box, uid, uid)
            os.chmod(box, 0o600)
            if base == "cutoff":
                dead = subprocess.Popen(["true"])
                dead.wait()
                with open(box + ".lock", "w") as f:
                    f.write("inetmail %d %d %d\n" % (dead.pid, len(GOOD),
                                                     os.stat(box).st_ino))
                os.chown(box + ".lock", uid, uid)
            p = T.qsend_queue(inst, "s@example.org", ["victim"], SYS_BODY)
            qids = inst.queue_files()
            if p.returncode != 0 or len(qids) != 1:
                errors.append("systematic: qsend failed: %r" % p.stderr)
                return kills, dups
            qid = qids[0]
            content = T.mbox_content("s@example.org",
                                     T.queue_body(inst, qid))
            known = {GOOD[GOOD.index(b"\n") + 1:]: "good", content: "new"}
            loglen = len(inst.log_text())
            rc, _ = T.run_group([strace, "-f", "-qq", "-o", "/dev/null",
                                 "-e", "trace=" + call, "-e",
                                 "inject=%s:signal=KILL:when=%d" % (call, n),
                                 T.QRUN, "-C", inst.conf, "-I", qid], 30)
            log = inst.log_text()[loglen:]
            killed = rc != 0 or "delivery process died" in log
            if not killed and "stat=Sent" in log and not inst.queue_files():
                break                   # got through: no N-th call
            kills += 1
            with open(box, "rb") as f:
                data = f.read()
            lk = T.read_lock_info(box + ".lock")
            with open(box + ".lock", "rb") if lk is not None else \
                    open(os.devnull, "rb") as f:
                raw = f.read(100)
            parse = T.parse_mbox(data, known)
            bad = []
            if parse.error:
                bad.append(("damaged", "the mbox does not parse: %s"
                            % parse.error))
            elif not data.startswith(GOOD):
                bad.append(("damaged", "the whole message before it was "
                            "changed"))
            if lk is not None and lk[0] is None:
                bad.append(("empty lock", "the lock it left names no "
                            "process (%r): it blocks the mailbox until it is "
                            "300s old (DELIVER_STALE), every delivery till "
                            "then is deferred" % raw))
            if parse.tail is not None and not parse.error:
                bounds = [0] + [e for _, e, _, _ in parse.messages]
                if lk is None or lk[1] is None or lk[1] not in bounds or \
                        lk[1] > parse.tail or T.pid_alive(lk[0] or 0):
                    bad.append(("cut forgotten", "the mbox ends in a "
                                "cut-off message (at %d) that no lock "
                                "records any more (lock: %r)"
                                % (parse.tail, raw)))
            # the next delivery, unhindered
            rc2, _ = T.run_group([T.QRUN, "-C", inst.conf, "-I", qid], 30)
            with open(box, "rb") as f:
                after = f.read()
            parse2 = T.parse_mbox(after, known)
            copies = [m for m in parse2.messages if known[m[3]] == "new"]
            if parse2.error or parse2.tail is not None:
                bad.append(("appended behind", "after the next delivery "
                            "the mbox %s: %r" % (
                                parse2.error or "ends in a cut-off message",
                                after[len(GOOD):len(GOOD) + 200])))
            elif not after.startswith(GOOD):
                bad.append(("damaged", "the next delivery changed the "
                            "whole message before it"))
            elif inst.queue_files() or not copies:
                bad.append(("not delivered", "the next delivery (qrun "
                            "exit %r) did not deliver it: queue %r, lock %r"
                            % (rc2, inst.queue_files(),
                               T.read_lock_info(box + ".lock"))))
            elif len(copies) > 2:
                bad.append(("copies", "delivered %d times"
                            % len(copies)))
            elif len(copies) == 2:
                dups += 1
            if os.path.exists(box + ".lock"):
                bad.append(("lock left", "a lock is left after the next "
                            "delivery"))
            for kind, text in bad:
                if kind not in found:
                    found[kind] = ([], text)
                found[kind][0].append("%s/%s#%d" % (base, call, n))
    drain(inst)
    for f in os.listdir(maildir):
        if f.startswith("victim") or f.startswith(".lk"):
            os.unlink(os.path.join(maildir, f))
    for kind, (places, text) in found.items():
        errors.append("systematic kills, %s: killed at %s (baseline/"
                      "syscall#N); at the first: %s" % (
                          kind, ", ".join(places), text))
    return kills, dups


def drain(inst):
    """Removes whatever a preflight left in the queue."""
    for sub in ("queue", "state"):
        d = os.path.join(inst.spool, sub)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))


def foreign_stale_lock(inst, maildir, errors, lock_timeout):
    """A stale lock of a dead inetmail delivery that the recipient cannot
    remove (another user's, in the sticky mail directory: e.g. left by a
    killed delivery to the mailbox through a /file alias): the delivery
    must give up at lock_timeout and defer, not spin."""
    box = os.path.join(maildir, "victim")
    uid = 2000 + USERS.index("victim")
    other = 2000 + USERS.index("quote")
    old = (b"From a@example.org Mon Jan  5 10:00:00 2026\n"
           b"Return-Path: <a@example.org>\nSubject: whole\n\nbody\n\n")
    with open(box, "wb") as f:
        f.write(old)
    os.chown(box, uid, uid)
    os.chmod(box, 0o600)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(box + ".lock", "w") as f:
        f.write("inetmail %d %d %d\n" % (dead.pid, len(old),
                                         os.stat(box).st_ino))
    os.chown(box + ".lock", other, other)
    p = T.qsend_queue(inst, "f@example.org", ["victim"], b"Subject: f\n\nx\n")
    qids = inst.queue_files()
    if p.returncode != 0 or len(qids) != 1:
        errors.append("foreign lock: qsend failed: %r" % p.stderr)
        drain(inst)
        return
    t0 = time.time()
    q = subprocess.Popen([T.QRUN, "-C", inst.conf, "-I", qids[0]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        q.wait(timeout=lock_timeout + 5)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
    T.kill_group_wait(q)
    with open(box, "rb") as f:
        after = f.read()
    if hung:
        errors.append(
            "foreign stale lock: with victim.lock (\"inetmail DEADPID %d\") "
            "owned by another user in the sticky mail directory, the "
            "delivery did not give up at lock_timeout (%ds): still running "
            "after %.0fs (mbox_dotlock retries its failed unlink forever)"
            % (len(old), lock_timeout, time.time() - t0))
    elif after != old or inst.queue_files() != qids:
        errors.append("foreign stale lock: the mbox changed (%d -> %d bytes) "
                      "or the message left the queue (%r)"
                      % (len(old), len(after), inst.queue_files()))
    for f in (box, box + ".lock"):
        try:
            os.unlink(f)
        except FileNotFoundError:
            pass
    drain(inst)


def setup(inst):
    T.write_users(inst, USERS)
    with open(inst.aliases, "w") as f:
        f.write(ALIASES)
    for path in (inst.relay, inst.lhn):
        open(path, "w").close()
    T.prepare_spool(inst)
    maildir = T.make_mail_dir(inst)
    inst.write_conf("mailbox mbox:%s/%%u\nretry_min 1s\nretry_max 2s\n"
                    "lock_timeout 2s\nmax_message_size 20m\n" % maildir)
    return maildir


def phase(name, seed, kills, deadline, tmpfs, preflight):
    """One Instance, kills of qrun in it, the final runs, the checks.
    Returns (failures, notes, kills done)."""
    errors, notes = [], []
    extra_kills = 0
    inst = T.Instance(users=USERS)
    mounted = False
    try:
        if tmpfs:
            why = T.mount_tmpfs(inst.dir, "512m")
            if why:
                notes.append("%s: %s; this phase runs on %s's file "
                             "system" % (name, why, inst.dir))
            else:
                mounted = True
                pw = T.pwd.getpwnam(T.SPOOL_USER)
                os.chown(inst.dir, pw.pw_uid, pw.pw_gid)
        maildir = setup(inst)
        if preflight:
            quoting_preflight(inst, maildir, errors)
            k, d = systematic_kills(inst, maildir, errors, notes, 18)
            print("systematic kills: %d, leaving %d duplicate(s) (a kill "
                  "between the append and the state update)" % (k, d))
            sys.stdout.flush()
            extra_kills += k
            foreign_stale_lock(inst, maildir, errors, 2)
            drain(inst)
            for e in errors:
                print("FAIL " + e)
        t0 = time.time()
        run = Run(inst, maildir, seed)
        run.calibrate(0)
        it = 3
        while run.kills < kills and time.time() < deadline:
            run.one(it)
            it += 1
        n = run.settle()
        dups = run.verify_final()
        leftovers = [f for f in os.listdir(maildir)
                     if f.startswith(".lk") and f.endswith(".inetmail")]
        total = sum(len(b) for _, (_, _, b) in run.expected.items())
        print("%s (%s, seed %d): %d runs (%d of the whole queue, the "
              "others qrun -I): %d killed (%d early, %d aimed at appends), "
              "%d finished; %d messages (%d mailbox deliveries) in %.1fs; "
              "%d final run(s); "
              "a qrun costs %.0f ms, a delivery %.0f ms + %.0f ms per MB; "
              "kill window %.2f x that" % (
                  name, "tmpfs" if mounted else "disk", seed, it - 3,
                  run.full_runs, run.kills, run.early, run.appends,
                  run.finished,
                  run.submitted, total, time.time() - t0, n,
                  run.base * 1e3, run.per_box * 1e3, run.rate * 1e9,
                  run.stretch))
        print("  kills left %d cut-off message(s); %d removed by the next "
              "delivery; %d complete but unrecorded message(s) cut off "
              "and delivered again" % (run.cut_offs, run.removed,
                                       run.rolled_back))
        ndup = sum(c - 1 for c in dups.values())
        print("  duplicates: %d (of %d mailbox deliveries); the kills left "
              "%d complete copies the saved state did not record: %d alone "
              "(killed between the append and its state update), %d with "
              "another unrecorded copy of the same message (state not "
              "saved after each delivery)" % (
                  ndup, total, run.dup_last + run.dup_others,
                  run.dup_last, run.dup_others))
        if run.empty_locks:
            print("  %d kill(s) left a lock naming no process"
                  % run.empty_locks)
        if run.forgotten:
            print("  %d more whole unrecorded message(s) stayed because a "
                  "killed delivery's recorded cut was lost (%s)"
                  % (run.forgotten, run.forgot_note))
        predicted = run.dup_last + run.dup_others + run.forgotten
        if ndup != predicted:
            run.error("%d duplicate(s) in the mailboxes, but the kills "
                      "left %d complete unrecorded copies: %s"
                      % (ndup, predicted, ", ".join(
                          "%s in %s x%d" % (q, u, c)
                          for (q, u), c in sorted(dups.items()))))
        if leftovers:
            notes.append("%s: %d dotlock temporary file(s) (.lkPID.inetmail)"
                         " of killed deliveries left in the mail directory"
                         % (name, len(leftovers)))
        sys.stdout.flush()
        return errors + run.errors, notes, run.kills + extra_kills
    finally:
        if mounted:
            T.umount(inst.dir)
        inst.cleanup()


def main():
    T.require_delivery()
    seed = int(os.environ.get("INETMAIL_CRASH_SEED", str(DEFAULT_SEED)))
    print("seed %d (INETMAIL_CRASH_SEED=%d reproduces this run), %d kills"
          % (seed, seed, KILLS))
    sys.stdout.flush()
    t0 = time.time()
    # on disk, fsyncs take most of a delivery, so most kills land in the
    # windows around them; on a tmpfs, in the middle of the appends
    first = min(KILLS, max(KILLS // 5, 1))
    e1, n1, k1 = phase("disk phase", seed, first, t0 + 35, False, True)
    e2, n2, k2 = phase("tmpfs phase", seed + 1, KILLS - k1,
                       t0 + TIME_BUDGET, True, False)
    for n in n1 + n2:
        print("note: " + n)
    errors = e1 + e2
    print("%d kills in all (systematic and random), %.1fs"
          % (k1 + k2, time.time() - t0))
    if k1 + k2 < MIN_KILLS:
        errors.append("time budget spent: only %d of %d kills"
                      % (k1 + k2, MIN_KILLS))
        print("FAIL " + errors[-1])
    elif k1 + k2 < KILLS:
        print("warning: this machine is slow or busy: only %d of %d kills "
              "in the time budget" % (k1 + k2, KILLS))
    if errors:
        print("%d failure(s); seed was %d" % (len(errors), seed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
