#!/usr/bin/env python3
"""End-to-end: qsmtpd under a real openbsd-inetd on 127.0.0.1, driven by
a person at a terminal, python's smtplib, swaks, curl and a raw BDAT
client.  Every accepted message is checked byte for byte in the spool,
with its envelope and the Received: field qsmtpd put on top.

Needs root (inetd runs qsmtpd as root, which drops to the spool user) and
/usr/sbin/inetd; swaks and curl parts are skipped (and said so) when the
tool is missing.  Exit 0 pass, 1 fail, 77 skip.
"""
import email
import email.policy
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
MAX_SIZE = 20 * 1024 * 1024
DATE_RE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
           r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
           r"[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}")
ACCEPTED_RE = r"^250 2\.0\.0 (%s) Message accepted for delivery$" % T.QID_RE


class Ctx:
    def __init__(self, inst, port):
        self.inst = inst
        self.port = port
        self.skipped = []


eq = T.eq


match = T.match_start


def accepted(reply, what="reply to the end of data"):
    return match(ACCEPTED_RE, reply, what).group(1)


def check_queued(ctx, qid, message, sender, rcpts, helo, proto,
                 extra_env=()):
    """The queue file of qid parses, holds exactly message (LF line ends,
    as stored) after one Received: field of the right shape, and the
    envelope names sender, rcpts (in order), client, helo and proto."""
    path = os.path.join(ctx.inst.spool, "queue", qid)
    if not os.path.exists(path):
        raise AssertionError("%s: no queue file after 250" % qid)
    with open(path, "rb") as f:
        data = f.read()
    env, received, body = T.parse_queue_file(data)
    eq(T.envelope_values(env, "id"), [qid], qid + " envelope id")
    eq(T.envelope_values(env, "sender"), [sender], qid + " envelope sender")
    eq(T.envelope_values(env, "rcpt"), list(rcpts), qid + " envelope rcpts")
    eq(T.envelope_values(env, "client"), ["127.0.0.1"], qid + " client")
    eq(T.envelope_values(env, "helo"), [helo], qid + " helo")
    eq(T.envelope_values(env, "proto"), [proto], qid + " proto")
    for k, v in extra_env:
        if v is None:
            if k in [e for e, _ in env]:
                raise AssertionError("%s: unexpected envelope %s" % (qid, k))
        else:
            eq(T.envelope_values(env, k), [v], qid + " envelope " + k)
    check_received(received.decode("utf-8"), helo, proto, qid,
                   rcpts[0] if len(rcpts) == 1 else None)
    if body != message:
        raise AssertionError("%s: spooled message differs (%d vs %d bytes)"
                             "\n  got:  %r\n  want: %r" % (
                                 qid, len(body), len(message), body[:300],
                                 message[:300]))
    return env


def check_received(field, helo, proto, qid, rcpt):
    """(f) Received: from HELO ([127.0.0.1])
             by mail.example.com (inetmail) with PROTO id QID
             [for <RCPT>]; DATE"""
    want = (r"^Received: from %s \(\[127\.0\.0\.1\]\)\n"
            r"\tby %s \(inetmail\) with %s id %s" % (
                re.escape(helo), re.escape(HOST), proto, qid))
    if rcpt is not None:
        want += r"\n\tfor <%s>" % re.escape(rcpt)
    want += r"; %s\n$" % DATE_RE
    match(want, field, "Received: field of " + qid)


def hello_line(helo):
    return "%s Hello %s [127.0.0.1], pleased to meet you" % (HOST, helo)


# --- (a) the guide's session, typed by a person -----------------------------

GUIDE_BODY = [
    "Subject: This is my subject line",
    "",
    "I continue writing until I'm out of interesting things to say",
    "which is not that far away",
    "..a line I started with a dot, so I typed two",
    "",
    "samt",
]


def guide_session(ctx, typing):
    c = T.connect(ctx.port, timeout=10)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def type_line(line):
        if typing == "line":
            c.send(line + "\r\n")
        else:                           # telnet in character mode
            for ch in (line + "\r\n").encode():
                c.send(bytes([ch]))

    def say(line):
        type_line(line)
        return c.reply()

    try:
        eq(c.reply(), "220 %s ESMTP inetmail" % HOST, "greeting")
        eq(say("helo localhost"), "250 " + hello_line("localhost"), "helo")
        eq(say("mail from: samt@localhost"),
           "250 2.1.0 samt@localhost... Sender ok", "mail from")
        eq(say("rcpt to: samt@localhost"),
           "250 2.1.5 samt@localhost... Recipient ok", "rcpt to")
        eq(say("data"), '354 Enter mail, end with "." on a line by itself',
           "data")
        for line in GUIDE_BODY:
            type_line(line)
        qid = accepted(say("."))
        eq(say("quit"), "221 2.0.0 %s closing connection" % HOST, "quit")
        if not c.closed():
            raise AssertionError("connection still open after QUIT")
    finally:
        c.sock.close()
    sent = "".join(l + "\r\n" for l in GUIDE_BODY).encode()
    want = sent.replace(b"\r\n..", b"\r\n.").replace(b"\r\n", b"\n")
    check_queued(ctx, qid, want, "samt@localhost", ["samt@localhost"],
                 "localhost", "SMTP")
    if "%s: from=<samt@localhost>" % qid not in ctx.inst.log_text():
        raise AssertionError("no log line for %s:\n%s" % (
            qid, ctx.inst.log_text()))


def test_guide_lines(ctx):
    guide_session(ctx, "line")


def test_guide_chars(ctx):
    guide_session(ctx, "char")


# --- (b) python's smtplib ---------------------------------------------------

def smtp_client(ctx, helo):
    s = smtplib.SMTP("127.0.0.1", ctx.port, local_hostname=helo, timeout=10)
    return s


def test_smtplib_ehlo(ctx):
    s = smtp_client(ctx, "smtplib.example")
    try:
        code, text = s.ehlo()
        eq(code, 250, "EHLO code")
        lines = text.decode().split("\n")
        eq(lines[0], hello_line("smtplib.example"), "EHLO first line")
        eq(lines[1:], ["SIZE %d" % MAX_SIZE, "8BITMIME", "PIPELINING",
                       "ENHANCEDSTATUSCODES", "CHUNKING", "SMTPUTF8", "DSN",
                       "HELP"], "EHLO extensions")
        for ext in ("size", "8bitmime", "pipelining", "enhancedstatuscodes",
                    "chunking", "smtputf8", "dsn"):
            if not s.has_extn(ext):
                raise AssertionError("smtplib does not see " + ext)
        eq(s.esmtp_features["size"], str(MAX_SIZE), "SIZE value")
        # RFC 1870: a declared size over the limit is refused at MAIL
        eq(s.docmd("MAIL FROM:<big@example.com> SIZE=%d" % (MAX_SIZE + 1)),
           (552, b"5.3.4 Message size exceeds fixed maximum message size"),
           "MAIL with SIZE over the limit")
        eq(s.docmd("MAIL FROM:<big@example.com> SIZE=%d" % MAX_SIZE),
           (250, b"2.1.0 <big@example.com>... Sender ok"),
           "MAIL with SIZE at the limit")
        eq(s.rset(), (250, b"2.0.0 Reset state"), "RSET")
        eq(s.noop(), (250, b"2.0.0 OK"), "NOOP")
    finally:
        s.quit()


def eight_bit_message():
    latin = "Gr\u00fc\u00dfe aus K\u00f6ln".encode("latin-1")
    utf8 = "Gr\u00fc\u00dfe aus K\u00f6ln, \u65e5\u672c\u8a9e".encode()
    body = (b"From: Zo\xc3\xab <zoe@example.com>\r\n"
            b"To: samt@localhost\r\n"
            b"Subject: 8-bit\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n" + utf8 + b"\r\n" + latin + b"\r\n"
            b".a dot line (smtplib stuffs it, qsmtpd unstuffs it)\r\n"
            b"..\r\n"
            b"\x01\x7f\x80\xff all the high bytes too\r\n"
            b"\r\n"
            b"end\r\n")
    return body


def sendmail_qid(s, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    """smtplib.SMTP.sendmail that also returns the queue ID from the reply
    to the end of data (sendmail() itself throws it away)."""
    box = {}
    orig = s.data

    def data(m):
        code, text = orig(m)
        box["reply"] = "%d %s" % (code, text.decode())
        return code, text
    s.data = data
    try:
        refused = s.sendmail(sender, rcpts, msg, list(mail_options),
                             list(rcpt_options))
    finally:
        s.data = orig
    return refused, accepted(box["reply"], "smtplib DATA reply")


def test_smtplib_several_rcpts_8bit(ctx):
    msg = eight_bit_message()
    rcpts = ["samt@localhost", "alice@localhost", "staff@localhost",
             "Postmaster@localhost", "bob@remote.example",
             "nosuchuser@localhost", "samt+lists@localhost",
             "abuse@mail.example.com"]
    s = smtp_client(ctx, "smtplib.example")
    try:
        s.ehlo()
        refused, qid = sendmail_qid(
            s, "zoe@example.com", rcpts, msg,
            mail_options=["BODY=8BITMIME"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        eq(refused, {"nosuchuser@localhost": (
            550, b"5.1.1 <nosuchuser@localhost>... User unknown")},
            "refused recipients")
    finally:
        s.quit()
    good = [r for r in rcpts if r != "nosuchuser@localhost"]
    env = check_queued(ctx, qid, T.crlf_to_spool(msg), "zoe@example.com",
                       good, "smtplib.example", "ESMTP",
                       extra_env=[("body", "8BITMIME")])
    eq(T.envelope_values(env, "notify"), ["SUCCESS,FAILURE"] * len(good),
       "NOTIFY per recipient")


def test_smtplib_smtputf8(ctx):
    sender = "zo\u00eb@example.com"
    rcpt = "j\u00f6rg@m\u00fcller.example"
    msg = ("From: %s\r\nTo: %s\r\nSubject: \u00dcnicode\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "Gr\u00fc\u00dfe, \u4f60\u597d\r\n" % (sender, rcpt)).encode()
    s = smtp_client(ctx, "utf8.example")
    try:
        s.ehlo()
        refused, qid = sendmail_qid(s, sender, [rcpt], msg,
                                    mail_options=["SMTPUTF8",
                                                  "BODY=8BITMIME"])
        eq(refused, {}, "refused recipients")
    finally:
        s.quit()
    check_queued(ctx, qid, T.crlf_to_spool(msg), sender, [rcpt],
                 "utf8.example", "UTF8SMTP",
                 extra_env=[("smtputf8", ""), ("body", "8BITMIME")])
    # without SMTPUTF8 the same address is refused (RFC 6531 3.4)
    c = T.connect(ctx.port)
    try:
        c.reply()
        c.cmd("EHLO utf8.example")
        eq(c.cmd("MAIL FROM:<%s>" % sender),
           "553 5.6.7 Non-ASCII address requires SMTPUTF8",
           "UTF-8 sender without SMTPUTF8")
        eq(c.cmd("MAIL FROM:<a@example.com>"),
           "250 2.1.0 <a@example.com>... Sender ok", "ASCII sender")
        eq(c.cmd("RCPT TO:<%s>" % rcpt),
           "553 5.6.7 Non-ASCII address requires SMTPUTF8",
           "UTF-8 recipient without SMTPUTF8")
        eq(c.cmd("QUIT"), "221 2.0.0 %s closing connection" % HOST, "QUIT")
    finally:
        c.sock.close()


def test_pipelined_data(ctx):
    """RFC 2920: MAIL, RCPTs and DATA in one write; the body, the end of
    data and QUIT in another."""
    msg = (b"Subject: pipelined\r\n\r\n.one\r\n..two\r\n...\r\n"
           b"body\r\n")
    c = T.connect(ctx.port)
    try:
        c.reply()
        c.cmd("EHLO pipe.example")
        c.send("MAIL FROM:<pipe@example.com> BODY=7BIT\r\n"
               "RCPT TO:<samt@localhost>\r\n"
               "RCPT TO:<ghost@localhost>\r\n"
               "RCPT TO:<alice@localhost>\r\n"
               "RCPT TO:<carol@remote.example>\r\n"
               "DATA\r\n")
        eq([c.reply() for _ in range(6)], [
            "250 2.1.0 <pipe@example.com>... Sender ok",
            "250 2.1.5 <samt@localhost>... Recipient ok",
            "550 5.1.1 <ghost@localhost>... User unknown",
            "250 2.1.5 <alice@localhost>... Recipient ok",
            "250 2.1.5 <carol@remote.example>... Recipient ok",
            '354 Enter mail, end with "." on a line by itself'],
            "pipelined replies")
        c.send(T.dot_stuff(msg) + b".\r\nQUIT\r\n")
        qid = accepted(c.reply())
        eq(c.reply(), "221 2.0.0 %s closing connection" % HOST, "QUIT")
    finally:
        c.sock.close()
    check_queued(ctx, qid, T.crlf_to_spool(msg), "pipe@example.com",
                 ["samt@localhost", "alice@localhost",
                  "carol@remote.example"], "pipe.example", "ESMTP",
                 extra_env=[("body", "7BIT")])


def require_tool_soft(name, ctx):
    path = shutil.which(name)
    if path is None:
        print("  (%s not installed: part skipped)" % name)
        ctx.skipped.append(name)
    return path



# --- (c) swaks --------------------------------------------------------------

def new_queue_files(ctx, before):
    return sorted(set(ctx.inst.queue_files()) - set(before))


def run_tool(argv, what, timeout=30):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (what, r.returncode, out))
    return out


def tool_qid(out, what):
    m = re.search(r"250 2\.0\.0 (%s) Message accepted for delivery"
                  % T.QID_RE, out)
    if not m:
        raise AssertionError("%s: no 250 with a queue ID:\n%s" % (what, out))
    return m.group(1)


def test_swaks_data(ctx):
    swaks = require_tool_soft("swaks", ctx)
    if swaks is None:
        return
    # no '%' (swaks expands %TOKENS%), no final newline (swaks adds CRLF)
    data = (b"Subject: swaks --data\nFrom: swaks@example.com\n\n"
            b"first line\n.a dotted line\n..two dots\n.\nlast line")
    f = os.path.join(ctx.inst.dir, "swaks-data.txt")
    with open(f, "wb") as fp:
        fp.write(data)
    before = ctx.inst.queue_files()
    out = run_tool([swaks, "--server", "127.0.0.1", "--port", str(ctx.port),
                    "--helo", "swaks.example", "--from", "swaks@example.com",
                    "--to", "samt@localhost,alice@localhost", "--pipeline",
                    "--data", "@" + f], "swaks --data")
    if "PIPELINING" not in out:
        raise AssertionError("swaks did not see PIPELINING:\n" + out)
    qid = tool_qid(out, "swaks")
    eq(new_queue_files(ctx, before), [qid], "new queue files")
    check_queued(ctx, qid, data + b"\n", "swaks@example.com",
                 ["samt@localhost", "alice@localhost"], "swaks.example",
                 "ESMTP")


def test_swaks_attach(ctx):
    swaks = require_tool_soft("swaks", ctx)
    if swaks is None:
        return
    blob = bytes(range(256)) * 64 + b"\r\n.\r\n" + os.urandom(3000)
    f = os.path.join(ctx.inst.dir, "blob.bin")
    with open(f, "wb") as fp:
        fp.write(blob)
    before = ctx.inst.queue_files()
    out = run_tool([swaks, "--server", "127.0.0.1", "--port", str(ctx.port),
                    "--helo", "swaks.example", "--from", "swaks@example.com",
                    "--to", "staff@localhost", "--pipeline",
                    "--header", "Subject: swaks attachment",
                    "--body", "see attachment",
                    "--attach-type", "application/octet-stream",
                    "--attach", "@" + f], "swaks --attach")
    qid = tool_qid(out, "swaks")
    eq(new_queue_files(ctx, before), [qid], "new queue files")
    with open(os.path.join(ctx.inst.spool, "queue", qid), "rb") as fp:
        env, received, body = T.parse_queue_file(fp.read())
    check_received(received.decode(), "swaks.example", "ESMTP", qid,
                   "staff@localhost")
    eq(T.envelope_values(env, "rcpt"), ["staff@localhost"], "rcpts")
    if b"\r" in body:
        raise AssertionError("CR left in the spooled message")
    # what swaks printed after DATA is what it sent: compare line by line
    sent = swaks_sent_data(out)
    eq(body, sent, "spooled message vs swaks's transcript")
    m = email.message_from_bytes(body, policy=email.policy.default)
    eq(m["Subject"], "swaks attachment", "Subject")
    parts = [p for p in m.iter_attachments()]
    eq(len(parts), 1, "attachments")
    eq(parts[0].get_payload(decode=True), blob, "attachment bytes")


def swaks_sent_data(out):
    """The message as swaks sent it (its ' -> ' lines between the 354 and
    the lone '.'), unstuffed, with LF line ends."""
    lines = out.split("\n")
    i = next(n for n, l in enumerate(lines) if l.startswith("<-  354"))
    sent = []
    for l in lines[i + 1:]:
        if not l.startswith(" -> "):
            continue
        l = l[4:].rstrip("\r")
        if l == ".":
            break
        sent.append(l[1:] if l.startswith("..") else l)
    return "".join(l + "\n" for l in sent).encode()


# --- (d) curl ---------------------------------------------------------------

def test_curl(ctx):
    curl = require_tool_soft("curl", ctx)
    if curl is None:
        return
    msg = (b"From: curl@example.com\r\nTo: samt@localhost\r\n"
           b"Subject: curl upload\r\n\r\n"
           b"uploaded with curl\r\n.dot\r\n..dots\r\n.\r\n"
           b"\xc3\xa4\xc3\xb6\xc3\xbc 8-bit\r\nend\r\n")
    f = os.path.join(ctx.inst.dir, "curl-msg.txt")
    with open(f, "wb") as fp:
        fp.write(msg)
    before = ctx.inst.queue_files()
    out = run_tool([curl, "-sS", "-v", "--max-time", "20",
                    "smtp://127.0.0.1:%d/curl.example" % ctx.port,
                    "--mail-from", "curl@example.com",
                    "--mail-rcpt", "samt@localhost",
                    "--mail-rcpt", "alice@localhost",
                    "--upload-file", f], "curl")
    qid = tool_qid(out, "curl")
    eq(new_queue_files(ctx, before), [qid], "new queue files")
    check_queued(ctx, qid, T.crlf_to_spool(msg), "curl@example.com",
                 ["samt@localhost", "alice@localhost"], "curl.example",
                 "ESMTP")
    # an LF file with --crlf arrives the same way
    lf = os.path.join(ctx.inst.dir, "curl-lf.txt")
    with open(lf, "wb") as fp:
        fp.write(T.crlf_to_spool(msg))
    out = run_tool([curl, "-sS", "-v", "--crlf", "--max-time", "20",
                    "smtp://127.0.0.1:%d/curl.example" % ctx.port,
                    "--mail-from", "curl@example.com",
                    "--mail-rcpt", "alice@localhost",
                    "--upload-file", lf], "curl --crlf")
    qid = tool_qid(out, "curl --crlf")
    check_queued(ctx, qid, T.crlf_to_spool(msg), "curl@example.com",
                 ["alice@localhost"], "curl.example", "ESMTP")
    # without --crlf the bare LFs are refused, and nothing is queued
    before = ctx.inst.queue_files()
    r = subprocess.run([curl, "-sS", "-v", "--max-time", "20",
                        "smtp://127.0.0.1:%d/curl.example" % ctx.port,
                        "--mail-from", "curl@example.com",
                        "--mail-rcpt", "alice@localhost",
                        "--upload-file", lf], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    if ("554 5.6.0 Message contains a bare LF; lines must end with CRLF"
            not in out):
        raise AssertionError("bare LF not refused:\n" + out)
    eq(new_queue_files(ctx, before), [], "queue files after a refusal")


# --- (e) BDAT through inetd -------------------------------------------------

def test_bdat_chunks(ctx):
    chunks = [b"Subject: chunks\r\n\r\nline one\r",     # ends with the CR
              b"\n.a leading dot stays\r\n..two stay\r\n.\r",
              b"\nend\r\n"]
    c = T.connect(ctx.port)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        c.reply()
        c.cmd("EHLO bdat.example")
        eq(c.cmd("MAIL FROM:<chunker@example.com> BODY=8BITMIME"),
           "250 2.1.0 <chunker@example.com>... Sender ok", "MAIL")
        eq(c.cmd("RCPT TO:<samt@localhost>"),
           "250 2.1.5 <samt@localhost>... Recipient ok", "RCPT")
        for i, ch in enumerate(chunks):
            # the command and its chunk in separate writes, the chunk split
            c.send("BDAT %d\r\n" % len(ch))
            time.sleep(0.01)
            c.send(ch[:3])
            time.sleep(0.01)
            c.send(ch[3:])
            eq(c.reply(), "250 2.0.0 %d octets received" % len(ch),
               "BDAT chunk %d" % i)
        qid = accepted(c.cmd("BDAT 0 LAST"), "BDAT 0 LAST")
        eq(c.cmd("QUIT"), "221 2.0.0 %s closing connection" % HOST, "QUIT")
    finally:
        c.sock.close()
    want = (b"Subject: chunks\n\nline one\n.a leading dot stays\n"
            b"..two stay\n.\nend\n")
    check_queued(ctx, qid, want, "chunker@example.com", ["samt@localhost"],
                 "bdat.example", "ESMTP", extra_env=[("body", "8BITMIME")])


def test_bdat_pipelined(ctx):
    m1 = b"Subject: one write\r\n\r\n.dot\r\nbody \xff\r\n"
    m2 = b"Subject: second\r\n\r\n" + b"x" * 70000 + b"\r\nend\r\n"
    c = T.connect(ctx.port)
    try:
        c.reply()
        c.cmd("EHLO pipe.example")
        c.send(b"MAIL FROM:<p@example.com>\r\nRCPT TO:<samt@localhost>\r\n"
               b"RCPT TO:<alice@localhost>\r\nBDAT %d LAST\r\n" % len(m1)
               + m1 +
               b"MAIL FROM:<q@example.com>\r\nRCPT TO:<abuse@localhost>\r\n"
               b"BDAT 10\r\n" + m2[:10] + b"BDAT %d LAST\r\n"
               % (len(m2) - 10) + m2[10:] + b"QUIT\r\n")
        r = [c.reply() for _ in range(9)]
        eq(r[:3], ["250 2.1.0 <p@example.com>... Sender ok",
                   "250 2.1.5 <samt@localhost>... Recipient ok",
                   "250 2.1.5 <alice@localhost>... Recipient ok"],
           "first transaction")
        q1 = accepted(r[3], "first BDAT LAST")
        eq(r[4:7], ["250 2.1.0 <q@example.com>... Sender ok",
                    "250 2.1.5 <abuse@localhost>... Recipient ok",
                    "250 2.0.0 10 octets received"], "second transaction")
        q2 = accepted(r[7], "second BDAT LAST")
        eq(r[8], "221 2.0.0 %s closing connection" % HOST, "QUIT")
    finally:
        c.sock.close()
    if q1 == q2:
        raise AssertionError("two messages, one queue ID " + q1)
    check_queued(ctx, q1, T.crlf_to_spool(m1), "p@example.com",
                 ["samt@localhost", "alice@localhost"], "pipe.example",
                 "ESMTP")
    check_queued(ctx, q2, T.crlf_to_spool(m2), "q@example.com",
                 ["abuse@localhost"], "pipe.example", "ESMTP")


def test_bdat_bare_cr_at_end(ctx):
    """A CR that ends the LAST chunk is a bare CR: refused, not queued."""
    c = T.connect(ctx.port)
    try:
        c.reply()
        c.cmd("EHLO bdat.example")
        before = ctx.inst.queue_files()
        c.send(b"MAIL FROM:<x@example.com>\r\nRCPT TO:<samt@localhost>\r\n"
               b"BDAT 12 LAST\r\nSubject: x\r\r")
        eq([c.reply() for _ in range(3)], [
            "250 2.1.0 <x@example.com>... Sender ok",
            "250 2.1.5 <samt@localhost>... Recipient ok",
            "554 5.6.0 Message contains a bare CR; lines must end with CRLF"],
            "BDAT with a bare CR")
        eq(new_queue_files(ctx, before), [], "queue files after a refusal")
        eq(c.cmd("QUIT"), "221 2.0.0 %s closing connection" % HOST, "QUIT")
    finally:
        c.sock.close()


# ---------------------------------------------------------------------------

TESTS = [
    ("(a) guide session, line at a time", test_guide_lines),
    ("(a) guide session, character at a time", test_guide_chars),
    ("(b) smtplib EHLO and SIZE", test_smtplib_ehlo),
    ("(b) smtplib several recipients, 8-bit, NOTIFY",
     test_smtplib_several_rcpts_8bit),
    ("(b) smtplib SMTPUTF8", test_smtplib_smtputf8),
    ("(b) pipelined MAIL/RCPT/DATA", test_pipelined_data),
    ("(c) swaks --pipeline --data", test_swaks_data),
    ("(c) swaks --attach", test_swaks_attach),
    ("(d) curl --upload-file", test_curl),
    ("(e) BDAT chunks, CR|LF across chunks", test_bdat_chunks),
    ("(e) BDAT pipelined in one write", test_bdat_pipelined),
    ("(e) BDAT LAST ending in CR", test_bdat_bare_cr_at_end),
]


def main():
    T.require_root()
    T.require_tool(T.INETD)
    t0 = time.time()
    inst = T.Instance(extra="max_message_size %d" % MAX_SIZE)
    inetd = None
    failed = []
    try:
        T.prepare_spool(inst)
        port = T.free_port()
        inetd = T.Inetd(inst.dir, [T.qsmtpd_line(port, inst)], [port])
        ctx = Ctx(inst, port)
        failed.extend(T.run_cases(TESTS, ctx))
        tmp = inst.tmp_files()
        if tmp:
            failed.append("tmp/ empty after clean sessions")
            print("FAIL files left in tmp/: %s" % tmp)
        if failed:
            print("--- maillog ---\n" + inst.log_text())
            print("--- inetd ---\n" + (inetd.log()[-3000:]))
    finally:
        if inetd is not None:
            inetd.stop()
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
