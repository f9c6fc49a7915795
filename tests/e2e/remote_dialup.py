#!/usr/bin/env python3
"""End-to-end: the guide's dial-up host, with remote peers on loopback.

A real openbsd-inetd serves qsmtpd and `qrun -t` (the trigger); the smart
host is Postfix's smtp-sink on a 127.0.0.1 high port ("smarthost
[127.0.0.1]:PORT", the guide's SMART_HOST).  Cases:

  - the dial-up day: expensive yes + hold_expensive yes.  One qsend to a
    local and a remote recipient: the local one lands at once; the remote
    one waits, `qsend -bp` lists it with the reason, and smtp-sink sees no
    connection; `qsend -q` sends it; smtp-sink's copy is byte-exact.  The
    same through SMTP (qsmtpd under inetd).
  - `qsend -v` to a remote recipient with the hold on: delivered at once,
    with the SMTP conversation shown as sendmail -v shows it.
  - hold_expensive no: remote mail goes at once.
  - one connection carries all remote recipients of a message, and one
    queue run's messages share connections.
  - a 5xx from the peer: one RFC 3464 bounce to the sender, carrying the
    peer's reply as Diagnostic-Code; the message leaves the queue.
  - a persistent 4xx with small queuewarn/queuereturn: one warning, then
    one bounce, then the queue is empty.
  - the smart host down (connection refused, then a peer that never
    greets): deferred with the reason, retried on the next run, and
    HoldExpensive held only the first attempt (a plain queue run respects
    the back-off); once the peer is up, delivered, nothing lost.  The
    SMTP client's socket belongs to the spool user, not root.
  - DSN: NOTIFY=SUCCESS receipts (delivered, relayed), the parameters
    passed on to a peer with DSN, NOTIFY=NEVER.

Needs root, /usr/sbin/inetd and smtp-sink (Debian's postfix package).
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import pwd
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
eq = T.eq
ok_run = T.ok_run


class Ctx:
    def __init__(self, inst, smtp_port, sink_port):
        self.inst = inst
        self.smtp_port = smtp_port
        self.sink_port = sink_port
        self.sink = None
        self.base = ("trigger %s/trigger\nsmarthost [127.0.0.1]:%d\n"
                     "retry_min 1h\nsmtp_timeout 2s\n"
                     "smtp_connect_timeout 2s\n" % (inst.spool, sink_port))

    def conf(self, extra=""):
        self.inst.write_conf(self.base + extra)

    def new_sink(self, args=()):
        if self.sink is not None:
            self.sink.stop()
        self.sink = T.Sink(self.inst.dir, self.sink_port, args,
                           name="sink%d" % time.monotonic_ns())
        return self.sink


def wait_log(inst, pattern, timeout=5):
    """Waits until the maillog matches pattern (a trigger's run is done)."""
    deadline = time.time() + timeout
    while not re.search(pattern, inst.log_text()):
        assert time.time() < deadline, "no log line %r in:\n%s" % (
            pattern, inst.log_text()[-3000:])
        time.sleep(0.02)


def held(inst, qid):
    wait_log(inst, r"%s: to=<[^>]*>, mailer=esmtp, stat=queued" % qid)


def queued(inst, before):
    return sorted(set(inst.queue_files()) - set(before))


def full_message(inst, qid):
    return inst.read_queue(qid)[1]


def wait_queue_empty(inst, timeout=5):
    deadline = time.time() + timeout
    while inst.queue_files() and time.time() < deadline:
        time.sleep(0.02)
    eq(inst.queue_files(), [], "queue")


def mailq_reason(inst, qid):
    out = ok_run(inst.qsend(["-bp"]), "qsend -bp").stdout
    m = re.search(r"^%s .*\n +\((.*)\)\n" % qid, out, re.M)
    assert m, "no reason for %s in:\n%s" % (qid, out)
    return m.group(1), out


def test_dialup_day(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\n")
    sink = ctx.new_sink()
    before = inst.queue_files()
    n_local = len(inst.messages("samt"))
    msg = b"Subject: dial-up\n\nlocal now, remote at the queue run\n"
    ok_run(inst.qsend(["-f", "alice@" + HOST, "samt",
                       "friend@externalserver.com"], msg), "qsend")
    qid, = queued(inst, before)
    got = inst.wait_messages("samt", n_local + 1)
    eq(len(got), n_local + 1, "local recipient delivered at once")
    time.sleep(0.3)
    eq(inst.queue_files(), before + [qid], "remote recipient still queued")
    held(inst, qid)
    reason, out = mailq_reason(inst, qid)
    eq(reason, "expensive mailer: held for the next queue run "
       "(hold_expensive)", "qsend -bp reason")
    eq(out.rstrip("\n").split("\n")[-1].strip(), "friend@externalserver.com",
       "qsend -bp lists only the remote recipient")
    eq(sink.connections(), 0, "smtp-sink connections before the queue run")
    eq(sink.messages(), [], "smtp-sink messages before the queue run")
    want = full_message(inst, qid)
    ok_run(inst.qsend(["-q"]), "qsend -q")
    wait_queue_empty(inst)
    (env, body), = sink.messages(wait=2, n=1)
    eq(body, want, "smtp-sink's copy, byte for byte")
    eq(env["X-Mail-Args"], ["<alice@%s>" % HOST], "MAIL FROM")
    eq(env["X-Rcpt-Args"], ["<friend@externalserver.com>"], "RCPT TO")
    eq(sink.connections(), 1, "connections for one message")
    T.match_search(r"%s: to=<friend@externalserver\.com>, "
                   r"delay=[0-9:]+, mailer=esmtp, relay=127\.0\.0\.1"
                   r"\[127\.0\.0\.1\], stat=Sent \(250 2\.0\.0 Ok\)" % qid, inst.log_text(),
                   "the log line")


def test_dialup_smtp(ctx):
    """The same hold for mail that arrives by SMTP."""
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\n")
    sink = ctx.new_sink()
    before = inst.queue_files()
    n_local = len(inst.messages("bob"))
    c = T.connect(ctx.smtp_port)
    eq(c.reply()[:3], "220", "greeting")
    for cmd, code in (("EHLO client.example", 250),
                      ("MAIL FROM:<carol@%s>" % HOST, 250),
                      ("RCPT TO:<bob@%s>" % HOST, 250),
                      ("RCPT TO:<pal@externalserver.com>", 250),
                      ("DATA", 354)):
        eq(c.cmd(cmd)[:3], str(code), cmd)
    c.send(b"Subject: by smtp\r\n\r\nhello\r\n.\r\n")
    eq(c.reply()[:3], "250", "end of data")
    c.cmd("QUIT")
    got = inst.wait_messages("bob", n_local + 1)
    eq(len(got), n_local + 1, "local recipient delivered at once")
    qid, = queued(inst, before)
    held(inst, qid)
    eq(sink.connections(), 0, "no connection while held")
    want = full_message(inst, qid)
    ok_run(inst.qrun(), "qrun")
    wait_queue_empty(inst)
    (env, body), = sink.messages(wait=2, n=1)
    eq(body, want, "smtp-sink's copy")
    eq(env["X-Rcpt-Args"], ["<pal@externalserver.com>"], "RCPT TO")


def test_verbose_cancels_hold(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\n")
    sink = ctx.new_sink()
    before = inst.queue_files()
    r = ok_run(inst.qsend(["-v", "-f", "alice@" + HOST,
                           "user-id@remotehost.com"], b"hi\n"), "qsend -v")
    eq(queued(inst, before), [], "queue after qsend -v")
    lines = r.stdout.split("\n")
    want = [r"Connecting to 127\.0\.0\.1\[127\.0\.0\.1\] port %d via "
            r"esmtp\.\.\." % ctx.sink_port,
            r"220 .*",
            r">>> EHLO %s" % re.escape(HOST),
            r"250-.*",
            r">>> MAIL From:<alice@%s>" % re.escape(HOST),
            r">>> RCPT To:<user-id@remotehost\.com>",
            r">>> DATA",
            r"250 2\.1\.0 Ok", r"250 2\.1\.5 Ok", r"354 .*", r">>> \.",
            r"250 2\.0\.0 Ok",
            r"user-id@remotehost\.com\.\.\. Sent \(250 2\.0\.0 Ok\)",
            r"Closing connection to 127\.0\.0\.1\[127\.0\.0\.1\]",
            r">>> QUIT", r"221 .*", r""]
    pos = 0
    for pat in want:
        while pos < len(lines) and not re.fullmatch(pat, lines[pos]):
            pos += 1
        assert pos < len(lines), "qsend -v: no line %r after the earlier " \
            "ones in:\n%s" % (pat, r.stdout)
        pos += 1
    eq(len(sink.messages(wait=2, n=1)), 1, "smtp-sink got it")


def test_no_hold(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive no\n")
    sink = ctx.new_sink()
    before = inst.queue_files()
    ok_run(inst.qsend(["a@remote.example", "b@remote.example",
                       "c@other.example"], b"Subject: now\n\nx\n"), "qsend")
    msgs = sink.messages(wait=3, n=1)
    wait_queue_empty(inst)
    eq(len(msgs), 1, "one transaction for three remote recipients "
       "(one smart host)")
    eq(sorted(msgs[0][0]["X-Rcpt-Args"]), ["<a@remote.example>",
       "<b@remote.example>", "<c@other.example>"], "recipients")
    eq(sink.connections(), 1, "connections")
    eq(queued(inst, before), [], "queue")


def test_reuse(ctx):
    """Ten queued messages, one queue run: one connection carries them."""
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\nqueue_workers 1\n")
    sink = ctx.new_sink()
    for i in range(10):
        ok_run(inst.qsend(["r%d@remote.example" % i], b"n %d\n" % i),
               "qsend %d" % i)
    eq(len(inst.queue_files()), 10, "held")
    for qid in inst.queue_files():
        held(inst, qid)
    ok_run(inst.qrun(), "qrun")
    wait_queue_empty(inst)
    eq(len(sink.messages(wait=2, n=10)), 10, "messages")
    eq(sink.connections(), 1, "connections for 10 messages")


def notices(inst, user, n_before):
    msgs = inst.wait_messages(user, n_before + 1)
    return msgs[n_before:]


def test_bounce_5xx(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive no\n")
    ctx.new_sink(["-f", "RCPT", "-B", "550 5.1.1 No such user here"])
    n0 = len(inst.messages("alice"))
    ok_run(inst.qsend(["-f", "alice@" + HOST, "nobody@remote.example"],
                      b"Subject: doomed\n\nbody\n"), "qsend")
    wait_queue_empty(inst)
    time.sleep(0.2)
    new = inst.messages("alice")[n0:]
    eq(len(new), 1, "bounces to the sender")
    text = new[0].text.decode("utf-8", "replace")
    T.match_search(r"\nAction: failed\n", text, "Action")
    T.match_search(r"\nStatus: 5\.1\.1\n", text, "Status")
    T.match_search(r"\nRemote-MTA: dns; 127\.0\.0\.1\n", text, "Remote-MTA")
    T.match_search(r"\nDiagnostic-Code: smtp; 550 5\.1\.1 No such "
                   r"user here\n", text, "Diagnostic-Code")
    T.match_search(r"Subject: doomed\n\nbody\n", text, "the original")


def test_warn_then_bounce(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\nqueuewarn 2s\n"
             "queuereturn 5s\n")
    ctx.new_sink(["-r", "RCPT", "-b", "450 4.2.1 Mailbox busy, try later"])
    n0 = len(inst.messages("alice"))
    before = inst.queue_files()
    ok_run(inst.qsend(["-f", "alice@" + HOST, "busy@remote.example"],
                      b"Subject: patience\n\nbody\n"), "qsend")
    qid, = queued(inst, before)
    held(inst, qid)
    ok_run(inst.qrun(), "first queue run")
    reason, _ = mailq_reason(inst, qid)
    eq(reason, "host 127.0.0.1[127.0.0.1] said: 450 4.2.1 Mailbox busy, "
       "try later (in reply to RCPT TO)", "reason after a 4xx")
    eq(inst.messages("alice")[n0:], [], "no notice yet")
    time.sleep(2.2)
    ok_run(inst.qrun(["-I", qid]), "queue run after queuewarn")
    ok_run(inst.qrun(["-I", qid]), "another queue run")
    new = inst.messages("alice")[n0:]
    eq(len(new), 1, "exactly one delay warning")
    text = new[0].text.decode("utf-8", "replace")
    T.match_search(r"\nAction: delayed\n", text, "warning Action")
    T.match_search(r"\nDiagnostic-Code: smtp; 450 4\.2\.1 Mailbox "
                   r"busy, try later\n", text, "warning Diagnostic-Code")
    eq(inst.queue_files(), before + [qid], "still queued after the warning")
    time.sleep(max(0, 5.2 - 2.2))
    ok_run(inst.qrun(["-I", qid]), "queue run after queuereturn")
    wait_queue_empty(inst)
    new = inst.messages("alice")[n0:]
    eq(len(new), 2, "a warning, then exactly one bounce")
    text = new[1].text.decode("utf-8", "replace")
    T.match_search(r"\nAction: failed\n", text, "bounce Action")
    T.match_search(r"450 4\.2\.1 Mailbox busy, try later", text,
                   "bounce carries the last reply")
    ok_run(inst.qrun(), "a last queue run")
    eq(len(inst.messages("alice")[n0:]), 2, "nothing more")


def smtp_send(ctx, sender, rcpts, mail_params="", body=b"Subject: dsn\r\n"
              b"\r\nbody\r\n"):
    """One SMTP transaction through qsmtpd; rcpts: (address, params)."""
    c = T.connect(ctx.smtp_port)
    eq(c.reply()[:3], "220", "greeting")
    eq(c.cmd("EHLO client.example")[:3], "250", "EHLO")
    eq(c.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))[:3], "250", "MAIL")
    for a, p in rcpts:
        eq(c.cmd("RCPT TO:<%s>%s" % (a, p))[:3], "250", "RCPT " + a)
    eq(c.cmd("DATA")[:3], "354", "DATA")
    c.send(body + b".\r\n")
    eq(c.reply()[:3], "250", "end of data")
    c.cmd("QUIT")


def test_dsn(ctx):
    """NOTIFY=SUCCESS: a receipt for a local delivery ("delivered") and for
    a peer without DSN ("relayed"); a DSN peer gets the parameters passed
    on and we send nothing; NOTIFY=NEVER: no bounce."""
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive no\n")
    sink = ctx.new_sink(["-N"])           # no DSN
    n0 = len(inst.messages("alice"))
    smtp_send(ctx, "alice@" + HOST, [
        ("bob@" + HOST, " NOTIFY=SUCCESS"),
        ("far@plain.example", " NOTIFY=SUCCESS,FAILURE")],
        " RET=HDRS ENVID=env-42")
    sink.messages(wait=3, n=1)
    wait_queue_empty(inst)
    new = inst.wait_messages("alice", n0 + 2, timeout=5)[n0:]
    eq(len(new), 2, "two receipts (relayed, delivered)")
    texts = sorted(m.text.decode("utf-8", "replace") for m in new)
    acts = sorted(re.search(r"\nAction: (\w+)\n", t).group(1)
                  for t in texts)
    eq(acts, ["delivered", "relayed"], "the actions")
    for t in texts:
        T.match_search(r"\nSubject: Return receipt\n", t, "subject")
        T.match_search(r"\nStatus: 2\.0\.0\n", t, "status")
        T.match_search(r"\nOriginal-Envelope-Id: env-42\n", t, "ENVID")
        T.match_search(r"Content-Type: text/rfc822-headers\n", t,
                       "headers only")
    # a peer with DSN: the parameters travel, no receipt from us
    sink = ctx.new_sink()
    n1 = len(inst.messages("alice"))
    smtp_send(ctx, "alice@" + HOST, [
        ("far@plain.example", " NOTIFY=SUCCESS ORCPT=rfc822;far@plain.example")],
        " RET=FULL ENVID=env-43")
    (env, _), = sink.messages(wait=3, n=1)
    wait_queue_empty(inst)
    eq(env["X-Mail-Args"], ["<alice@%s> RET=FULL ENVID=env-43" % HOST],
       "MAIL parameters passed on")
    eq(env["X-Rcpt-Args"], ["<far@plain.example> NOTIFY=SUCCESS "
                            "ORCPT=rfc822;far@plain.example"],
       "RCPT parameters passed on")
    time.sleep(0.3)
    eq(len(inst.messages("alice")), n1, "no receipt from us")
    # NOTIFY=NEVER: a 5xx makes no bounce
    sink = ctx.new_sink(["-f", "RCPT"])
    smtp_send(ctx, "alice@" + HOST, [("gone@plain.example",
                                      " NOTIFY=NEVER")])
    wait_queue_empty(inst)
    time.sleep(0.3)
    eq(len(inst.messages("alice")), n1, "no bounce with NOTIFY=NEVER")


class Mute:
    """A peer that accepts connections and never says a word."""

    def __init__(self, port):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        self.conns = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            self.conns.append(c)

    def stop(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)   # wakes accept()
        except OSError:
            pass
        self.s.close()
        self.t.join(5)
        for c in self.conns:
            c.close()


def socket_uid(port):
    """The uid owning the local TCP socket bound to 127.0.0.1:port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "0100007F:%04X" % port:
                return int(fields[7])
    raise AssertionError("no socket on port %d" % port)


def test_smarthost_down(ctx):
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\n")
    if ctx.sink is not None:
        ctx.sink.stop()
        ctx.sink = None
    before = inst.queue_files()
    ok_run(inst.qsend(["-f", "alice@" + HOST, "far@remote.example"],
                      b"Subject: offline\n\nwait for me\n"), "qsend")
    qid, = queued(inst, before)
    held(inst, qid)
    want = full_message(inst, qid)
    ok_run(inst.qrun(), "queue run, refused")
    reason, _ = mailq_reason(inst, qid)
    eq(reason, "connect to 127.0.0.1[127.0.0.1]: Connection refused",
       "reason: refused")
    # the back-off holds: a plain run now does not try again
    log_len = len(inst.log_text())
    ok_run(inst.qrun(), "queue run within the back-off")
    eq(re.findall(r"%s: to=" % qid, inst.log_text()[log_len:]), [],
       "no attempt within the back-off")
    mute = Mute(ctx.sink_port)
    try:
        t0 = time.time()
        p = subprocess.Popen([inst.qrun_path, "-C", inst.conf, "-I", qid],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # the SMTP client's socket belongs to the spool user, not root
        while not mute.conns and time.time() - t0 < 5:
            time.sleep(0.01)
        assert mute.conns, "qrun did not connect"
        eq(socket_uid(mute.conns[0].getpeername()[1]),
           pwd.getpwnam(T.SPOOL_USER).pw_uid, "the SMTP client's uid")
        eq(p.wait(30), 0, "qrun exit status")
        took = time.time() - t0
        assert took < 10, "smtp_timeout 2s took %.1fs" % took
        reason, _ = mailq_reason(inst, qid)
        eq(reason, "lost connection with 127.0.0.1[127.0.0.1] while "
           "receiving the initial greeting: timed out", "reason: timeout")
    finally:
        mute.stop()
    sink = ctx.new_sink()
    ok_run(inst.qrun(["-I", qid]), "queue run, the peer is up")
    wait_queue_empty(inst)
    (env, body), = sink.messages(wait=2, n=1)
    eq(body, want, "delivered intact after the failures")


def test_dead_once(ctx):
    """A smart host that does not answer costs one round of timeouts a
    run, not one a message: three messages, one connection, one wait."""
    inst = ctx.inst
    ctx.conf("expensive yes\nhold_expensive yes\nqueue_workers 1\n")
    if ctx.sink is not None:
        ctx.sink.stop()
        ctx.sink = None
    before = inst.queue_files()
    for i in range(3):
        ok_run(inst.qsend(["-odq", "-f", "alice@" + HOST,
                           "d%d@remote.example" % i], b"dead %d\n" % i),
               "qsend %d" % i)
    qids = queued(inst, before)
    eq(len(qids), 3, "queued")
    mute = Mute(ctx.sink_port)
    try:
        t0 = time.time()
        ok_run(inst.qrun(), "queue run, a mute peer")
        took = time.time() - t0
        eq(len(mute.conns), 1, "connections to the dead smart host")
        assert took < 5, "three messages took %.1fs (smtp_timeout 2s)" % took
    finally:
        mute.stop()
    for qid in qids:
        reason, _ = mailq_reason(inst, qid)
        eq(reason, "lost connection with 127.0.0.1[127.0.0.1] while "
           "receiving the initial greeting: timed out", "reason of " + qid)
    sink = ctx.new_sink()
    ok_run(inst.qrun(["-R", "remote.example"]),
           "a forced run once it is up")
    eq(len(sink.messages(wait=3, n=3)), 3, "all three delivered")
    eq([q for q in qids if q in inst.queue_files()], [], "queue")


TESTS = [
    ("the dial-up day: local now, remote at the queue run", test_dialup_day),
    ("the dial-up day by SMTP", test_dialup_smtp),
    ("qsend -v cancels the hold and shows the conversation",
     test_verbose_cancels_hold),
    ("hold_expensive no: remote at once, one transaction", test_no_hold),
    ("one connection for a queue run's messages", test_reuse),
    ("5xx: one bounce with the peer's reply", test_bounce_5xx),
    ("persistent 4xx: one warning, one bounce", test_warn_then_bounce),
    ("smart host down: deferred, retried, delivered", test_smarthost_down),
    ("DSN: receipts, parameters passed on, NOTIFY=NEVER", test_dsn),
    ("a dead smart host: one wait a run, not one a message",
     test_dead_once),
]


def main():
    T.require_delivery_users()
    T.require_tool(T.INETD)
    T.require_tool(T.SMTP_SINK)
    inst = T.DeliveryInstance()
    inetd = None
    ctx = None
    failed = []
    try:
        T.prepare_spool(inst)
        port, sink_port = T.free_port(), T.free_port()
        ctx = Ctx(inst, port, sink_port)
        ctx.conf()
        trigger = "%s/trigger" % inst.spool
        inetd = T.Inetd(inst.dir, [
            T.qsmtpd_line(port, inst),
            "%s stream unix nowait root %s qrun -t -C %s"
            % (trigger, T.QRUN, inst.conf)], [port])
        deadline = time.time() + 5
        while not os.path.exists(trigger) and time.time() < deadline:
            time.sleep(0.02)
        def report():
            print("--- maillog ---\n" + inst.log_text()[-6000:])
            print("--- inetd ---\n" + inetd.log()[-3000:])
        failed = T.run_cases(TESTS, ctx, report)
    finally:
        if ctx is not None and ctx.sink is not None:
            ctx.sink.stop()
        if inetd is not None:
            inetd.stop()
        inst.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
