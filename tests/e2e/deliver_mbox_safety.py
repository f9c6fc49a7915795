#!/usr/bin/env python3
"""End-to-end: mbox delivery is safe.  qrun refuses a mailbox that is a
symbolic or hard link or belongs to someone else (the target untouched,
the message kept in the queue, mailq and the log saying why); a dotlock
left by a dead inetmail delivery does not block delivery (and what that
delivery half wrote is cut off); a live foreign dotlock defers delivery
after lock_timeout; mailboxes are created 0600 by the recipient in a 1777
directory, 0660 group mail in a 2775 root:mail one.

Mail is submitted with qsend -odq and delivered by qrun.  Needs root.
Exit 0 pass, 1 fail, 77 skip.
"""
import grp
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
USERS = ("samt", "alice", "bob", "carol")
LOCK_TIMEOUT = 2
MAILQ_HEAD = ("-----Q-ID------ --Size-- -----Q-Time----- "
              "------------Sender/Recipient-----------\n")
OLD_MBOX = (b"From someone@example.org Sat Mar 19 10:45:20 2005\n"
            b"Subject: already here\n\nan old message\n\n")


class Ctx:
    def __init__(self, inst):
        self.inst = inst
        self.cleanup = []


eq = T.eq


match = T.match_search


ok_run = T.ok_run


def conf(ctx, extra=""):
    ctx.inst.write_conf("lock_timeout %ds\n%s" % (LOCK_TIMEOUT, extra))


def submit(ctx, rcpt="samt", body=b"Subject: safety\n\nFrom me\nbody\n"):
    inst = ctx.inst
    before = inst.queue_files()
    ok_run(inst.qsend(["-odq", "-f", "bob@" + HOST, rcpt], body), "qsend")
    new = sorted(set(inst.queue_files()) - set(before))
    eq(len(new), 1, "new queue files")
    with open(os.path.join(inst.spool, "queue", new[0]), "rb") as f:
        env, received, msg = T.parse_queue_file(f.read())
    return new[0], received + msg


def delivered(m, queued):
    match(r"^From bob@%s %s$" % (re.escape(HOST), T.CTIME_RE), m.from_line,
          "From_ line")
    eq(m.text, b"Return-Path: <bob@%s>\n" % HOST.encode() + queued,
       "delivered message")
    eq(m.raw, T.mboxrd_quote(m.text), "mboxrd quoting")


def fresh_mailbox(ctx, user="samt"):
    for p in (ctx.inst.mbox_path(user), ctx.inst.mbox_path(user) + ".lock"):
        if os.path.lexists(p):
            os.unlink(p)


def file_state(path):
    """What must not change about a file: bytes, size, mtime, owner."""
    st = os.lstat(path)
    with open(path, "rb") as f:
        return (f.read(), st.st_size, st.st_mtime_ns, st.st_uid,
                st.st_mode)


def check_deferred(ctx, qid, user, reason):
    """qid is still queued for user; mailq and the log give reason."""
    inst = ctx.inst
    eq(inst.queue_files(), [qid], "queue (the message waits)")
    env, size = T.queue_envelope(inst, qid)
    arrival = int(T.envelope_values(env, "arrival")[0])
    eq(inst.qsend(["-bp"]).stdout,
       "\t\t%s/queue (1 request)\n" % inst.spool + MAILQ_HEAD +
       "%-15s %8d %s bob@%s\n" % (qid, size, time.strftime(
           "%a %b %d %H:%M", time.localtime(arrival)), HOST) +
       "                 (%s)\n" % reason +
       " " * 41 + "%s@%s\n" % (user, HOST), "qsend -bp")
    line = ("%s: to=<%s@%s>, delay=" % (qid, user, HOST))
    got = [l for l in inst.log_text().splitlines() if line in l]
    if not got or not got[-1].endswith(
            ", mailer=local, stat=Deferred: 4.2.0 " + reason):
        raise AssertionError("no log line for %s saying %r:\n%s"
                             % (qid, reason, inst.log_text()[-3000:]))


def retry(ctx, qid, user, queued, n_before):
    """Delivers qid now (qrun -I) and checks it landed."""
    ok_run(ctx.inst.qrun(["-I", qid]), "qrun -I")
    msgs = ctx.inst.messages(user)
    eq(len(msgs), n_before + 1, "messages after the retry")
    delivered(msgs[-1], queued)
    eq(ctx.inst.queue_files(), [], "queue after the retry")


# ---------------------------------------------------------------------------

def test_create_1777(ctx):
    inst = ctx.inst
    fresh_mailbox(ctx)
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    msgs = inst.messages("samt")
    eq(len(msgs), 1, "messages")
    delivered(msgs[0], q)
    st = os.stat(inst.mbox_path("samt"))
    eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
       (inst.uids["samt"], inst.uids["samt"], oct(0o600)),
       "new mbox in a 1777 directory: owner, group, mode")
    eq(os.path.exists(inst.mbox_path("samt") + ".lock"), False,
       "dotlock left behind")
    eq(sorted(os.listdir(inst.mail)), ["samt"], "files in the mail dir")
    eq(inst.queue_files(), [], "queue")


def mail_group(ctx):
    """The group mail (made for the test, and removed, if missing)."""
    try:
        return grp.getgrnam("mail").gr_gid
    except KeyError:
        pass
    name = "imtestmail"
    r = subprocess.run(["groupadd", "-r", name], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise AssertionError("no group mail and groupadd failed: %s"
                             % r.stdout)
    ctx.cleanup.append(lambda: subprocess.run(["groupdel", name]))
    return grp.getgrnam(name).gr_gid


def test_create_2775(ctx):
    """/var/mail root:mail 2775: the mbox is made 0660, group mail."""
    inst = ctx.inst
    gid = mail_group(ctx)
    d = os.path.join(inst.dir, "varmail")
    os.mkdir(d)
    os.chown(d, 0, gid)
    os.chmod(d, 0o2775)
    conf(ctx, "mailbox mbox:%s/%%u\n" % d)
    try:
        qid, q = submit(ctx, "alice")
        ok_run(inst.qrun(), "qrun")
        path = os.path.join(d, "alice")
        with open(path, "rb") as f:
            msgs = T.split_mbox(f.read())
        eq(len(msgs), 1, "messages")
        delivered(msgs[0], q)
        st = os.stat(path)
        eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
           (inst.uids["alice"], gid, oct(0o660)),
           "new mbox in a 2775 root:mail directory: owner, group, mode")
        eq(sorted(os.listdir(d)), ["alice"], "files in the mail dir")
        # and a second delivery appends to it
        qid, q2 = submit(ctx, "alice")
        ok_run(inst.qrun(), "qrun")
        with open(path, "rb") as f:
            msgs = T.split_mbox(f.read())
        eq(len(msgs), 2, "messages after a second delivery")
        delivered(msgs[1], q2)
        eq(inst.queue_files(), [], "queue")
    finally:
        conf(ctx)


def test_symlink(ctx):
    inst = ctx.inst
    fresh_mailbox(ctx)
    fd, elsewhere = tempfile.mkstemp(prefix="inetmail-elsewhere-")
    ctx.cleanup.append(lambda: os.unlink(elsewhere))
    os.write(fd, OLD_MBOX)
    os.close(fd)
    os.chown(elsewhere, inst.uids["samt"], inst.uids["samt"])
    os.chmod(elsewhere, 0o600)
    os.utime(elsewhere, (time.time() - 600, time.time() - 600))
    before = file_state(elsewhere)
    os.symlink(elsewhere, inst.mbox_path("samt"))
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    eq(file_state(elsewhere), before, "the link's target")
    eq(os.readlink(inst.mbox_path("samt")), elsewhere, "the link")
    check_deferred(ctx, qid, "samt", "%s is not a regular file (a link?): "
                   "refused" % inst.mbox_path("samt"))
    os.unlink(inst.mbox_path("samt"))
    retry(ctx, qid, "samt", q, 0)


def test_hardlink(ctx):
    inst = ctx.inst
    fresh_mailbox(ctx)
    other = os.path.join(inst.homes["samt"], "saved")
    with open(other, "wb") as f:
        f.write(OLD_MBOX)
    os.chown(other, inst.uids["samt"], inst.uids["samt"])
    os.chmod(other, 0o600)
    os.link(other, inst.mbox_path("samt"))
    before = file_state(other)
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    eq(file_state(other), before, "the other name of the mailbox")
    check_deferred(ctx, qid, "samt", "%s is not a regular file (a link?): "
                   "refused" % inst.mbox_path("samt"))
    os.unlink(inst.mbox_path("samt"))
    retry(ctx, qid, "samt", q, 0)


def test_foreign_owner(ctx):
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    with open(path, "wb") as f:
        f.write(OLD_MBOX)
    os.chown(path, inst.uids["alice"], inst.uids["alice"])
    os.chmod(path, 0o666)
    before = file_state(path)
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    eq(file_state(path), before, "a mailbox someone else owns")
    check_deferred(ctx, qid, "samt", "%s is owned by uid %d, not the "
                   "recipient: refused" % (path, inst.uids["alice"]))
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    retry(ctx, qid, "samt", q, 1)
    eq(inst.mbox("samt")[:len(OLD_MBOX)], OLD_MBOX, "the old message")


def dead_pid():
    for pid in (999999, 999998, 999997, 4194303):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
    raise AssertionError("no dead pid found")


def test_stale_lock(ctx):
    """A dotlock of a dead inetmail delivery: removed, mail delivered."""
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    with open(path, "wb") as f:
        f.write(OLD_MBOX)
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    lock = path + ".lock"
    with open(lock, "w") as f:
        f.write("inetmail %d 1234\n" % dead_pid())
    os.chown(lock, inst.uids["samt"], inst.uids["samt"])
    qid, q = submit(ctx)
    t0 = time.time()
    ok_run(inst.qrun(), "qrun")
    if time.time() - t0 > 1.5:
        raise AssertionError("the stale lock made qrun wait %.1fs"
                             % (time.time() - t0))
    data = inst.mbox("samt")
    eq(data[:len(OLD_MBOX)], OLD_MBOX, "the old message")
    msgs = T.split_mbox(data)
    eq(len(msgs), 2, "messages")
    delivered(msgs[1], q)
    eq(os.path.exists(lock), False, "the stale lock is gone")
    eq(inst.queue_files(), [], "queue")


def test_stale_lock_cut(ctx):
    """The dead delivery recorded the old size in its lock: what it half
    wrote after that is cut off before the new message goes in."""
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    half = (b"From bob@mail.example.com Wed Nov 25 12:17:33 2026\n"
            b"Return-Path: <bob@mail.example.com>\nSubject: killed\n\nhal")
    with open(path, "wb") as f:
        f.write(OLD_MBOX + half)
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    lock = path + ".lock"
    with open(lock, "w") as f:
        f.write("inetmail %d %d %d\n" % (dead_pid(), len(OLD_MBOX),
                                        os.stat(path).st_ino))
    os.chown(lock, inst.uids["samt"], inst.uids["samt"])
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    data = inst.mbox("samt")
    eq(data[:len(OLD_MBOX)], OLD_MBOX, "the old message")
    msgs = T.split_mbox(data)
    eq(len(msgs), 2, "messages (the half-written one cut off)")
    delivered(msgs[1], q)
    eq(os.path.exists(lock), False, "the stale lock is gone")


def test_fresh_foreign_lock(ctx):
    """A live lock someone else holds: wait lock_timeout, then defer."""
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    with open(path, "wb") as f:
        f.write(OLD_MBOX)
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    lock = path + ".lock"
    with open(lock, "w") as f:
        f.write("x")
    before = file_state(path)
    qid, q = submit(ctx)
    t0 = time.time()
    ok_run(inst.qrun(timeout=LOCK_TIMEOUT + 10), "qrun")
    took = time.time() - t0
    if not LOCK_TIMEOUT - 1 <= took <= LOCK_TIMEOUT + 2:
        raise AssertionError("qrun took %.1fs with lock_timeout %ds"
                             % (took, LOCK_TIMEOUT))
    eq(file_state(path), before, "the locked mailbox")
    with open(lock) as f:
        eq(f.read(), "x", "the foreign lock")
    check_deferred(ctx, qid, "samt", "mailbox is locked (%s)" % lock)
    os.unlink(lock)
    retry(ctx, qid, "samt", q, 1)


def test_old_lock_not_removable(ctx):
    """An old foreign lock the recipient cannot remove (root's, in the
    sticky 1777 directory): delivery is deferred after lock_timeout; the
    delivery must not spin for ever."""
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    with open(path, "wb") as f:
        f.write(OLD_MBOX)
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    lock = path + ".lock"
    with open(lock, "w") as f:
        f.write("x")
    os.utime(lock, (time.time() - 3600, time.time() - 3600))
    before = file_state(path)
    qid, q = submit(ctx)
    t0 = time.time()
    try:
        r = inst.qrun(timeout=LOCK_TIMEOUT + 8)
    except subprocess.TimeoutExpired:
        raise AssertionError("qrun still running %.0fs later (lock_timeout "
                             "%ds): the delivery loops on the lock it cannot "
                             "remove" % (time.time() - t0, LOCK_TIMEOUT))
    finally:
        os.unlink(lock)
    ok_run(r, "qrun")
    eq(file_state(path), before, "the locked mailbox")
    retry(ctx, qid, "samt", q, 1)


def test_mailbox_path_u_slash(ctx):
    """A mailbox directory whose name ends in "u" (".../menu/%u") is a
    directory like any other."""
    inst = ctx.inst
    d = os.path.join(inst.dir, "menu")
    os.mkdir(d)
    os.chmod(d, 0o1777)
    conf(ctx, "mailbox mbox:%s/%%u\n" % d)
    try:
        qid, q = submit(ctx, "carol")
        ok_run(inst.qrun(), "qrun")
        path = os.path.join(d, "carol")
        if not os.path.exists(path):
            raise AssertionError("nothing delivered to %s:\n%s" % (
                path, inst.log_text().splitlines()[-1]))
        with open(path, "rb") as f:
            msgs = T.split_mbox(f.read())
        eq(len(msgs), 1, "messages")
        delivered(msgs[0], q)
    finally:
        T.drop_queue(inst)
        conf(ctx)


def test_no_blank_line(ctx):
    """A mailbox another program left without its final blank line gets
    one before the new From_ line."""
    inst = ctx.inst
    fresh_mailbox(ctx)
    path = inst.mbox_path("samt")
    with open(path, "wb") as f:
        f.write(OLD_MBOX[:-1])
    os.chown(path, inst.uids["samt"], inst.uids["samt"])
    os.chmod(path, 0o600)
    qid, q = submit(ctx)
    ok_run(inst.qrun(), "qrun")
    data = inst.mbox("samt")
    eq(data[:len(OLD_MBOX)], OLD_MBOX, "the old message, blank line added")
    msgs = T.split_mbox(data)
    eq(len(msgs), 2, "messages")
    delivered(msgs[1], q)


# ---------------------------------------------------------------------------

TESTS = [
    ("new mbox in a 1777 directory: 0600, the recipient's",
     test_create_1777),
    ("new mbox in a 2775 root:mail directory: 0660, group mail",
     test_create_2775),
    ("symlinked mailbox refused", test_symlink),
    ("hard-linked mailbox refused", test_hardlink),
    ("mailbox owned by another uid refused", test_foreign_owner),
    ("stale dotlock of a dead delivery", test_stale_lock),
    ("stale dotlock: the half-written message cut off", test_stale_lock_cut),
    ("live foreign dotlock: deferred after lock_timeout",
     test_fresh_foreign_lock),
    ("old foreign dotlock the recipient cannot remove",
     test_old_lock_not_removable),
    ("mailbox directory name ending in u", test_mailbox_path_u_slash),
    ("mbox without its last blank line", test_no_blank_line),
]


def main():
    T.require_delivery_users()
    t0 = time.time()
    inst = T.DeliveryInstance(users=USERS)
    ctx = Ctx(inst)
    failed = []
    try:
        T.prepare_spool(inst)
        conf(ctx)
        failed.extend(T.run_cases(TESTS, ctx,
            after=lambda c: T.drop_queue(inst)))   # each case afresh
        if failed:
            print("--- maillog ---\n" + inst.log_text()[-6000:])
    finally:
        for fn in reversed(ctx.cleanup):
            try:
                fn()
            except OSError:
                pass
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS),
                                       time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
