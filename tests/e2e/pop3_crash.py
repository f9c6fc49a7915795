#!/usr/bin/env python3
"""End-to-end: qpop3d's QUIT is crash-safe, and keeps mail delivered
during a session.

1. At least 200 times (a fixed seed; POP3_CRASH_SEED and POP3_CRASH_RUNS
   change it), qpop3d serves a session on a socketpair, as inetd would
   run it, for a mailbox of 30 KB to 6 MB (large messages make the QUIT
   window wide), some messages are marked deleted, QUIT is sent, and at
   a random moment in the time a QUIT takes, its whole process group is
   SIGKILLed (after the login the session runs in the root parent,
   become the mailbox owner).  Every fifth run qrun delivers a message
   during the session first.  Afterwards the mbox must be byte for byte
   the mailbox before the QUIT or the one after it (so it parses, and
   every message is intact and byte-exact), owned and moded as before,
   and the next session must open it at once (the killed session's
   dotlock is stale, not in force).
2. Delivery during a session: what qrun delivers while a session is open
   (its lock waits bounded by lock_timeout) is all there afterwards,
   also when the session deletes messages at QUIT, also when deliveries
   race the QUIT, also when the session deletes the last message of the
   snapshot that lacked a final newline.

Needs root (qpop3d becomes the mailbox owner; qrun delivers as the
recipient) and openssl (to make crypt(3) hashes).
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

USER = "samt"
PASSWORD = "mypassword"
SEED = int(os.environ.get("POP3_CRASH_SEED", "20050321"))
RUNS = int(os.environ.get("POP3_CRASH_RUNS", "200"))
LOCK_TIMEOUT = 10
SIZES = [30000, 200000, 1000000, 2000000, 4000000, 6000000]


class Ctx:
    def __init__(self, inst):
        self.inst = inst
        self.path = inst.mbox_path(USER)
        self.uid = inst.uids[USER]


eq = T.eq


def pieces(data):
    """An mbox cut at its From_ lines: each message with its separator."""
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    return [data[s:(starts[i + 1] if i + 1 < len(starts) else len(data))]
            for i, s in enumerate(starts)]


def gen_message(rng, serial, size):
    """A message of about size bytes: dots, From lines (quoted in the
    mbox), long and short lines, a header that makes it unique."""
    head = (b"From: Sender %d <s%d@example.org>\n"
            b"To: samt@mail.example.com\n"
            b"Subject: crash test message %d\n"
            b"Message-ID: <crash.%d@example.org>\n\n" % (
                serial, serial, serial, serial))
    lines = []
    n = len(head)
    while n < size:
        k = rng.randrange(10)
        if k == 0:
            l = b"." * rng.randrange(1, 3) + b"dot %d" % n
        elif k == 1:
            l = b">" * rng.randrange(0, 3) + b"From the line at %d" % n
        elif k == 2:
            l = b""
        elif k == 3:
            l = b"w" * rng.randrange(100, 5000)
        else:
            l = (b"line %d of message %d " % (n, serial)) + \
                b"abcdefghij" * rng.randrange(0, 8)
        lines.append(l)
        n += len(l) + 1
    return head + b"\n".join(lines) + b"\n"


def make_templates(rng):
    """Mailboxes of several sizes, each (bytes, its pieces)."""
    out = []
    serial = 0
    for size in SIZES:
        k = rng.randrange(3, 9)
        msgs = []
        for i in range(k):
            # one or two large messages carry most of the size
            share = size // 2 if i < 2 else size // (4 * k)
            serial += 1
            msgs.append(gen_message(rng, serial, max(200, share)))
        data, _ = T.mbox_build(msgs)
        out.append((data, pieces(data)))
    return out


def install(ctx, data):
    T.mbox_install(ctx.inst, USER, data)


def deliver(ctx, body, what):
    """qsend -odq + qrun; returns the seconds qrun took."""
    r = ctx.inst.qsend(["-odq", "-oi", "-f", "sender@example.org", USER],
                       body)
    if r.returncode != 0:
        raise AssertionError("qsend %s: %s" % (what, r.stderr))
    t = time.time()
    r = ctx.inst.qrun(timeout=LOCK_TIMEOUT + 20)
    dt = time.time() - t
    if r.returncode != 0:
        raise AssertionError("qrun %s exited %d: %s" % (what, r.returncode,
                                                         r.stderr))
    return dt


def open_session(ctx, deadline=8.0):
    """A logged-in session; fails if the login (which opens the maildrop)
    takes longer than deadline seconds."""
    t = time.time()
    p, c = T.start_qpop3d_session(ctx.inst)
    c.sock.settimeout(LOCK_TIMEOUT + 10)
    got = c.login(USER, PASSWORD)
    dt = time.time() - t
    if got != ["+OK", "+OK", "+OK"]:
        T.kill_group_wait(p)
        raise AssertionError("login: %r\n%s" % (got, ctx.inst.log_text()
                                                [-2000:]))
    if dt > deadline:
        T.kill_group_wait(p)
        raise AssertionError("opening the maildrop took %.1fs (a stale lock "
                             "honoured?)" % dt)
    return p, c


def litter(ctx):
    """Files beside the mailbox other than it and its index: (tmp files,
    dotlock?)."""
    names = os.listdir(ctx.inst.mail)
    for n in names:                     # a dotlock begun, not taken
        if n.startswith(".lk") and n.endswith(".inetmail"):
            os.unlink(os.path.join(ctx.inst.mail, n))
    names = [n for n in names if not n.startswith(".lk")]
    index = USER + ".qpop3d-index"      # the mailbox's index: belongs there
    for n in names:                     # an index begun, not renamed
        if n.startswith(index + "."):
            os.unlink(os.path.join(ctx.inst.mail, n))
    names = [n for n in names if n != index and
             not n.startswith(index + ".")]
    tmp = [n for n in names if n.startswith(USER + ".qpop3d-")]
    lock = USER + ".lock" in names
    other = [n for n in names if n not in tmp and n not in
             (USER, USER + ".lock")]
    return tmp, lock, other


def describe(data, known):
    """Which messages an unexpected mbox holds, for the failure message."""
    p = T.MboxParse(data)
    if p.error:
        return "does not parse: " + p.error
    out = []
    for (s, e, _, _) in p.messages:
        piece = data[s:e]
        out.append(known.get(piece, "UNKNOWN(%d bytes)" % (e - s)))
    return "messages: %s; tail at %r" % (out, p.tail)


# --- 1. SIGKILL during QUIT --------------------------------------------------

def test_kill_during_quit(ctx):
    rng = random.Random(SEED)
    templates = make_templates(rng)
    print("  seed %d, %d runs, mailboxes of %s bytes" % (
        SEED, RUNS, [len(t[0]) for t in templates]))
    # how long a QUIT takes, per mailbox, measured without a kill
    quit_time = []
    for data, ps in templates:
        ts = []
        for _ in range(3):
            install(ctx, data)
            p, c = open_session(ctx)
            c.cmd("DELE 1")
            t = time.time()
            eq(c.cmd("QUIT"), "+OK", "QUIT (calibration)")
            ts.append(time.time() - t)
            T.kill_group_wait(p)
            eq(ctx.inst.mbox(USER), b"".join(ps[1:]), "mbox after QUIT "
               "(calibration)")
        quit_time.append(sorted(ts)[1])
    print("  QUIT takes %s ms" % ["%.1f" % (t * 1000) for t in quit_time])
    counts = {"before": 0, "after": 0}
    mid = stale_locks = 0
    slowest_open = 0.0
    parsed = set()
    t0 = time.time()
    spent = dict.fromkeys(("install", "open", "deliver", "quit", "check"), 0)
    for run in range(RUNS):
        ti = rng.randrange(len(templates))
        data, ps = templates[ti]
        tt = time.time()
        install(ctx, data)
        spent["install"] += time.time() - tt
        dele = sorted(rng.sample(range(len(ps)),
                                 rng.randrange(1, len(ps) + 1)))
        t = time.time()
        p, c = open_session(ctx)
        slowest_open = max(slowest_open, time.time() - t)
        spent["open"] += time.time() - t
        before = data
        if run % 5 == 4:
            tt = time.time()
            deliver(ctx, b"Subject: during run %d\n\nhello %d\n"
                    % (run, run), "during run %d" % run)
            before = ctx.inst.mbox(USER)
            spent["deliver"] += time.time() - tt
        tt = time.time()
        for k in dele:
            eq(c.cmd("DELE %d" % (k + 1)), "+OK", "DELE %d" % (k + 1))
        after = b"".join(x for i, x in enumerate(ps) if i not in dele) + \
            before[len(data):]
        delay = rng.uniform(0, 1.3 * quit_time[ti])
        c.send("QUIT\r\n")
        time.sleep(delay)
        T.kill_group_wait(p)
        c.close()
        spent["quit"] += time.time() - tt
        tt = time.time()
        got = ctx.inst.mbox(USER)
        if got == before:
            counts["before"] += 1
        elif got == after:
            counts["after"] += 1
        else:
            known = {x: "msg%d%s" % (i + 1, "(deleted)" if i in dele else "")
                     for i, x in enumerate(ps)}
            raise AssertionError(
                "run %d (mailbox %d, DELE %s, killed %.1f ms after QUIT): "
                "the mbox is neither the one before nor the one after the "
                "QUIT (%d bytes; before %d, after %d): %s" % (
                    run, ti, [k + 1 for k in dele], delay * 1000, len(got),
                    len(before), len(after), describe(got, known)))
        h = hash(got)
        if h not in parsed:             # parses strictly, too
            T.split_mbox(got)
            parsed.add(h)
        st = os.stat(ctx.path)
        eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
           (ctx.uid, ctx.uid, oct(0o600)), "run %d: owner and mode" % run)
        tmp, lock, other = litter(ctx)
        eq(other, [], "run %d: other files beside the mailbox" % run)
        if tmp:
            mid += 1
            for n in tmp:               # a crash's leftover: 6 MB each
                os.unlink(os.path.join(ctx.inst.mail, n))
        if lock:
            stale_locks += 1            # left for the next session
        spent["check"] += time.time() - tt
    took = time.time() - t0
    print("  %d runs in %.1fs: %d left the mailbox as before the QUIT, %d "
          "as after; %d killed with the new mailbox half written, %d left a "
          "stale dotlock; slowest open %.2fs" % (
              RUNS, took, counts["before"], counts["after"], mid,
              stale_locks, slowest_open))
    print("  time spent: %s" % ", ".join("%s %.1fs" % kv
                                         for kv in spent.items()))
    if counts["before"] == 0 or counts["after"] == 0 or mid == 0:
        raise AssertionError("the kills did not cover the QUIT (before %d, "
                             "after %d, inside %d): the test is not testing"
                             % (counts["before"], counts["after"], mid))
    # after all that: delivery and a clean QUIT still work
    data, ps = templates[0]
    install(ctx, data)
    dt = deliver(ctx, b"Subject: after the crashes\n\nok\n", "after crashes")
    if dt > LOCK_TIMEOUT / 2:
        raise AssertionError("qrun took %.1fs after the crashes" % dt)
    full = ctx.inst.mbox(USER)
    p, c = open_session(ctx)
    eq(c.cmd("DELE 1"), "+OK", "DELE 1")
    eq(c.cmd("QUIT"), "+OK", "QUIT")
    T.kill_group_wait(p)
    eq(ctx.inst.mbox(USER), full[len(ps[0]):], "mbox after the last QUIT")
    eq(litter(ctx), ([], False, []), "files beside the mailbox at the end")


# --- 2. delivery during a session --------------------------------------------

def small_box(ctx, n, last_newline=True):
    msgs = [b"Subject: snapshot %d\nMessage-ID: <snap.%d@example.org>\n\n"
            b"From the snapshot\n.%d\n" % (i + 1, i + 1, i + 1)
            for i in range(n)]
    if not last_newline:
        msgs[-1] = msgs[-1].rstrip(b"\n")
    data, contents = T.mbox_build(msgs, last_newline=last_newline)
    install(ctx, data)
    return data, contents


def delivered_tail(ctx, snap_len):
    return ctx.inst.mbox(USER)[snap_len:]


def check_delivered(ctx, tail_msgs, bodies, what):
    """tail_msgs (split_mbox of what came after the snapshot) are exactly
    the bodies delivered, in order."""
    eq(len(tail_msgs), len(bodies), "%s: messages delivered" % what)
    for m, b in zip(tail_msgs, bodies):
        rp, _, rest = T.split_delivered(m.text)
        eq(rp, "sender@example.org", what + ": Return-Path")
        if not rest.endswith(b):
            raise AssertionError("%s: delivered message %r lacks %r"
                                 % (what, rest[-200:], b))
    eq(ctx.inst.queue_files(), [], what + ": queue")


def test_deliver_during_session(ctx):
    data, contents = small_box(ctx, 4)
    p, c = open_session(ctx)
    bodies = [b"Subject: while open %d\n\nFrom a session\n.%d\n" % (i, i)
              for i in range(3)]
    for i, b in enumerate(bodies):
        dt = deliver(ctx, b, "during the session")
        if dt > LOCK_TIMEOUT / 2:
            raise AssertionError("qrun waited %.1fs for a session that holds "
                                 "no lock (lock_timeout %ds)"
                                 % (dt, LOCK_TIMEOUT))
    wires = [T.pop3_wire(x) for x in contents]
    eq(c.cmd("STAT"), "+OK 4 %d" % sum(map(len, wires)),
       "STAT: the snapshot")
    tail = delivered_tail(ctx, len(data))
    eq(c.cmd("QUIT"), "+OK", "QUIT without deletions")
    T.kill_group_wait(p)
    eq(ctx.inst.mbox(USER), data + tail, "mbox after QUIT")
    check_delivered(ctx, T.split_mbox(tail), bodies, "QUIT without DELE")


def test_deliver_then_delete(ctx):
    data, contents = small_box(ctx, 5)
    ps = pieces(data)
    p, c = open_session(ctx)
    for k in (1, 3, 5):
        eq(c.cmd("DELE %d" % k), "+OK", "DELE %d" % k)
    bodies = [b"Subject: kept %d\n\nFrom the delivery\n..%d\n" % (i, i)
              for i in range(3)]
    for b in bodies:
        dt = deliver(ctx, b, "during the session")
        if dt > LOCK_TIMEOUT / 2:
            raise AssertionError("qrun waited %.1fs" % dt)
    tail = delivered_tail(ctx, len(data))
    eq(c.cmd("QUIT"), "+OK", "QUIT with deletions")
    T.kill_group_wait(p)
    eq(ctx.inst.mbox(USER), ps[1] + ps[3] + tail,
       "mbox after QUIT: messages 2 and 4, then what arrived")
    check_delivered(ctx, T.split_mbox(tail), bodies, "QUIT with DELE")
    # a new session sees them all
    p, c = open_session(ctx)
    eq(c.cmd("STAT").split(" ")[:2], ["+OK", "5"], "STAT of a new session")
    eq(c.cmd("QUIT"), "+OK", "QUIT")
    T.kill_group_wait(p)


def test_deliveries_race_quit(ctx):
    """qrun delivers in a loop while the session's QUIT rewrites a large
    mailbox: every delivery lands exactly once, none waits longer than
    lock_timeout, the kept messages are intact."""
    rng = random.Random(SEED + 1)
    for rnd in range(3):
        msgs = [gen_message(rng, 1000 + rnd * 10 + i,
                            3000000 if i == 0 else 5000) for i in range(5)]
        data, _ = T.mbox_build(msgs)
        install(ctx, data)
        ps = pieces(data)
        p, c = open_session(ctx)
        for k in (2, 4):
            eq(c.cmd("DELE %d" % k), "+OK", "DELE %d" % k)
        bodies = [b"Subject: race %d.%d\n\nFrom racing\n.%d\n" % (rnd, i, i)
                  for i in range(6)]
        times = []
        errors = []

        def loop():
            try:
                for b in bodies:
                    times.append(deliver(ctx, b, "racing the QUIT"))
            except Exception as e:      # reported below
                errors.append(e)
        t = threading.Thread(target=loop)
        t.start()
        time.sleep(0.05 * rnd)
        eq(c.cmd("QUIT"), "+OK", "QUIT racing deliveries")
        T.kill_group_wait(p)
        t.join(120)
        if errors:
            raise errors[0]
        if max(times) > LOCK_TIMEOUT:
            raise AssertionError("a delivery took %.1fs, more than "
                                 "lock_timeout" % max(times))
        got = ctx.inst.mbox(USER)
        kept = ps[0] + ps[2] + ps[4]
        # what came before the QUIT was carried over after the kept
        # messages, what came after it was appended to the new mailbox
        if not got.startswith(kept):
            raise AssertionError(
                "round %d: the mbox does not begin with the kept messages "
                "1, 3, 5: %s" % (rnd, describe(got, {x: "msg%d" % (i + 1)
                                                     for i, x in
                                                     enumerate(ps)})))
        tail = got[len(kept):]
        check_delivered(ctx, T.split_mbox(tail), bodies,
                        "round %d, deliveries racing QUIT" % rnd)


def test_last_without_newline(ctx):
    """The snapshot's last message lacks its final newline (another MDA
    wrote it); qrun delivers during the session and so ends it with
    "\\n\\n"; the session deletes that last message (and then all).  The
    mbox must still begin with a From_ line, keep the other messages
    byte for byte, and hold the delivered one."""
    bad = []
    for dele in ((3,), (1, 2, 3)):
        data, contents = small_box(ctx, 3, last_newline=False)
        ps = pieces(data)
        p, c = open_session(ctx)
        for k in dele:
            eq(c.cmd("DELE %d" % k), "+OK", "DELE %d" % k)
        body = b"Subject: arrived\n\nduring the session\n"
        deliver(ctx, body, "during the session")
        during = ctx.inst.mbox(USER)
        new_msg = during[len(data):].lstrip(b"\n")
        eq(c.cmd("QUIT"), "+OK", "QUIT")
        T.kill_group_wait(p)
        got = ctx.inst.mbox(USER)
        want = b"".join(x for i, x in enumerate(ps) if i + 1 not in dele) + \
            new_msg
        if got != want:
            bad.append("DELE %s: mbox is %r\n    want %r" % (
                list(dele), got[:400], want[:400]))
            continue
        check_delivered(ctx, T.split_mbox(got)[-1:], [body],
                        "DELE %s" % (list(dele),))
    if bad:
        raise AssertionError("\n  ".join([""] + bad))


def test_lock_timeout(ctx):
    """Another program holds the mailbox's dotlock (an empty lock file,
    as a foreign MUA may leave while it works): qrun waits for it at
    most lock_timeout and leaves the message queued; the session's QUIT
    waits at most lock_timeout too, then says -ERR [SYS/TEMP] and
    deletes nothing.  Once the lock is gone, qrun delivers."""
    inst = ctx.inst
    inst.write_conf("lock_timeout 2s\n")
    lock = ctx.path + ".lock"
    try:
        data, contents = small_box(ctx, 3)
        p, c = open_session(ctx)
        eq(c.cmd("DELE 1"), "+OK", "DELE 1")
        with open(lock, "w"):
            pass
        result = {}

        def run_qrun():
            t = time.time()
            r = inst.qrun(timeout=30)
            result["qrun"] = (r, time.time() - t)
        r = inst.qsend(["-odq", "-oi", "-f", "sender@example.org", USER],
                       b"Subject: locked out\n\nwaits\n")
        eq(r.returncode, 0, "qsend")
        th = threading.Thread(target=run_qrun)
        th.start()
        time.sleep(0.2)
        t = time.time()
        c.sock.settimeout(30)
        got = c.cmd("QUIT")
        dt = time.time() - t
        if not got.startswith("-ERR [SYS/TEMP] "):
            raise AssertionError("QUIT under a foreign lock: %r" % got)
        if dt > 2 + 4:
            raise AssertionError("QUIT waited %.1fs, lock_timeout is 2s"
                                 % dt)
        if not c.closed():
            raise AssertionError("connection open after QUIT")
        T.kill_group_wait(p)
        th.join(40)
        r, qt = result["qrun"]
        if qt > 2 + 4:
            raise AssertionError("qrun waited %.1fs, lock_timeout is 2s" % qt)
        eq(inst.mbox(USER), data, "mbox while locked: nothing deleted, "
           "nothing appended")
        eq(len(inst.queue_files()), 1, "the message waits in the queue")
        os.unlink(lock)
        r = inst.qrun(["-I", inst.queue_files()[0]])
        eq(r.returncode, 0, "qrun -I after the lock is gone")
        eq(inst.queue_files(), [], "queue after qrun")
        got = inst.mbox(USER)
        if not got.startswith(data):
            raise AssertionError("the mailbox changed at its start")
        check_delivered(ctx, T.split_mbox(got[len(data):]),
                        [b"Subject: locked out\n\nwaits\n"],
                        "after the lock")
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        inst.write_conf("lock_timeout %ds\n" % LOCK_TIMEOUT)
        T.drop_queue(inst)


# ---------------------------------------------------------------------------

TESTS = [
    ("SIGKILL at random moments of QUIT, %d runs" % RUNS,
     test_kill_during_quit),
    ("qrun delivers during a session; QUIT without deletions",
     test_deliver_during_session),
    ("qrun delivers during a session; QUIT deletes",
     test_deliver_then_delete),
    ("qrun delivers racing a QUIT on 3 MB", test_deliveries_race_quit),
    ("delivery during a session; the last message lacked its newline and "
     "is deleted", test_last_without_newline),
    ("a foreign dotlock: qrun and QUIT wait at most lock_timeout",
     test_lock_timeout),
]


def main():
    T.require_pop3()
    T.require_tool("openssl")
    t0 = time.time()
    inst = T.DeliveryInstance(extra="lock_timeout %ds\n" % LOCK_TIMEOUT)
    failed = []
    try:
        T.prepare_spool(inst)
        T.pop3_set_passwords(inst, {USER: PASSWORD})
        ctx = Ctx(inst)
        failed.extend(T.run_cases(TESTS, ctx))
        if failed:
            print("--- maillog ---\n" + inst.log_text()[-4000:])
    finally:
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS),
                                       time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
