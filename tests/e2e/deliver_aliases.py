#!/usr/bin/env python3
"""End-to-end: qrun's local delivery through aliases, :include: files,
programs, files, ~/.forward and user+detail, with duplicates suppressed;
RFC 3464 bounces and delay warnings, double bounces to the postmaster, and
nothing that loops.

Mail is submitted with qsend -odq and delivered by a qrun run to the end,
so every step is deterministic.  The aliases file belongs to root, so its
programs and files run as nobody.  Needs root.  Exit 0 pass, 1 fail, 77
skip.
"""
import email
import email.policy
import os
import pwd
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
USERS = ("samt", "alice", "bob", "carol")
MAILQ_HEAD = ("-----Q-ID------ --Size-- -----Q-Time----- "
              "------------Sender/Recipient-----------\n")
NOBODY = pwd.getpwnam("nobody") if T.IS_ROOT else None


class Ctx:
    def __init__(self, inst):
        self.inst = inst
        self.notices = {}


eq = T.eq


match = T.match_search


ok_run = T.ok_run


def addr(user):
    return "%s@%s" % (user, HOST)


def aliases(ctx, extra=""):
    d = ctx.inst.dir
    ctx.inst.set_aliases(
        "# test aliases (root's: programs and files run as nobody)\n"
        "staff: samt, alice\n"
        "a: b\n"
        "b: a\n"
        "incl: :include:{d}/lists/incl.list\n"
        "incl-lines: :include:{d}/lists/lines.list\n"
        "prog: \"|{d}/bin/prog.sh\"\n"
        "filed: {d}/files/filed.mbox\n"
        "slow: \"|{d}/bin/tempfail.sh\"\n"
        "broken: \"|{d}/bin/fail.sh\"\n"
        "ghost: nosuchuser\n"
        "{extra}".format(d=d, extra=extra))


def setup_files(inst):
    """Scripts, :include: lists, and directories nobody may write."""
    bin_ = os.path.join(inst.dir, "bin")
    os.mkdir(bin_)
    os.chmod(bin_, 0o755)
    for name, text in (
            ("prog.sh", '#!/bin/sh\n'
             '{ echo "uid=$(id -u) gid=$(id -g) SENDER=$SENDER '
             'RECIPIENT=$RECIPIENT"; cat; } >> "%s/out/prog.out"\n'
             % inst.dir),
            ("tempfail.sh", "#!/bin/sh\ncat >/dev/null\n"
             "printf 'mailbox busy'\nexit 75\n"),
            ("fail.sh", "#!/bin/sh\ncat >/dev/null\n"
             "echo 'no such mailbox'\nexit 3\n")):
        p = os.path.join(bin_, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)
    for d in ("out", "files"):
        p = os.path.join(inst.dir, d)
        os.mkdir(p)
        os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid)
        os.chmod(p, 0o755)
    lists = os.path.join(inst.dir, "lists")
    os.mkdir(lists)
    os.chmod(lists, 0o755)
    for name, text in (("incl.list", "alice, bob\n"),
                       ("lines.list", "# one address a line\nalice\nbob\n")):
        with open(os.path.join(lists, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(lists, name), 0o644)


def submit(ctx, rcpts, body, sender=None, args=()):
    """qsend -odq; returns (qid, the queued message with its Received:)."""
    inst = ctx.inst
    before = inst.queue_files()
    ok_run(inst.qsend(["-odq", "-f", sender or addr("samt")] + list(args) +
                      list(rcpts), body), "qsend %s" % " ".join(rcpts))
    new = sorted(set(inst.queue_files()) - set(before))
    eq(len(new), 1, "new queue files")
    with open(os.path.join(inst.spool, "queue", new[0]), "rb") as f:
        _, received, msg = T.parse_queue_file(f.read())
    return new[0], received + msg


def snapshot(ctx):
    return {u: len(ctx.inst.messages(u)) for u in USERS}


def new_mail(ctx, before):
    """{user: [new MboxMessage]} for users with new mail."""
    out = {}
    for u in USERS:
        msgs = ctx.inst.messages(u)[before[u]:]
        if msgs:
            out[u] = msgs
    return out


def run_queue(ctx, args=()):
    r = ok_run(ctx.inst.qrun(args), "qrun")
    eq(r.stdout, "", "qrun stdout")
    return r


def delivered_as(m, sender, queued):
    """m is queued, delivered for sender: From_ line, Return-Path, then the
    queued message (its Received: first), mboxrd-quoted."""
    match(r"^From %s %s$" % (re.escape(sender or "MAILER-DAEMON"),
                             T.CTIME_RE), m.from_line, "From_ line")
    eq(m.text, b"Return-Path: <%s>\n" % sender.encode() + queued,
       "delivered message")
    eq(m.raw, T.mboxrd_quote(m.text), "mboxrd quoting")


def _no_delay(text):
    # a delivery's delay depends on the machine's speed, not on inetmail
    return re.sub(r"delay=[0-9+:]+", "delay=T", text)


def log_has(ctx, line):
    if _no_delay(line) not in _no_delay(ctx.inst.log_text()):
        raise AssertionError("no log line %r:\n%s"
                             % (line, ctx.inst.log_text()[-3000:]))


def queue_empty(ctx):
    eq(ctx.inst.queue_files(), [], "queue")
    eq(ctx.inst.qsend(["-bp"]).stdout, "Mail queue is empty\n", "qsend -bp")


BODY = (b"Subject: %s\n\nhello\nFrom the start of a line\n"
        b">From quoted already\n")


# --- RFC 3464 ---------------------------------------------------------------

def check_notice(m, to, action, rcpts, orig_qid, orig, headers_only=False):
    """m (an MboxMessage) is an RFC 3464 report sent with the null sender
    to `to`: multipart/report; report-type=delivery-status, a text part,
    a message/delivery-status part (Reporting-MTA, then per recipient
    Final-Recipient, Action, Status, Diagnostic-Code as in rcpts: a list
    of (final recipient, status, diagnostic regex)) and the original
    (message/rfc822, or text/rfc822-headers for a warning).  Returns the
    text part and the parsed message."""
    match(r"^From MAILER-DAEMON %s$" % T.CTIME_RE, m.from_line,
          "notice From_ line")
    rp, received, rest = T.split_delivered(m.text)
    eq(rp, "", "notice Return-Path (the null sender)")
    nqid = match(r"^Received: by %s \(inetmail\) id (%s); %s\n$" % (
        re.escape(HOST), T.QID_RE, T.RFC5322_DATE_RE), received,
        "notice Received:").group(1)
    msg = email.message_from_bytes(rest, policy=email.policy.compat32)
    eq(msg["From"], "Mail Delivery Subsystem <MAILER-DAEMON@%s>" % HOST,
       "notice From:")
    eq(msg["To"], "<%s>" % to, "notice To:")
    eq(msg["Auto-Submitted"], "auto-replied", "Auto-Submitted:")
    eq(msg["Message-ID"], "<%s@%s>" % (nqid, HOST), "notice Message-ID:")
    eq(msg.get_content_type(), "multipart/report", "notice Content-Type")
    eq(msg.get_param("report-type"), "delivery-status", "report-type")
    eq(msg.get_param("boundary"), "%s/%s" % (nqid, HOST), "boundary")
    if msg.defects:
        raise AssertionError("notice MIME defects: %r" % msg.defects)
    parts = msg.get_payload()
    eq([p.get_content_type() for p in parts],
       ["text/plain", "message/delivery-status",
        "text/rfc822-headers" if headers_only else "message/rfc822"],
       "notice parts")
    text = parts[0].get_payload()
    match(r"^The original message %s was received at %s\nfrom a local user"
          "\n" % (orig_qid, T.RFC5322_DATE_RE), text, "notice text")
    blocks = parts[1].get_payload()
    eq(blocks[0]["Reporting-MTA"], "dns; " + HOST, "Reporting-MTA")
    if blocks[0]["Arrival-Date"] is None:
        raise AssertionError("no Arrival-Date")
    eq(len(blocks) - 1, len(rcpts), "per-recipient blocks")
    for b, (final, status, diag) in zip(blocks[1:], rcpts):
        eq(b["Final-Recipient"], "rfc822; " + final, "Final-Recipient")
        eq(b["Action"], action, "Action")
        eq(b["Status"], status, "Status")
        match(r"^X-inetmail; " + diag, b["Diagnostic-Code"],
              "Diagnostic-Code")
        if b["Last-Attempt-Date"] is None:
            raise AssertionError("no Last-Attempt-Date")
    # the original, byte for byte, between its part header and the
    # closing boundary (whose line break belongs to the boundary)
    ctype = "text/rfc822-headers" if headers_only else "message/rfc822"
    raw = rest.split(b"\nContent-Type: %s\n\n" % ctype.encode(), 1)[1]
    close = b"\n--%s/%s--\n" % (nqid.encode(), HOST.encode())
    if not raw.endswith(close):
        raise AssertionError("notice does not end with its boundary: %r"
                             % raw[-100:])
    want = orig.split(b"\n\n", 1)[0] + b"\n" if headers_only else orig
    eq(raw[:-len(close)], want, "the original in the notice")
    return text, msg


# --- aliases ---------------------------------------------------------------

def test_list(ctx):
    qid, q = submit(ctx, ["staff"], BODY % b"staff", sender=addr("bob"))
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq(sorted(got), ["alice", "samt"], "who got mail for staff")
    for u in ("alice", "samt"):
        eq(len(got[u]), 1, "copies for " + u)
        delivered_as(got[u][0], addr("bob"), q)
    log_has(ctx, "%s: to=<%s>, orig_to=<%s>, delay=" % (
        qid, addr("alice"), addr("staff")))
    queue_empty(ctx)


def test_duplicates(ctx):
    """samt reached four ways, alice two: one copy each."""
    qid, q = submit(ctx, ["samt", "staff", "Samt", "samt+dup",
                          "staff+news"], BODY % b"dups")
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"samt": 1, "alice": 1},
       "copies delivered")
    delivered_as(got["samt"][0], addr("samt"), q)
    delivered_as(got["alice"][0], addr("samt"), q)
    queue_empty(ctx)


def test_detail(ctx):
    qid, q = submit(ctx, ["samt+lists", "alice+x+y@mail.example.com"],
                    BODY % b"detail")
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"samt": 1, "alice": 1},
       "user+detail delivered to user")
    delivered_as(got["samt"][0], addr("samt"), q)
    log_has(ctx, "%s: to=<%s>, delay=" % (qid, addr("samt+lists")))
    queue_empty(ctx)


def test_loop(ctx):
    qid, q = submit(ctx, ["a"], BODY % b"loop", sender=addr("carol"))
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"carol": 1},
       "only the bounce is delivered")
    text, _ = check_notice(got["carol"][0], addr("carol"), "failed",
                           [(addr("a"), "5.4.6", "Alias loop$")], qid, q)
    match(r"\n<%s>\n    \(5\.4\.6 Alias loop\)\n" % re.escape(addr("a")),
          text, "bounce text")
    log_has(ctx, "%s: to=<%s>, delay=00:00:0" % (qid, addr("a")))
    log_has(ctx, "dsn=5.4.6, stat=Alias loop")
    queue_empty(ctx)


def test_include(ctx):
    qid, q = submit(ctx, ["incl"], BODY % b"include")
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"alice": 1, "bob": 1},
       ":include: (a comma list) delivered")
    delivered_as(got["bob"][0], addr("samt"), q)
    queue_empty(ctx)


def test_include_lines(ctx):
    """:include: lists are usually one address a line (sendmail reads
    them line by line)."""
    qid, q = submit(ctx, ["incl-lines"], BODY % b"include lines")
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    try:
        eq({u: len(v) for u, v in got.items()}, {"alice": 1, "bob": 1},
           ":include: (one address a line) delivered")
    finally:
        T.drop_queue(ctx.inst)                  # nothing left behind
    queue_empty(ctx)


def test_program(ctx):
    out = os.path.join(ctx.inst.dir, "out", "prog.out")
    qid, q = submit(ctx, ["prog"], BODY % b"program", sender=addr("bob"))
    before = snapshot(ctx)
    run_queue(ctx)
    eq(new_mail(ctx, before), {}, "mailboxes after a program delivery")
    with open(out, "rb") as f:
        data = f.read()
    head, _, rest = data.partition(b"\n")
    eq(head.decode(), "uid=%d gid=%d SENDER=%s RECIPIENT=%s" % (
        NOBODY.pw_uid, NOBODY.pw_gid, addr("bob"), addr("prog")),
        "program's uid, gid and environment")
    fl, _, rest = rest.partition(b"\n")
    match(r"^From %s %s$" % (re.escape(addr("bob")), T.CTIME_RE),
          fl.decode(), "program input's From_ line")
    eq(rest, b"Return-Path: <%s>\n" % addr("bob").encode() + q,
       "program input (not quoted)")
    st = os.stat(out)
    eq(st.st_uid, NOBODY.pw_uid, "owner of what the program wrote")
    log_has(ctx, "%s: to=\"|%s/bin/prog.sh\", orig_to=<%s>, delay=" % (
        qid, ctx.inst.dir, addr("prog")))
    log_has(ctx, "mailer=prog, stat=Sent")
    queue_empty(ctx)


def test_file(ctx):
    path = os.path.join(ctx.inst.dir, "files", "filed.mbox")
    qs = []
    for i in range(2):
        qid, q = submit(ctx, ["filed"], BODY % (b"file %d" % i),
                        sender=addr("alice"))
        run_queue(ctx)
        qs.append(q)
    with open(path, "rb") as f:
        msgs = T.split_mbox(f.read())
    eq(len(msgs), 2, "messages appended to the file")
    for m, q in zip(msgs, qs):
        delivered_as(m, addr("alice"), q)
    st = os.stat(path)
    eq((st.st_uid, oct(st.st_mode & 0o777)), (NOBODY.pw_uid, oct(0o600)),
       "file owner and mode (created by nobody)")
    log_has(ctx, "%s: to=%s, orig_to=<%s>, delay=" % (qid, path,
                                                       addr("filed")))
    queue_empty(ctx)


def write_forward(ctx, user, text, mode=0o644, uid=None):
    p = os.path.join(ctx.inst.homes[user], ".forward")
    with open(p, "w") as f:
        f.write(text)
    os.chown(p, ctx.inst.uids[user] if uid is None else uid,
             ctx.inst.uids[user])
    os.chmod(p, mode)
    return p


def test_forward(ctx):
    fb = write_forward(ctx, "bob", "alice\n")
    fc = write_forward(ctx, "carol", "\\carol, samt\n")
    try:
        qid, q = submit(ctx, ["bob", "carol"], BODY % b"forward",
                        sender=addr("alice"))
        before = snapshot(ctx)
        run_queue(ctx)
        got = new_mail(ctx, before)
        eq({u: len(v) for u, v in got.items()},
           {"alice": 1, "carol": 1, "samt": 1}, "forwarded copies")
        for u in got:
            delivered_as(got[u][0], addr("alice"), q)
        log_has(ctx, "%s: to=<%s>, orig_to=<%s>, delay=" % (
            qid, addr("alice"), addr("bob")))
        queue_empty(ctx)
        # a .forward others may write is not obeyed
        os.chmod(fb, 0o666)
        qid, q = submit(ctx, ["bob"], BODY % b"unsafe forward")
        before = snapshot(ctx)
        run_queue(ctx)
        eq({u: len(v) for u, v in new_mail(ctx, before).items()},
           {"bob": 1}, "a world-writable .forward is ignored")
        queue_empty(ctx)
    finally:
        os.unlink(fb)
        os.unlink(fc)


def test_forward_lines(ctx):
    """A .forward with one address a line, the common way to write it."""
    fb = write_forward(ctx, "bob", "alice\ncarol\n")
    try:
        qid, q = submit(ctx, ["bob"], BODY % b"forward lines")
        before = snapshot(ctx)
        run_queue(ctx)
        got = new_mail(ctx, before)
        eq({u: len(v) for u, v in got.items()}, {"alice": 1, "carol": 1},
           ".forward with two lines")
    finally:
        os.unlink(fb)
        T.drop_queue(ctx.inst)
    queue_empty(ctx)


def test_forward_program(ctx):
    """A program in a user's .forward runs as that user."""
    out = os.path.join(ctx.inst.homes["carol"], "got")
    fc = write_forward(ctx, "carol", '"|cat > %s; id -u >> %s"\n'
                       % (out, out))
    try:
        qid, q = submit(ctx, ["carol"], BODY % b"forward program")
        before = snapshot(ctx)
        run_queue(ctx)
        eq(new_mail(ctx, before), {}, "mailboxes")
        with open(out, "rb") as f:
            data = f.read()
        fl, _, rest = data.partition(b"\n")
        match(r"^From %s %s$" % (re.escape(addr("samt")), T.CTIME_RE),
              fl.decode(), "From_ line")
        eq(rest, b"Return-Path: <%s>\n" % addr("samt").encode() + q +
           b"%d\n" % ctx.inst.uids["carol"], "program input and uid")
        queue_empty(ctx)
    finally:
        os.unlink(fc)


# --- bounces ----------------------------------------------------------------

def test_unknown_user(ctx):
    qid, q = submit(ctx, ["nosuch", "samt"], BODY % b"unknown",
                    sender=addr("bob"))
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"samt": 1, "bob": 1},
       "delivery and bounce")
    delivered_as(got["samt"][0], addr("bob"), q)
    text, msg = check_notice(got["bob"][0], addr("bob"), "failed",
                             [(addr("nosuch"), "5.1.1", "User unknown$")],
                             qid, q)
    eq(msg["Subject"], "Returned mail: see transcript for details",
       "bounce Subject:")
    match(r"\n   ----- The following addresses had permanent fatal errors "
          r"-----\n<%s>\n    \(5\.1\.1 User unknown\)\n"
          % re.escape(addr("nosuch")), text, "bounce text")
    log_has(ctx, "%s: to=<%s>, delay=00:00:00, mailer=local, dsn=5.1.1, "
            "stat=User unknown" % (qid, addr("nosuch")))
    log_has(ctx, "delivery failure notice to <%s>" % addr("bob"))
    queue_empty(ctx)


def test_double_bounce(ctx):
    """A null-sender message that fails goes to the postmaster."""
    aliases(ctx, "postmaster: alice\n")
    qid, q = submit(ctx, ["nosuch"], BODY % b"bounce of a bounce",
                    sender="<>")
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"alice": 1},
       "the double bounce reaches the postmaster")
    check_notice(got["alice"][0], "postmaster@" + HOST, "failed",
                 [(addr("nosuch"), "5.1.1", "User unknown$")], qid, q)
    queue_empty(ctx)


def test_failing_double_bounce(ctx):
    """...and if that fails too, it is only logged: nothing loops."""
    aliases(ctx, "postmaster: nosuchpm\n")
    qid, q = submit(ctx, ["nosuch"], BODY % b"lost", sender="<>")
    before = snapshot(ctx)
    ok_run(ctx.inst.qrun(), "qrun")
    eq(new_mail(ctx, before), {}, "mail delivered")
    notice = match(r"%s: (%s): delivery failure notice to <postmaster@%s>"
                   % (qid, T.QID_RE, re.escape(HOST)), ctx.inst.log_text(),
                   "double bounce log line").group(1)
    log_has(ctx, "%s: to=<%s>, delay=00:00:00, mailer=local, dsn=5.1.1, "
            "stat=User unknown" % (notice, addr("nosuchpm")))
    log_has(ctx, "%s: a notice about a notice is not sent" % notice)
    eq(ctx.inst.log_text().count("notice to <"), 1 +
       ctx.notices.get("before", 0), "notices queued")
    queue_empty(ctx)
    aliases(ctx)


def test_program_tempfail(ctx):
    """Exit 75 (EX_TEMPFAIL): deferred, still queued, mailq says why."""
    qid, q = submit(ctx, ["slow"], BODY % b"slow")
    before = snapshot(ctx)
    run_queue(ctx)
    eq(new_mail(ctx, before), {}, "mail after a deferral")
    eq(ctx.inst.queue_files(), [qid], "queue")
    env, size = T.queue_envelope(ctx.inst, qid)
    arrival = int(T.envelope_values(env, "arrival")[0])
    eq(ctx.inst.qsend(["-bp"]).stdout,
       "\t\t%s/queue (1 request)\n" % ctx.inst.spool + MAILQ_HEAD +
       "%-15s %8d %s %s\n" % (qid, size, time.strftime(
           "%a %b %d %H:%M", time.localtime(arrival)), addr("samt")) +
       "                 (program asked to try again: mailbox busy)\n" +
       " " * 41 + addr("slow") + "\n", "qsend -bp")
    log_has(ctx, "%s: to=\"|%s/bin/tempfail.sh\", delay=00:00:0" % (
        qid, ctx.inst.dir))
    log_has(ctx, "mailer=prog, stat=Deferred: 4.3.0 program asked to try "
            "again: mailbox busy")
    ctx.tempfail = (qid, q, arrival)


def wait_age(arrival, secs):
    """Sleeps until time(NULL) - arrival >= secs."""
    while int(time.time()) - arrival < secs:
        time.sleep(0.05)


def test_delay_warning(ctx):
    """queuewarn 1s: the next run sends one warning, later runs none."""
    qid, q, arrival = ctx.tempfail
    ctx.inst.write_conf("queuewarn 1s\n")
    wait_age(arrival, 1)
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"samt": 1}, "warnings")
    text, msg = check_notice(
        got["samt"][0], addr("samt"), "delayed",
        [(addr("slow"), "4.3.0", "program asked to try again: "
          "mailbox busy$")], qid, q, headers_only=True)
    match(r"^Warning: could not send message for past ", msg["Subject"],
          "warning Subject:")
    match(r"\n   ----- Delivery to these addresses is delayed; still trying "
          r"-----\n", text, "warning text")
    ctx.notices["warning"] = msg["Subject"]
    for i in range(2):
        run_queue(ctx)
    eq({u: len(v) for u, v in new_mail(ctx, before).items()}, {"samt": 1},
       "mail after two more runs (still one warning)")
    eq(ctx.inst.queue_files(), [qid], "queue")


def test_queuereturn(ctx):
    """queuereturn 2s: the next run gives up and bounces; queue empty."""
    qid, q, arrival = ctx.tempfail
    ctx.inst.write_conf("queuewarn 1s\nqueuereturn 2s\n")
    wait_age(arrival, 2)
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"samt": 1}, "bounces")
    text, msg = check_notice(
        got["samt"][0], addr("samt"), "failed",
        [(addr("slow"), "4.4.7", "Could not deliver .*program asked to try "
          "again: mailbox busy$")], qid, q)
    ctx.notices["return"] = msg.get_payload()[1].get_payload()[1][
        "Diagnostic-Code"]
    log_has(ctx, "%s: to=\"|%s/bin/tempfail.sh\", delay=00:00:0" % (
        qid, ctx.inst.dir))
    log_has(ctx, "mailer=prog, dsn=4.4.7, stat=Could not deliver")
    queue_empty(ctx)
    ctx.inst.write_conf("")


def test_notice_durations(ctx):
    """The warning and the bounce name the configured times, not "0
    hours" and "0 days" when those are shorter than an hour or a day."""
    unit = r"[1-9][0-9]* (second|minute|hour|day|week)s?\b"
    bad = []
    for pattern, got, what in (
            (r"^Warning: could not send message for past " + unit,
             ctx.notices.get("warning", ""),
             "warning Subject: (queuewarn 1s)"),
            (r"Could not deliver for " + unit, ctx.notices.get("return", ""),
             "bounce Diagnostic-Code (queuereturn 2s)")):
        if not re.search(pattern, got):
            bad.append("%s: %r" % (what, got))
    if bad:
        raise AssertionError("; ".join(bad))


def test_program_fails(ctx):
    """Another exit status: a bounce carrying the program's output."""
    qid, q = submit(ctx, ["broken"], BODY % b"broken", sender=addr("bob"))
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"bob": 1}, "bounces")
    text, _ = check_notice(
        got["bob"][0], addr("bob"), "failed",
        [(addr("broken"), "5.3.0",
          "program exited with status 3: no such mailbox")], qid, q)
    match(r"\(5\.3\.0 program exited with status 3: no such mailbox",
          text, "bounce text")
    log_has(ctx, "mailer=prog, dsn=5.3.0, stat=program exited with status "
            "3: no such mailbox")
    queue_empty(ctx)


def test_alias_to_unknown(ctx):
    qid, q = submit(ctx, ["ghost"], BODY % b"ghost", sender=addr("alice"))
    before = snapshot(ctx)
    run_queue(ctx)
    got = new_mail(ctx, before)
    eq({u: len(v) for u, v in got.items()}, {"alice": 1}, "bounces")
    check_notice(got["alice"][0], addr("alice"), "failed",
                 [(addr("nosuchuser"), "5.1.1", "User unknown$")], qid, q)
    queue_empty(ctx)


# ---------------------------------------------------------------------------

TESTS = [
    ("list alias (staff: samt, alice)", test_list),
    ("duplicates suppressed", test_duplicates),
    ("user+detail", test_detail),
    ("alias loop bounces", test_loop),
    (":include: file", test_include),
    (":include: file, one address a line", test_include_lines),
    ("|program as nobody, SENDER and RECIPIENT", test_program),
    ("/file delivery (mbox format)", test_file),
    ("~/.forward (forward, \\user copy, unsafe file)", test_forward),
    ("~/.forward, one address a line", test_forward_lines),
    ("~/.forward |program runs as the user", test_forward_program),
    ("unknown user: RFC 3464 bounce", test_unknown_user),
    ("alias to an unknown user bounces", test_alias_to_unknown),
    ("failing bounce goes to postmaster", test_double_bounce),
    ("failing double bounce is only logged", test_failing_double_bounce),
    ("program exit 75: deferred, mailq says why", test_program_tempfail),
    ("queuewarn: one delay warning", test_delay_warning),
    ("queuereturn: bounce, queue empty", test_queuereturn),
    ("notice wording for short queuewarn/queuereturn",
     test_notice_durations),
    ("program exit 3: bounce with its output", test_program_fails),
]


def main():
    T.require_delivery_users()
    t0 = time.time()
    inst = T.DeliveryInstance(users=USERS)
    failed = []
    try:
        T.prepare_spool(inst)
        ctx = Ctx(inst)
        setup_files(inst)
        aliases(ctx)
        failed.extend(T.run_cases(TESTS, ctx, before=lambda c: c.notices.
                                  __setitem__("before", inst.log_text().count(
                                      "notice to <"))))
        if failed:
            print("--- maillog ---\n" + inst.log_text()[-8000:])
    finally:
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS),
                                       time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
