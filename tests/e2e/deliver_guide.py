#!/usr/bin/env python3
"""End-to-end: the guide's sendmail habits, delivered.

A real openbsd-inetd serves qsmtpd on 127.0.0.1 and, in the same
inetd.conf, `qrun -t` on the spool's trigger socket.  The guide's SMTP
session (typed as the guide shows it) must land in /var/mail/samt (here a
1777 directory of the test) within 2 seconds, byte for byte, readable by
s-nail; then qsend as sendmail: -v transcripts, the mailq layout, -q,
-d0, -bv, -bi, -t, -f, -F, -od, -i and the lone dot, exit codes.

Needs root (delivery takes the recipients' uids) and /usr/sbin/inetd; the
s-nail part is skipped (and said so) when s-nail is missing.
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
MAILQ_HEAD = ("-----Q-ID------ --Size-- -----Q-Time----- "
              "------------Sender/Recipient-----------\n")
ACCEPTED_RE = r"^250 2\.0\.0 (%s) Message accepted for delivery$" % T.QID_RE


class Ctx:
    def __init__(self, inst, port):
        self.inst = inst
        self.port = port
        self.skipped = []
        self.conf = "trigger %s/trigger\n" % inst.spool

    def conf_with(self, extra):
        """Rewrites the config: the test's own settings plus extra."""
        self.inst.write_conf(self.conf + extra)


eq = T.eq


match = T.match_start


ok_run = T.ok_run


def new_ids(ctx, before):
    return sorted(set(ctx.inst.queue_files()) - set(before))


def queued_one(ctx, before, what):
    ids = new_ids(ctx, before)
    if len(ids) != 1:
        raise AssertionError("%s: want one new queue file, got %r"
                             % (what, ids))
    return ids[0]


def wait_queue_empty(ctx, timeout=2.0):
    deadline = time.time() + timeout
    while ctx.inst.queue_files() and time.time() < deadline:
        time.sleep(0.01)
    eq(ctx.inst.queue_files(), [], "queue after delivery")


def new_messages(ctx, user, before, n, what, timeout=2.0):
    """Waits for n messages more than before in user's mbox; returns the
    new ones."""
    msgs = ctx.inst.wait_messages(user, before + n, timeout)
    if len(msgs) != before + n:
        raise AssertionError("%s: %s has %d messages, want %d\n%s" % (
            what, user, len(msgs), before + n, ctx.inst.log_text()[-2000:]))
    return msgs[before:]


def count(ctx, user):
    return len(ctx.inst.messages(user))


def local_message(m, qid, sender):
    """A message qsend queued and qrun delivered: From_ line and
    Return-Path name the sender, then qsend's Received: field.  Returns
    what follows it (unquoted)."""
    match(r"^From %s %s$" % (re.escape(sender or "MAILER-DAEMON"),
                             T.CTIME_RE), m.from_line, "From_ line")
    rp, received, rest = T.split_delivered(m.text)
    eq(rp, sender, "Return-Path")
    match(r"^Received: \(from root@localhost\)\n"
          r"\tby %s \(inetmail\) id %s; %s\n$" % (
              re.escape(HOST), qid, T.RFC5322_DATE_RE),
          received, "qsend's Received: field")
    eq(m.raw, T.mboxrd_quote(m.text), "mboxrd quoting")
    return rest


def added_headers(rest, qid, from_value):
    """The From, Date and Message-ID qsend adds; returns the rest."""
    m = match((r"^From: %s\nDate: %s\nMessage-ID: <%s@%s>\n"
               % (re.escape(from_value), T.RFC5322_DATE_RE, qid,
                  re.escape(HOST))).encode(), rest, "added headers")
    return rest[m.end():]


# --- the guide's session through inetd, delivered by the trigger ----------

GUIDE_BODY = [
    "Subject: This is my subject line",
    "",
    "I continue writing until I'm out of interesting things to say",
    "which is not that far away",
    "From here on the lines test the mbox: this one starts with From",
    ">From and this one was quoted already",
    "..a line I started with a dot, so I typed two",
    "",
    "samt",
]


def test_guide_session(ctx):
    inst = ctx.inst
    c = T.connect(ctx.port)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        eq(c.reply(), "220 %s ESMTP inetmail" % HOST, "greeting")
        eq(c.cmd("helo localhost"), "250 %s Hello localhost [127.0.0.1], "
           "pleased to meet you" % HOST, "helo")
        eq(c.cmd("mail from: samt@localhost"),
           "250 2.1.0 samt@localhost... Sender ok", "mail from")
        eq(c.cmd("rcpt to: samt@localhost"),
           "250 2.1.5 samt@localhost... Recipient ok", "rcpt to")
        eq(c.cmd("data"), '354 Enter mail, end with "." on a line by itself',
           "data")
        for line in GUIDE_BODY:
            c.send(line + "\r\n")
        t0 = time.time()
        qid = match(ACCEPTED_RE, c.cmd("."), "end of data").group(1)
        eq(c.cmd("quit"), "221 2.0.0 %s closing connection" % HOST, "quit")
    finally:
        c.sock.close()
    # "You have new mail in /var/mail/samt": within 2 seconds
    msgs = inst.wait_messages("samt", 1, 2.0)
    took = time.time() - t0
    if len(msgs) != 1:
        raise AssertionError("no mail in the mbox %.1fs after 250:\n%s\n%s"
                             % (took, inst.log_text(), ctx.inetd.log()))
    wait_queue_empty(ctx)
    sent = "".join(l + "\n" for l in GUIDE_BODY).encode()
    message = sent.replace(b"\n..", b"\n.")
    data = inst.mbox("samt")
    want = (r"From samt@localhost %s\n"
            r"Return-Path: <samt@localhost>\n"
            r"Received: from localhost \(\[127\.0\.0\.1\]\)\n"
            r"\tby %s \(inetmail\) with SMTP id %s\n"
            r"\tfor <samt@localhost>; %s\n" % (
                T.CTIME_RE, re.escape(HOST), qid, T.RFC5322_DATE_RE))
    m = re.match(want.encode(), data)
    if not m:
        raise AssertionError("mbox does not start as it should:\n%r"
                             % data[:400])
    quoted = T.mboxrd_quote(message)
    eq(quoted.count(b"\n>From "), 1, "one From line quoted")
    eq(quoted.count(b"\n>>From "), 1, "one >From line quoted")
    eq(data[m.end():], quoted + b"\n", "mbox after the trace fields")
    eq(msgs[0].text[-len(message):], message, "message, quoting undone")
    st = os.stat(inst.mbox_path("samt"))
    eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
       (inst.uids["samt"], inst.uids["samt"], oct(0o600)), "mbox owner/mode")
    if ("%s: to=<samt@localhost>, delay=" % qid not in inst.log_text() or
            "mailer=local, stat=Sent" not in inst.log_text()):
        raise AssertionError("no Sent log line:\n" + inst.log_text())
    snail_reads(ctx, "samt", [("This is my subject line",
                               [l for l in message.decode().split("\n")[2:]
                                if l and "From" not in l])])


def snail_reads(ctx, user, want):
    """s-nail lists user's mbox (want: [(subject, body lines)]) and
    prints each message with its body lines."""
    snail = shutil.which("s-nail")
    if snail is None:
        print("  (s-nail not installed: reading with it skipped)")
        ctx.skipped.append("s-nail")
        return
    home = os.path.join(ctx.inst.dir, "snail-home")
    os.makedirs(home, exist_ok=True)
    env = {"HOME": home, "MAILRC": "/dev/null", "PATH": "/usr/bin:/bin",
           "TERM": "dumb", "LC_ALL": "C"}
    path = ctx.inst.mbox_path(user)
    r = ctx.inst.run([snail, "-n", "-N", "-R", "-e", "-f", path], env=env)
    ok_run(r, "s-nail -e (is there mail?)")
    r = ok_run(ctx.inst.run([snail, "-n", "-R", "-H",
                             "-Sheadline=%m|%s", "-f", path], env=env),
               "s-nail -H")
    listed = [tuple(w.strip() for w in l.split("|", 1))
              for l in r.stdout.splitlines() if l.strip()]
    eq(listed, [(str(i + 1), s) for i, (s, _) in enumerate(want)],
       "s-nail's header summary")
    for i, (subject, lines) in enumerate(want):
        r = ok_run(ctx.inst.run([snail, "-n", "-N", "-R", "-f", path],
                                data=b"p %d\n" % (i + 1), env=env),
                   "s-nail p %d" % (i + 1))
        out = r.stdout.splitlines()
        for l in ["Subject: " + subject] + lines:
            if l not in out:
                raise AssertionError("s-nail p %d lacks %r:\n%s"
                                     % (i + 1, l, r.stdout))


# --- qsend -v through the trigger -----------------------------------------

def test_qsend_verbose(ctx):
    inst = ctx.inst
    n = count(ctx, "samt")
    before = inst.queue_files()
    r = ok_run(inst.qsend(["-v", "samt"], b"test\n"), "echo test | qsend -v")
    eq(r.stdout, "samt@%s... Connecting to local...\n"
       "samt@%s... Sent\n" % (HOST, HOST), "qsend -v transcript")
    eq(r.stderr, "", "qsend -v stderr")
    m, = new_messages(ctx, "samt", n, 1, "qsend -v")
    qid = re.search(rb"id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "root@" + HOST)
    rest = added_headers(rest, qid.decode(), '"root" <root@%s>' % HOST)
    eq(rest, b"\ntest\n", "body of a message without a header")
    eq(new_ids(ctx, before), [], "queue after qsend -v")


def test_trigger_none(ctx):
    """No trigger: the message waits; mailq shows it; qrun delivers it."""
    inst = ctx.inst
    ctx.conf_with("trigger none\n")
    try:
        eq(inst.queue_files(), [], "queue before")
        r = ok_run(inst.qsend(["-v", "samt"], b"Subject: queued\n\nwait\n"),
                   "qsend -v, trigger none")
        qid = queued_one(ctx, [], "trigger none")
        eq(r.stdout, "%s: queued; no trigger is listening, so it waits for "
           "the next queue run (qrun)\n" % qid, "qsend -v without trigger")
        time.sleep(0.2)
        eq(os.path.exists(os.path.join(inst.spool, "queue", qid)), True,
           "message still queued")
        env, size = T.queue_envelope(inst, qid)
        arrival = int(T.envelope_values(env, "arrival")[0])
        want = ("\t\t%s/queue (1 request)\n" % inst.spool + MAILQ_HEAD +
                "%-15s %8d %s %s\n" % (
                    qid, size, time.strftime("%a %b %d %H:%M",
                                             time.localtime(arrival)),
                    "root@" + HOST) +
                " " * 41 + "samt@%s\n" % HOST)
        eq(ok_run(inst.qsend(["-bp"]), "qsend -bp").stdout, want,
           "qsend -bp")
        eq(ok_run(inst.qsend([], argv0="mailq"), "mailq").stdout, want,
           "mailq")
        eq(ok_run(inst.qrun(["-l"]), "qrun -l").stdout, want, "qrun -l")
        n = count(ctx, "samt")
        r = ok_run(inst.qrun(), "qrun")
        eq((r.stdout, r.stderr), ("", ""), "qrun output")
        m, = new_messages(ctx, "samt", n, 1, "qrun")
        rest = local_message(m, qid, "root@" + HOST)
        rest = added_headers(rest, qid, '"root" <root@%s>' % HOST)
        eq(rest, b"Subject: queued\n\nwait\n", "message")
        eq(ok_run(inst.qsend(["-bp"]), "qsend -bp").stdout,
           "Mail queue is empty\n", "qsend -bp after qrun")
        eq(ok_run(inst.qsend([], argv0="mailq"), "mailq").stdout,
           "Mail queue is empty\n", "mailq after qrun")
    finally:
        ctx.conf_with("")


def test_queue_runs(ctx):
    """qsend -q, -qI and -qR run the queue (or part of it)."""
    inst = ctx.inst
    ctx.conf_with("trigger none\n")
    try:
        ids = []
        for rcpt in ("samt", "alice", "bob"):
            before = inst.queue_files()
            ok_run(inst.qsend([rcpt], b"Subject: for %s\n\nq\n"
                              % rcpt.encode()), "qsend " + rcpt)
            ids.append(queued_one(ctx, before, "qsend " + rcpt))
        counts = {u: count(ctx, u) for u in ("samt", "alice", "bob")}
        r = ok_run(inst.qsend(["-qI", ids[1]]), "qsend -qI")
        eq(inst.queue_files(), [ids[0], ids[2]], "queue after -qI")
        new_messages(ctx, "alice", counts["alice"], 1, "-qI")
        r = ok_run(inst.qsend(["-qR", "bob@"]), "qsend -qR")
        eq(inst.queue_files(), [ids[0]], "queue after -qR")
        new_messages(ctx, "bob", counts["bob"], 1, "-qR")
        r = ok_run(inst.qsend(["-v", "-q"]), "qsend -v -q")
        eq(inst.queue_files(), [], "queue after -q")
        if "samt@%s... Sent\n" % HOST not in r.stderr:
            raise AssertionError("qsend -v -q: no transcript:\n" + r.stderr)
        new_messages(ctx, "samt", counts["samt"], 1, "-q")
    finally:
        ctx.conf_with("")


# --- qsend's other modes ----------------------------------------------------

def test_d0(ctx):
    inst = ctx.inst
    r = ok_run(inst.run([inst.qsend_path, "-C", inst.conf, "-d0"]),
               "qsend -d0 < /dev/null")
    match(r"^Version inetmail \S+\n\n", r.stdout, "-d0 version line")
    eq(r.stdout.split("\n\n", 1)[1],
       "============ SYSTEM IDENTITY (after readcf) ============\n"
       "      (short domain name) $w = mail\n"
       "  (canonical domain name) $j = %s\n"
       "         (subdomain name) $m = example.com\n"
       "              (node name) $k = %s\n"
       "========================================================\n"
       % (HOST, os.uname().nodename), "-d0 identity block")
    eq(inst.queue_files(), [], "queue after -d0")


def test_bv(ctx):
    inst = ctx.inst
    inst.set_aliases("# test aliases\nstaff: samt, alice\n"
                     "postmaster: alice\n"
                     "lists: \"|/usr/bin/true\", %s/lists.mbox\n" % inst.dir)
    r = inst.qsend(["-bv", "samt", "staff", "Postmaster", "samt+lists",
                    "bob@remote.example", "lists"])
    ok_run(r, "qsend -bv")
    eq(r.stdout,
       "samt@{h}... deliverable: mailer local, user samt\n"
       "samt@{h}... deliverable: mailer local, user samt\n"
       "alice@{h}... deliverable: mailer local, user alice\n"
       "alice@{h}... deliverable: mailer local, user alice\n"
       "samt+lists@{h}... deliverable: mailer local, user samt\n"
       "bob@remote.example... deliverable: mailer esmtp, host "
       "remote.example\n"
       "lists@{h}... deliverable: mailer prog, command /usr/bin/true\n"
       "lists@{h}... deliverable: mailer file, file {d}/lists.mbox\n"
       .format(h=HOST, d=inst.dir), "qsend -bv output")
    r = inst.qsend(["-bv", "samt", "nosuch"])
    ok_run(r, "qsend -bv with an unknown user", rc=67)    # EX_NOUSER
    eq(r.stdout, "samt@{h}... deliverable: mailer local, user samt\n"
       "nosuch@{h}... User unknown\n".format(h=HOST), "-bv unknown user")
    eq(inst.queue_files(), [], "queue after -bv")


def test_bi(ctx):
    inst = ctx.inst
    inst.set_aliases("# comment\na: b\nstaff: samt,\n  alice\n")
    for argv0, args in (("qsend", ["-bi"]), ("newaliases", [])):
        r = ok_run(inst.qsend(args, argv0=argv0), argv0 + " " + str(args))
        eq(r.stdout, "%s: 2 aliases, longest 14 bytes, 16 bytes total\n"
           % inst.aliases, argv0 + " output")
        eq(r.stderr, "", argv0 + " stderr")
    inst.set_aliases("# comment\na: b\nno colon here\n  orphan\n"
                     "q: \"unclosed\nstaff: samt,\n  alice\n")
    for argv0, args in (("qsend", ["-bi"]), ("newaliases", [])):
        r = ok_run(inst.qsend(args, argv0=argv0), argv0 + " (bad file)",
                   rc=65)                                  # EX_DATAERR
        eq(r.stderr, "{a}:3: missing colon after the alias name\n"
           "{a}:4: continuation line without an alias\n"
           "{a}:5: q: bad item (an unclosed quote, or too long)\n"
           .format(a=inst.aliases), argv0 + " errors")
        eq(r.stdout, "%s: 3 aliases, longest 14 bytes, 26 bytes total\n"
           % inst.aliases, argv0 + " summary (bad file)")
    inst.set_aliases("# test aliases\nstaff: samt, alice\n")


def test_t_bcc(ctx):
    """-t: recipients from To, Cc and Bcc; the Bcc field goes."""
    inst = ctx.inst
    msg = (b"From: Sam T <samt@mail.example.com>\n"
           b"To: alice, Bob <bob@mail.example.com>\n"
           b"Cc: samt@mail.example.com\n"
           b"Bcc: carol,\n  root-not-here@remote.example\n"
           b"Subject: -t\n"
           b"Date: Sat, 19 Mar 2005 10:45:20 +1300\n"
           b"Message-ID: <guide@example.com>\n\n"
           b"Bcc: in the body stays\n")
    before = inst.queue_files()
    counts = {u: count(ctx, u) for u in ("samt", "alice", "bob", "carol")}
    ok_run(inst.qsend(["-odq", "-t"], msg), "qsend -t")
    qid = queued_one(ctx, before, "qsend -t")
    env, _ = T.queue_envelope(inst, qid)
    eq(T.envelope_values(env, "rcpt"),
       ["alice@" + HOST, "bob@" + HOST, "samt@" + HOST, "carol@" + HOST,
        "root-not-here@remote.example"], "-t envelope recipients")
    ok_run(inst.qrun(["-I", qid]), "qrun -I")
    want = re.sub(rb"Bcc: carol,\n  root-not-here@remote.example\n", b"",
                  msg)
    for u in ("samt", "alice", "bob", "carol"):
        m, = new_messages(ctx, u, counts[u], 1, "-t to " + u)
        rest = local_message(m, qid, "root@" + HOST)
        eq(rest, want, "-t message as %s got it" % u)
    # the remote one waits (no remote delivery here): forget it
    T.drop_queue(inst)


def test_f_F(ctx):
    inst = ctx.inst
    n = count(ctx, "samt")
    ok_run(inst.qsend(["-odi", "-f", "boss@example.org", "-F", "The Boss",
                       "samt"], b"Subject: -f -F\n\nhi\n"), "qsend -f -F")
    m, = new_messages(ctx, "samt", n, 1, "-f -F", timeout=0)
    qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "boss@example.org")
    rest = added_headers(rest, qid.decode(), '"The Boss" <boss@example.org>')
    eq(rest, b"Subject: -f -F\n\nhi\n", "-f -F message")
    # -r is -f; -F alone names the caller's address
    n += 1
    ok_run(inst.qsend(["-odi", "-r", "other@example.org", "samt"],
                      b"Subject: -r\n\nhi\n"), "qsend -r")
    m, = new_messages(ctx, "samt", n, 1, "-r", timeout=0)
    eq(m.from_line.split(" ")[1], "other@example.org", "-r sender")
    n += 1
    ok_run(inst.qsend(["-odi", "-F", "Sam T", "samt"], b"\nno header\n"),
           "qsend -F")
    m, = new_messages(ctx, "samt", n, 1, "-F", timeout=0)
    qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "root@" + HOST)
    rest = added_headers(rest, qid.decode(), '"Sam T" <root@%s>' % HOST)
    eq(rest, b"\nno header\n", "-F message")


def test_null_sender(ctx):
    """-f '<>': the null envelope sender (From_ line MAILER-DAEMON,
    Return-Path: <>), and a From: field that is still an address."""
    inst = ctx.inst
    n = count(ctx, "samt")
    ok_run(inst.qsend(["-odi", "-f", "<>", "samt"], b"Subject: null\n\nx\n"),
           "qsend -f '<>'")
    m, = new_messages(ctx, "samt", n, 1, "-f '<>'", timeout=0)
    match(r"^From MAILER-DAEMON %s$" % T.CTIME_RE, m.from_line, "From_ line")
    rp, _, rest = T.split_delivered(m.text)
    eq(rp, "", "Return-Path of a null-sender message")
    frm = re.match(rb"From: ([^\n]*)\n", rest)
    if frm is None:
        raise AssertionError("no From: field added: %r" % rest[:200])
    # one mailbox, as RFC 5322 3.6.2 wants; never "<<>>"
    match(r'^(?:"[^"]*" )?<[^<>\s@]+@[^<>\s@]+>$', frm.group(1).decode(),
          "From: field of a null-sender message")


def test_f_forms(ctx):
    """-f takes an address as sendmail does: "<addr>" is addr, and a
    bare name is qualified with the host name, in the envelope and in
    the From: field."""
    inst = ctx.inst
    bad = []
    for arg, want in (("<boss@example.org>", "boss@example.org"),
                      ("samt", "samt@" + HOST)):
        n = count(ctx, "samt")
        ok_run(inst.qsend(["-odi", "-f", arg, "samt"], b"Subject: f\n\nx\n"),
               "qsend -f %s" % arg)
        m, = new_messages(ctx, "samt", n, 1, "-f " + arg, timeout=0)
        rp, _, rest = T.split_delivered(m.text)
        frm = re.match(rb"From: ([^\n]*)\n", rest)
        got = (m.sender, rp, frm.group(1).decode() if frm else None)
        if got != (want, want, '"root" <%s>' % want):
            bad.append("-f %r: From_ sender, Return-Path, From: = %r"
                       % (arg, got))
    if bad:
        raise AssertionError("; ".join(bad))


def test_date_msgid(ctx):
    """Missing Date and Message-ID are added; present ones are kept."""
    inst = ctx.inst
    n = count(ctx, "samt")
    ok_run(inst.qsend(["-odi", "samt"], b"From: me <samt@example.com>\n"
                      b"Subject: no date\n\nx\n"), "qsend")
    m, = new_messages(ctx, "samt", n, 1, "no date", timeout=0)
    qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "root@" + HOST)
    match((r"^Date: %s\nMessage-ID: <%s@%s>\nFrom: me <samt@example\.com>\n"
           r"Subject: no date\n\nx\n$" % (T.RFC5322_DATE_RE, qid.decode(),
                                          re.escape(HOST))).encode(),
          rest, "Date and Message-ID added, From kept")
    have = (b"Date: Sun, 20 Mar 2005 10:45:20 +1300\n"
            b"Message-ID: <j2JLjKg3024237@obsdgcc3.ants.to>\n"
            b"Subject: dated\n\nx\n")
    ok_run(inst.qsend(["-odi", "samt"], have), "qsend")
    m, = new_messages(ctx, "samt", n + 1, 1, "dated", timeout=0)
    qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "root@" + HOST)
    eq(rest, b'From: "root" <root@%s>\n' % HOST.encode() + have,
       "Date and Message-ID kept")


def test_odq(ctx):
    """-odq queues only, even with a trigger listening."""
    inst = ctx.inst
    n = count(ctx, "samt")
    before = inst.queue_files()
    r = ok_run(inst.qsend(["-odq", "-v", "samt"], b"Subject: odq\n\nq\n"),
               "qsend -odq")
    qid = queued_one(ctx, before, "-odq")
    eq(r.stdout, "", "qsend -odq -v output")
    time.sleep(0.3)
    eq(count(ctx, "samt"), n, "messages after -odq")
    eq(inst.queue_files(), before + [qid], "queue after -odq")
    out = ok_run(inst.qsend(["-bp"]), "qsend -bp").stdout
    if "\n%s " % qid not in out or "\n%ssamt@%s\n" % (" " * 41, HOST) \
            not in out:
        raise AssertionError("-bp does not list %s:\n%s" % (qid, out))
    ok_run(inst.qrun(), "qrun")
    new_messages(ctx, "samt", n, 1, "qrun after -odq", timeout=0)
    eq(inst.queue_files(), before, "queue after qrun")


def test_lone_dot(ctx):
    inst = ctx.inst
    data = b"Subject: dots\n\none\n..two\n.\nthree\n"
    cases = [(["samt"], b"Subject: dots\n\none\n..two\n"),
             (["-i", "samt"], data),
             (["-oi", "samt"], data)]
    n = count(ctx, "samt")
    for args, want in cases:
        ok_run(inst.qsend(["-odi"] + args, data), "qsend %s" % args)
        m, = new_messages(ctx, "samt", n, 1, "lone dot %s" % args,
                          timeout=0)
        n += 1
        qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
        rest = local_message(m, qid.decode(), "root@" + HOST)
        rest = added_headers(rest, qid.decode(), '"root" <root@%s>' % HOST)
        eq(rest, want, "message with %s" % args)
    # by the name sendmail, as mail(1) and cron call it
    ok_run(inst.qsend(["-odi", "-oi", "samt"], data, argv0="sendmail"),
           "sendmail -oi")
    m, = new_messages(ctx, "samt", n, 1, "sendmail -oi", timeout=0)
    qid = re.search(rb" id (%s);" % T.QID_RE.encode(), m.text).group(1)
    rest = local_message(m, qid.decode(), "root@" + HOST)
    rest = added_headers(rest, qid.decode(), '"root" <root@%s>' % HOST)
    eq(rest, data, "message sent as sendmail -oi")


def test_exit_codes(ctx):
    inst = ctx.inst
    before = inst.queue_files()
    r = inst.qsend(["-X", "samt"], b"x\n")
    ok_run(r, "qsend -X", rc=64)                            # EX_USAGE
    if not r.stderr.startswith("usage: qsend "):
        raise AssertionError("qsend -X: no usage message: %r" % r.stderr)
    r = inst.qsend(["samt@"], b"x\n")
    ok_run(r, "qsend samt@", rc=65)                         # EX_DATAERR
    eq(r.stderr, "qsend: samt@: bad address: Bad address syntax\n",
       "bad address message")
    r = inst.qsend(["-t"], b"To: <a@b@c>\nSubject: x\n\nx\n")
    ok_run(r, "qsend -t with a bad To:", rc=65)
    r = inst.qsend([], b"Subject: nobody\n\nx\n")
    ok_run(r, "qsend without recipients", rc=64)
    eq(r.stderr, "qsend: no recipients\n", "no recipients message")
    eq(inst.queue_files(), before, "queue after refused submissions")
    eq(inst.tmp_files(), [], "tmp/ after refused submissions")


# ---------------------------------------------------------------------------

TESTS = [
    ("the guide's session, delivered within 2s", test_guide_session),
    ("echo test | qsend -v samt", test_qsend_verbose),
    ("trigger none: qsend -v, -bp, mailq, qrun", test_trigger_none),
    ("qsend -qI, -qR, -q", test_queue_runs),
    ("qsend -d0 < /dev/null", test_d0),
    ("qsend -bv", test_bv),
    ("qsend -bi and newaliases", test_bi),
    ("qsend -t: To, Cc, Bcc", test_t_bcc),
    ("qsend -f, -r, -F", test_f_F),
    ("qsend -f '<>'", test_null_sender),
    ("qsend -f <addr>, -f name", test_f_forms),
    ("Date and Message-ID", test_date_msgid),
    ("qsend -odq", test_odq),
    ("the lone dot, -i, -oi", test_lone_dot),
    ("exit codes", test_exit_codes),
]


def main():
    T.require_delivery_users()
    T.require_tool(T.INETD)
    t0 = time.time()
    inst = T.DeliveryInstance()
    inetd = None
    failed = []
    try:
        T.prepare_spool(inst)
        port = T.free_port()
        ctx = Ctx(inst, port)
        ctx.conf_with("")
        trigger = "%s/trigger" % inst.spool
        inetd = T.Inetd(inst.dir, [
            T.qsmtpd_line(port, inst),
            "%s stream unix nowait root %s qrun -t -C %s"
            % (trigger, T.QRUN, inst.conf)], [port])
        ctx.inetd = inetd
        deadline = time.time() + 5
        while not os.path.exists(trigger) and time.time() < deadline:
            time.sleep(0.02)
        if not os.path.exists(trigger):
            raise RuntimeError("inetd made no trigger socket:\n"
                               + inetd.log())
        failed.extend(T.run_cases(TESTS, ctx))
        if failed:
            print("--- maillog ---\n" + inst.log_text()[-6000:])
            print("--- inetd ---\n" + inetd.log()[-3000:])
    finally:
        if inetd is not None:
            inetd.stop()
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS),
                                       time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
