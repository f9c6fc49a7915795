#!/usr/bin/env python3
"""Local delivery into a full file system (DESIGN.md, "Delivery": on any
error the mbox is truncated back to its old size).

The mail directory is a small tmpfs (512 KB).  samt's mbox holds a few
messages; a filler file takes almost all the rest; then messages bigger
than the free space are delivered, with the space left at several sizes
(nothing at all, so not even the dotlock can be made; a few pages; one
byte less than the message needs; much less than it needs).  Each time:

  - qrun exits 0 and the mbox is exactly as before (same bytes);
  - the message is still queued, and `qsend -bp` lists it with the error
    (No space left on device);
  - no dotlock and no lock temporary file is left in the mail directory.

Then the filler is deleted and a plain qrun (past retry_min, so it honours
the retry time) delivers it: the mbox holds the old bytes followed by the
message exactly once, byte-exact after undoing the From_ line,
Return-Path and mboxrd quoting, and the queue is empty.

Needs root (mount, deliveries as the recipient); exits 77 if a tmpfs
cannot be mounted here.  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

TMPFS_SIZE = 512 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
SENDER = "full@example.org"


def body_of(n, size):
    """A message of size bytes or a little more (qsend adds headers),
    with lines that need quoting."""
    head = b"Subject: disk full %d\nX-Case: %d\n\n" % (n, n)
    lines, total = [head], len(head)
    k = 0
    while total < size:
        k += 1
        line = (b"From line %d needs quoting\n" % k if k % 7 == 0 else
                b">From quoted %d\n" % k if k % 11 == 0 else
                b"%06d the quick brown fox jumps over the lazy dog %s\n"
                % (k, b"x" * (k % 40)))
        lines.append(line)
        total += len(line)
    body = b"".join(lines)
    return body[:max(size - 1, len(head))] + b"\n"


class Test:
    def __init__(self, inst, maildir):
        self.inst = inst
        self.maildir = maildir
        self.box = os.path.join(maildir, "samt")
        self.filler = os.path.join(maildir, "filler")
        self.errors = []

    def fail(self, msg):
        self.errors.append(msg)
        print("FAIL " + msg)
        sys.stdout.flush()

    def read_box(self):
        try:
            with open(self.box, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def free(self):
        st = os.statvfs(self.maildir)
        return st.f_bavail * st.f_frsize

    def fill(self, leave):
        """Fills the file system, then frees leave bytes (whole pages)."""
        with open(self.filler, "ab") as f:
            block = b"\0" * 65536
            while True:
                try:
                    n = os.write(f.fileno(), block)
                    if n < len(block):
                        block = block[:max(n, 1)]
                except OSError:
                    if len(block) == 1:
                        break
                    block = block[:max(len(block) // 2, 1)]
        size = os.path.getsize(self.filler)
        os.truncate(self.filler, max(size - leave, 0))
        return self.free()

    def unfill(self):
        if os.path.exists(self.filler):
            os.unlink(self.filler)

    def queue(self, n, size):
        body = body_of(n, size)
        p = T.qsend_queue(self.inst, SENDER, ["samt"], body)
        if p.returncode != 0:
            self.fail("case %d: qsend exited %d: %r" % (n, p.returncode,
                                                       p.stderr))
            return None, None
        qids = self.inst.queue_files()
        if len(qids) != 1:
            self.fail("case %d: queue holds %r" % (n, qids))
            return None, None
        return qids[0], T.queue_body(self.inst, qids[0])

    def leftovers(self):
        return sorted(f for f in os.listdir(self.maildir)
                      if f.endswith(".lock") or f.startswith(".lk"))

    def deliver_ok(self, n, qid, queued, before, plain):
        """Delivers qid (plain qrun or -I) and checks it arrived once."""
        args = [T.QRUN, "-C", self.inst.conf] + ([] if plain else
                                                 ["-I", qid])
        rc, out = T.run_group(args, 60)
        after = self.read_box()
        if rc != 0:
            self.fail("case %d: qrun exited %r: %r" % (n, rc, out[-300:]))
        if self.inst.queue_files():
            self.fail("case %d: still queued after the space was freed: %s"
                      % (n, self.listing()))
        if not after.startswith(before):
            self.fail("case %d: the mbox changed before its old end "
                      "(%d -> %d bytes)" % (n, len(before), len(after)))
            return after
        content = T.mbox_content(SENDER, queued)
        parse = T.parse_mbox(after[len(before):], {content: qid})
        got = [m for m in parse.messages]
        if parse.error or parse.tail is not None or len(got) != 1:
            self.fail("case %d: after the old end the mbox holds %s" % (
                n, parse.error or "%d message(s)%s" % (
                    len(got), ", then a cut-off one"
                    if parse.tail is not None else "")))
            return after
        text = got[0][3]
        rp = b"Return-Path: <%s>\n" % SENDER.encode()
        if got[0][2] != SENDER.encode() or not text.startswith(rp) or \
                T.mbox_unquote(text[len(rp):-1]) != queued:
            self.fail("case %d: the delivered message is not byte-exact "
                      "after unquoting" % n)
        if self.leftovers():
            self.fail("case %d: left in the mail directory after delivery: "
                      "%r" % (n, self.leftovers()))
        return after

    def listing(self):
        r = subprocess.run([T.QSEND, "-C", self.inst.conf, "-bp"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.stdout.decode("utf-8", "replace")

    def queue_exact(self, n, need):
        """Queues a message whose mbox form (From_ line and all) takes
        need bytes, or about that."""
        size = need
        for _ in range(6):
            qid, queued = self.queue(n, size)
            if qid is None:
                return None, None
            got = mbox_size(queued)
            if got == need:
                break
            T.drop_queue(self.inst)
            size += need - got
        return qid, queued

    def pad_to(self, n, slack):
        """Delivers a message that leaves the mbox slack bytes short of a
        page boundary."""
        before = self.read_box()
        need = (PAGE - slack - len(before) % PAGE) % PAGE
        while need < 400:
            need += PAGE
        qid, queued = self.queue_exact(n, need)
        if qid:
            self.deliver_ok(n, qid, queued, before, plain=False)
        if len(self.read_box()) % PAGE != PAGE - slack:
            print("note: could not pad the mbox to %d bytes short of a page"
                  % slack)

    def full_case(self, n, leave, size_of):
        """Fills the disk but leave bytes, delivers a message whose mbox
        form takes size_of(room) bytes, room being what the append can
        use (the free pages, less one for the dotlock, plus the unused
        end of the mbox's last page): it must fail cleanly; then frees
        the space and delivers it."""
        before = self.read_box()
        free = self.fill(leave)
        room = max(free - PAGE, 0) + (-len(before)) % PAGE
        qid, queued = self.queue_exact(n, size_of(room))
        if qid is None:
            self.unfill()
            return
        print("case %d: %d bytes free, room for %d in the mbox; message %d "
              "bytes, %d in the mbox" % (n, free, room, len(queued),
                                         mbox_size(queued)))
        sys.stdout.flush()
        rc, out = T.run_group([T.QRUN, "-C", self.inst.conf, "-I", qid], 60)
        after = self.read_box()
        if rc != 0:
            self.fail("case %d: qrun exited %r: %r" % (n, rc, out[-300:]))
        if after != before:
            self.fail("case %d (%d bytes free): the mbox is not as before: "
                      "%d -> %d bytes%s" % (
                          n, free, len(before), len(after),
                          ", same length, other bytes"
                          if len(after) == len(before) else ""))
        listing = self.listing()
        m = re.search(r"^%s .*\n\s+\((.*)\)$" % qid, listing, re.M)
        if qid not in self.inst.queue_files():
            self.fail("case %d: the message left the queue (%s)"
                      % (n, self.inst.log_text()[-300:]))
        elif not m:
            self.fail("case %d: qsend -bp does not list %s with an error:"
                      "\n%s" % (n, qid, listing))
        elif "No space left on device" not in m.group(1):
            self.fail("case %d: qsend -bp gives the error as %r, not as "
                      "No space left on device" % (n, m.group(1)))
        else:
            print("case %d: deferred: %s" % (n, m.group(1)))
        if self.leftovers():
            self.fail("case %d: left in the full mail directory: %r"
                      % (n, self.leftovers()))
            for f in self.leftovers():
                os.unlink(os.path.join(self.maildir, f))
        self.unfill()
        if self.free() < mbox_size(queued) + 2 * PAGE:
            self.fail("case %d: test set-up: only %d bytes free without the "
                      "filler" % (n, self.free()))
        time.sleep(1.1)                 # past retry_min: a plain qrun
        self.deliver_ok(n, qid, queued, before, plain=True)


def main():
    T.require_delivery()
    t0 = time.time()
    inst = T.Instance(users=["samt"])
    maildir = os.path.join(inst.dir, "mail")
    os.mkdir(maildir)
    why = T.mount_tmpfs(maildir, "%d" % TMPFS_SIZE)
    if why:
        inst.cleanup()
        T.skip("cannot mount a small tmpfs for the mail directory (%s)"
               % why)
    try:
        os.chmod(maildir, 0o1777)
        T.prepare_spool(inst)
        inst.write_conf("mailbox mbox:%s/%%u\nretry_min 1s\nretry_max 1s\n"
                        "lock_timeout 2s\n" % maildir)
        t = Test(inst, maildir)
        # a few messages already there
        for n in range(3):
            before = t.read_box()
            qid, queued = t.queue(100 + n, 2000 + 3000 * n)
            if qid:
                t.deliver_ok(100 + n, qid, queued, before, plain=False)
        print("mbox before: %d bytes; tmpfs %d bytes, %d free" % (
            len(t.read_box()), TMPFS_SIZE, t.free()))
        # not even a dotlock fits
        t.full_case(1, 0, lambda room: 20000)
        # the lock fits; the message is much bigger than what is left
        t.full_case(2, 3 * PAGE, lambda room: 60000)
        # the message needs just one byte more than there is room for:
        # the failure comes at its very end (the blank line)
        t.full_case(3, 6 * PAGE, lambda room: room + 1)
        # ... or in its From_ line (20 bytes of it fit)
        t.pad_to(104, 20)
        t.full_case(4, PAGE, lambda room: 30000)
        # bigger than a write chunk (64 KB) and than what is left
        t.full_case(5, 8 * PAGE, lambda room: 150000)
        print("%.1fs" % (time.time() - t0))
        if t.errors:
            print("%d failure(s)" % len(t.errors))
            return 1
        return 0
    finally:
        T.umount(maildir)
        inst.cleanup()


def mbox_size(queued):
    """The bytes a queued message takes in the mbox: From_ line (its date
    is always 24 characters), Return-Path, quoted message, blank line."""
    return len("From %s %s\n" % (SENDER, "x" * 24)) + len(
        T.mbox_content(SENDER, queued))


if __name__ == "__main__":
    sys.exit(main())
