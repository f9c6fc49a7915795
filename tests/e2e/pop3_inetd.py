#!/usr/bin/env python3
"""End-to-end: qpop3d under a real openbsd-inetd on 127.0.0.1.

(a) The guide's POP3 session, typed as the guide shows it (lowercase
    commands), on mail qrun delivered: the same answers, LIST with the
    real size; DELE + QUIT removes exactly that message, byte for byte.
(b) A raw client, python's poplib, fetchmail, mpop and curl retrieve
    every message byte-exact against the mbox (the message as it stands
    after its From_ line, mboxrd quoting undone, LF -> CRLF): TOP and
    UIDL too; UIDs stable across sessions and after another session
    deleted a different message; mboxrd-quoted lines, lines beginning
    with '.', a message without a final newline, mutt's Status: RO and
    X-Status: headers, CRLF line ends in the mbox, a header-only message,
    long lines and a large message across the server's read buffers;
    UIDs that stay when mutt marks messages read.
(c) AUTH PLAIN with an initial response and with a continuation.
(d) CAPA, exactly.

Needs root (qpop3d becomes the mailbox owner), /usr/sbin/inetd, openssl
(to make crypt(3) hashes), fetchmail, mpop and curl.
Exit 0 pass, 1 fail, 77 skip.
"""
import base64
import os
import poplib
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
USER = "samt"
PASSWORD = "mypassword"
CAPA_BEFORE = ["+OK Capability list follows", "TOP", "USER", "SASL PLAIN",
               "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
               "IMPLEMENTATION inetmail", "."]
CAPA_AFTER = ["+OK Capability list follows", "TOP", "UIDL", "RESP-CODES",
              "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION inetmail", "."]
UID_RE = r"^[\x21-\x7e]{1,70}$"         # RFC 1939 7, UIDL


class Ctx:
    def __init__(self, inst, port):
        self.inst = inst
        self.port = port
        self.tools = {}


eq = T.eq


def eq_bytes(got, want, what):
    if got != want:
        i = next((k for k in range(min(len(got), len(want)))
                  if got[k] != want[k]), min(len(got), len(want)))
        raise AssertionError(
            "%s: differs at byte %d (got %d bytes, want %d)\n"
            "  got:  %r\n  want: %r" % (what, i, len(got), len(want),
                                        got[max(0, i - 60):i + 60],
                                        want[max(0, i - 60):i + 60]))


def ok_run(r, what, rcs=(0,)):
    if r.returncode not in rcs:
        raise AssertionError("%s exited %d (want %s)\nstdout: %s\nstderr: %s"
                             % (what, r.returncode, rcs, r.stdout[-3000:],
                                r.stderr[-3000:]))
    return r


def deliver(ctx, body, what):
    """qsend -odq -oi samt < body, then qrun: one message in samt's mbox."""
    before = len(ctx.inst.mbox(USER) or b"")
    ok_run(ctx.inst.qsend(["-odq", "-oi", "-f", "sender@example.org", USER],
                          body), "qsend " + what)
    ok_run(ctx.inst.qrun(), "qrun " + what)
    data = ctx.inst.mbox(USER) or b""
    if len(data) <= before or not T.split_mbox(data[before:].lstrip(b"\n")):
        raise AssertionError("qrun did not deliver %s:\n%s" % (
            what, ctx.inst.log_text()[-2000:]))


def no_litter(ctx):
    """Nothing but mailboxes and their indexes in the mail directory: no
    lock, no new mailbox or index left beside the old one."""
    left = [f for f in os.listdir(ctx.inst.mail)
            if f not in ctx.inst.uids and
            not (f.endswith(".qpop3d-index") and
                 f[:-len(".qpop3d-index")] in ctx.inst.uids)]
    eq(left, [], "files left in the mail directory")


def login(ctx):
    c = T.Pop3.connect(ctx.port)
    eq(c.login(USER, PASSWORD), ["+OK", "+OK", "+OK"], "login")
    return c


def quit(c, want="+OK"):
    eq(c.cmd("QUIT"), want, "QUIT")
    if not c.closed():
        raise AssertionError("connection still open after QUIT")
    c.close()


# --- (a) the guide's session ----------------------------------------------

GUIDE_MESSAGE = (b"Subject: This is my subject line\n"
                 b"\n"
                 b"I continue writing until I'm out of interesting things "
                 b"to say\nwhich is not that far away\n")


def test_guide_session(ctx):
    inst = ctx.inst
    deliver(ctx, GUIDE_MESSAGE, "the guide's message")
    content, = T.mbox_contents(inst.mbox(USER))
    size = len(T.pop3_wire(content))
    st0 = os.stat(inst.mbox_path(USER))
    c = T.Pop3.connect(ctx.port)
    transcript = [
        (None, ["+OK"]),
        ("user samt", ["+OK"]),
        ("pass mypassword", ["+OK"]),
        ("list", ["+OK", "1 %d" % size, "."]),
        ("dele 1", ["+OK"]),
        ("list", ["+OK", "."]),
        ("quit", ["+OK"]),
    ]
    for typed, answer in transcript:
        if typed is not None:
            c.send(typed + "\r\n")
        got = [c.line() for _ in answer]
        eq(got, answer, "answer to %r" % typed if typed else "greeting")
    if not c.closed():
        raise AssertionError("connection open after quit")
    eq(c.buf, b"", "bytes after the answer to quit")
    c.close()
    eq(inst.mbox(USER), b"", "the mbox after dele 1, quit")
    st = os.stat(inst.mbox_path(USER))
    eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
       (st0.st_uid, st0.st_gid, oct(st0.st_mode & 0o7777)),
       "owner and mode of the rewritten mbox")
    no_litter(ctx)
    log = inst.log_text()
    for want in ("login: user=samt, client=127.0.0.1, messages=1, "
                 "octets=%d" % size, "logout: user=samt, client=127.0.0.1, "
                 "retrieved=0, deleted=1"):
        if want not in log:
            raise AssertionError("no log line %r:\n%s" % (want, log[-2000:]))


def test_dele_one_of_three(ctx):
    """DELE 2 + QUIT: the mbox afterwards holds messages 1 and 3, byte
    for byte as they stood."""
    inst = ctx.inst
    for i in range(3):
        deliver(ctx, b"Subject: number %d\n\nbody %d\n" % (i + 1, i + 1),
                "message %d" % (i + 1))
    data = inst.mbox(USER)
    msgs = T.split_mbox(data)
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    pieces = [data[s:(starts[i + 1] if i + 1 < len(starts) else len(data))]
              for i, s in enumerate(starts)]
    eq(len(pieces), 3, "messages before")
    c = login(ctx)
    eq(c.cmd("list"), "+OK", "list")
    eq(c.multi_lines(), ["%d %d" % (i + 1, len(T.pop3_wire(m.raw)))
                         for i, m in enumerate(msgs)], "list")
    eq(c.cmd("retr 2"), "+OK", "retr 2")
    eq_bytes(c.multi_raw(), T.pop3_wire(msgs[1].raw), "retr 2")
    eq(c.cmd("dele 2"), "+OK", "dele 2")
    eq(c.cmd("stat"), "+OK 2 %d" % (len(T.pop3_wire(msgs[0].raw)) +
                                    len(T.pop3_wire(msgs[2].raw))), "stat")
    quit(c)
    eq_bytes(inst.mbox(USER), pieces[0] + pieces[2], "mbox after dele 2")
    no_litter(ctx)
    T.mbox_install(inst, USER, b"")


# --- (b) clients, byte for byte --------------------------------------------

def big_message(long_line=998):
    """~450 KB: dot lines and From lines on both sides of every 64 KiB
    boundary of the mbox, and one line of long_line octets (RFC 5322's
    limit by default: fetchmail mangles longer ones)."""
    lines = [b"Subject: a large one", b"X-Big: yes", b""]
    size = 0
    i = 0
    while size < 450000:
        k = i % 7
        l = (b"." * (i % 3 + 1) + b"dot line %d" % i if k == 0 else
             b"From the line %d" % i if k == 1 else
             b">>From quoted %d" % i if k == 2 else
             b"." if k == 3 else
             b"plain text line number %d " % i + b"x" * (i % 97))
        lines.append(l)
        size += len(l) + 1
        i += 1
    lines.insert(len(lines) // 2, b"L" * long_line)
    return b"\n".join(lines) + b"\n"


QUOTED = (b"Subject: mboxrd quoting and dots\n"
          b"\n"
          b"From the start of a line\n"
          b">From once quoted\n"
          b">>From twice quoted\n"
          b">Fro not a From line\n"
          b" From with a space\n"
          b".one dot\n"
          b"..two dots\n"
          b".\n"
          b"..\n"
          b"\n"
          b"From after a blank line\n"
          b"last line without a newline")

MUTT = (b"Return-Path: <alice@example.org>\n"
        b"From: Alice <alice@example.org>\n"
        b"To: samt@mail.example.com\n"
        b"Subject: read in mutt\n"
        b"Message-ID: <mutt.1@example.org>\n"
        b"Status: RO\n"
        b"X-Status: A\n"
        b"Content-Length: 43\n"
        b"Lines: 3\n"
        b"\n"
        b"mutt marked me read\n"
        b"From here\n"
        b".and here\n" +
        b">" * 1500 + b"From deep down (1500 '>', quoted in the mbox)\n")

CRLF = (b"Subject: stored with CRLF line ends\r\n"
        b"Message-ID: <crlf@example.org>\r\n"
        b"\r\n"
        b"as some tools write mail\r\n"
        b".a dot\r\n"
        b"From a line\r\n")

HEADER_ONLY = (b"Subject: only a header\n"
               b"Message-ID: <header.only@example.org>\n")

LAST = (b"Subject: the last one, written by another MDA\n"
        b"Message-ID: <last@example.org>\n"
        b"\n"
        b"its last line has no newline, and no blank line follows")


def fill_mailbox(ctx):
    """samt's mbox: two messages qrun delivered, four written directly
    (one with CRLF line ends), the last without its final newline.  Returns the contents (what
    follows each From_ line, separator excluded)."""
    inst = ctx.inst
    T.mbox_install(inst, USER, b"")
    deliver(ctx, QUOTED, "the quoting message")
    deliver(ctx, big_message(), "a large message")
    delivered = T.mbox_contents(inst.mbox(USER))
    data, written = T.mbox_build([MUTT, CRLF, HEADER_ONLY, LAST],
                                 last_newline=False)
    with open(inst.mbox_path(USER), "ab") as f:
        f.write(data)
    return delivered + written


def raw_session_check(ctx, contents):
    """LIST, STAT, RETR, TOP and UIDL over a raw connection; returns the
    UIDs."""
    wires = [T.pop3_wire(m) for m in contents]
    c = login(ctx)
    eq(c.cmd("STAT"), "+OK %d %d" % (len(wires), sum(map(len, wires))),
       "STAT")
    eq(c.cmd("LIST"), "+OK", "LIST")
    eq(c.multi_lines(), ["%d %d" % (i + 1, len(w))
                         for i, w in enumerate(wires)], "LIST")
    for i, w in enumerate(wires):
        eq(c.cmd("LIST %d" % (i + 1)), "+OK %d %d" % (i + 1, len(w)),
           "LIST %d" % (i + 1))
        eq(c.cmd("RETR %d" % (i + 1)), "+OK", "RETR %d" % (i + 1))
        got = c.multi_raw()
        eq_bytes(got, w, "RETR %d" % (i + 1))
        eq(len(got), len(w), "RETR %d size = LIST size" % (i + 1))
        for k in (0, 1, 3, 100000):
            eq(c.cmd("TOP %d %d" % (i + 1, k)), "+OK", "TOP %d %d"
               % (i + 1, k))
            eq_bytes(c.multi_raw(), T.pop3_top(w, k),
                     "TOP %d %d" % (i + 1, k))
    eq(c.cmd("UIDL"), "+OK", "UIDL")
    lines = c.multi_lines()
    eq([l.split(" ")[0] for l in lines],
       [str(i + 1) for i in range(len(wires))], "UIDL numbers")
    uids = [l.split(" ", 1)[1] for l in lines]
    for u in uids:
        if not re.match(UID_RE, u):
            raise AssertionError("UID %r is not 1-70 chars 0x21-0x7E" % u)
    eq(len(set(uids)), len(uids), "UIDs unique")
    for i, u in enumerate(uids):
        eq(c.cmd("UIDL %d" % (i + 1)), "+OK %d %s" % (i + 1, u),
           "UIDL %d" % (i + 1))
    quit(c)
    return uids


def poplib_check(ctx, contents, uids):
    wires = [T.pop3_wire(m) for m in contents]
    old = poplib._MAXLINE
    poplib._MAXLINE = 1 << 20        # the 150 KB line
    try:
        p = poplib.POP3("127.0.0.1", ctx.port, timeout=10)
        eq(p.getwelcome(), b"+OK", "poplib welcome")
        eq(p.user(USER), b"+OK", "poplib user")
        eq(p.pass_(PASSWORD), b"+OK", "poplib pass_")
        eq(p.stat(), (len(wires), sum(map(len, wires))), "poplib stat")
        resp, listing, _ = p.list()
        eq(listing, [b"%d %d" % (i + 1, len(w)) for i, w in
                     enumerate(wires)], "poplib list")
        resp, listing, _ = p.uidl()
        eq(listing, [("%d %s" % (i + 1, u)).encode()
                     for i, u in enumerate(uids)], "poplib uidl")
        for i, w in enumerate(wires):
            resp, lines, octets = p.retr(i + 1)
            eq(resp, b"+OK", "poplib retr %d" % (i + 1))
            eq_bytes(b"".join(l + b"\r\n" for l in lines), T.pop3_unstuff(w),
                     "poplib retr %d" % (i + 1))
            resp, lines, octets = p.top(i + 1, 2)
            eq_bytes(b"".join(l + b"\r\n" for l in lines),
                     T.pop3_unstuff(T.pop3_top(w, 2)),
                     "poplib top %d 2" % (i + 1))
        eq(p.capa(), {"TOP": [], "UIDL": [], "RESP-CODES": [],
                      "AUTH-RESP-CODE": [], "PIPELINING": [],
                      "IMPLEMENTATION": ["inetmail"]}, "poplib capa")
        eq(p.quit(), b"+OK", "poplib quit")
    finally:
        poplib._MAXLINE = old


def lf_form(wire):
    """A message as an MDA gets it from fetchmail or mpop: dot-stuffing
    undone, LF line ends."""
    return T.pop3_unstuff(wire).replace(b"\r\n", b"\n")


def mda_dir(ctx, name):
    """A directory an MDA command fills with files 000, 001, ...; returns
    (directory, the command)."""
    d = os.path.join(ctx.inst.dir, name)
    os.makedirs(d, exist_ok=True)
    script = os.path.join(ctx.inst.dir, name + ".sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nn=$(ls '%s' | wc -l)\n"
                "exec cat > '%s'/$(printf %%03d \"$n\")\n" % (d, d))
    os.chmod(script, 0o755)
    return d, script


def take_files(d):
    out = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            out.append(fh.read())
        os.unlink(os.path.join(d, f))
    return out


def fetchmail_setup(ctx):
    home = os.path.join(ctx.inst.dir, "fetchmail")
    os.makedirs(home, mode=0o700, exist_ok=True)
    out, script = mda_dir(ctx, "fetchmail-out")
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no syslog\nset invisible\nset idfile "%s/ids"\n'
                "poll 127.0.0.1 service %d protocol pop3 uidl "
                "auth password\n"
                '  user "%s" there with password "%s" is root here\n'
                "  keep no rewrite sslproto ''\n"
                '  mda "%s"\n' % (home, ctx.port, USER, PASSWORD, script))
    os.chmod(rc, 0o600)
    ctx.fetchmail = (home, rc, out)


def fetchmail_run(ctx, want, what):
    """fetchmail in keep mode; want: the messages (wire form) it must
    hand its MDA, in order."""
    home, rc, out = ctx.fetchmail
    env = dict(os.environ, FETCHMAILHOME=home, HOME=home)
    r = ctx.inst.run([ctx.tools["fetchmail"], "--nosyslog", "-f", rc],
                     env=env, timeout=60)
    ok_run(r, "fetchmail (%s)" % what, rcs=(0,) if want else (1,))
    got = take_files(out)
    eq(len(got), len(want), "messages fetchmail delivered (%s)" % what)
    for i, (g, w) in enumerate(zip(got, want)):
        w = lf_form(w)
        if b"\n\n" not in w:
            w += b"\n"     # fetchmail ends a header-only message's header
        eq_bytes(g, w, "fetchmail message %d (%s)" % (i + 1, what))


def mpop_setup(ctx):
    home = os.path.join(ctx.inst.dir, "mpop")
    os.makedirs(home, mode=0o700, exist_ok=True)
    out, script = mda_dir(ctx, "mpop-out")
    rc = os.path.join(home, "mpoprc")
    with open(rc, "w") as f:
        f.write("defaults\naccount test\nhost 127.0.0.1\nport %d\n"
                "tls off\nauth user\nuser %s\npassword %s\nkeep on\n"
                "received_header off\nuidls_file %s/uidls\n"
                'delivery mda "%s"\n' % (ctx.port, USER, PASSWORD, home,
                                         script))
    os.chmod(rc, 0o600)
    ctx.mpop = (home, rc, out)


def mpop_run(ctx, want, what):
    home, rc, out = ctx.mpop
    env = dict(os.environ, HOME=home)
    r = ctx.inst.run([ctx.tools["mpop"], "-C", rc, "-q", "test"], env=env,
                     timeout=60)
    ok_run(r, "mpop (%s)" % what)
    got = take_files(out)
    eq(len(got), len(want), "messages mpop delivered (%s)" % what)
    for i, (g, w) in enumerate(zip(got, want)):
        eq_bytes(g, lf_form(w), "mpop message %d (%s)" % (i + 1, what))


def curl(ctx, path, *args):
    r = subprocess.run([ctx.tools["curl"], "-sS", "--max-time", "30",
                        "-u", "%s:%s" % (USER, PASSWORD)] + list(args) +
                       ["pop3://127.0.0.1:%d/%s" % (ctx.port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("curl %s %s exited %d: %s" % (
            " ".join(args), path, r.returncode, r.stderr.decode()))
    return r.stdout


def curl_check(ctx, contents, uids):
    wires = [T.pop3_wire(m) for m in contents]
    eq(curl(ctx, ""), b"".join(b"%d %d\r\n" % (i + 1, len(w))
                               for i, w in enumerate(wires)), "curl (LIST)")
    for i, w in enumerate(wires):
        eq_bytes(curl(ctx, "%d" % (i + 1)), T.pop3_unstuff(w),
                 "curl pop3://.../%d (RETR)" % (i + 1))
        eq_bytes(curl(ctx, "", "-X", "TOP %d 1" % (i + 1)),
                 T.pop3_unstuff(T.pop3_top(w, 1)),
                 "curl -X 'TOP %d 1'" % (i + 1))
    eq(curl(ctx, "", "-X", "UIDL"),
       b"".join(b"%d %s\r\n" % (i + 1, u.encode())
                for i, u in enumerate(uids)), "curl -X UIDL")


def test_clients(ctx):
    inst = ctx.inst
    contents = fill_mailbox(ctx)
    before = inst.mbox(USER)
    wires = [T.pop3_wire(m) for m in contents]
    uids = raw_session_check(ctx, contents)
    eq(raw_session_check(ctx, contents), uids, "UIDs of a second session")
    poplib_check(ctx, contents, uids)
    fetchmail_setup(ctx)
    fetchmail_run(ctx, wires, "first run, keep")
    mpop_setup(ctx)
    mpop_run(ctx, wires, "first run, keep")
    curl_check(ctx, contents, uids)
    eq_bytes(inst.mbox(USER), before, "the mbox after reading (keep)")
    # nothing new: the clients know every UID
    fetchmail_run(ctx, [], "second run")
    mpop_run(ctx, [], "second run")

    # another session deletes message 2 (the large one)
    c = login(ctx)
    eq(c.cmd("DELE 2"), "+OK", "DELE 2")
    quit(c)
    no_litter(ctx)
    left = contents[:1] + contents[2:]
    data = inst.mbox(USER)
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ",
                                                          before)]
    eq_bytes(data, before[:starts[1]] + before[starts[2]:],
             "the mbox after DELE 2, QUIT")
    uids2 = raw_session_check(ctx, left)
    eq(uids2, uids[:1] + uids[2:], "UIDs after another session deleted "
       "message 2")
    fetchmail_run(ctx, [], "after DELE 2 elsewhere")
    mpop_run(ctx, [], "after DELE 2 elsewhere")

    # new mail: exactly it is fetched
    new = (b"Subject: news\nMessage-ID: <news@example.org>\n\n"
           b"From now on\n.\n..\nend")
    deliver(ctx, new, "a new message")
    msgs = T.split_mbox(inst.mbox(USER))
    new_content = msgs[-1].raw
    eq(T.mboxrd_unquote(new_content).endswith(
        b"Message-ID: <news@example.org>\n\nFrom now on\n.\n..\nend\n"),
       True, "the new message in the mbox")
    # the message that had no final newline got one from qrun, and kept
    # its UID and its wire form
    eq(msgs[-2].raw, contents[-1] + b"\n", "the last message, now ended")
    all_now = left + [new_content]
    uids3 = raw_session_check(ctx, all_now)
    eq(uids3[:-1], uids2, "UIDs after new mail")
    fetchmail_run(ctx, [T.pop3_wire(new_content)], "after new mail")
    mpop_run(ctx, [T.pop3_wire(new_content)], "after new mail")
    curl_check(ctx, all_now, uids3)
    T.mbox_install(inst, USER, b"")


def test_long_lines(ctx):
    """Lines far longer than the server's read buffer (64 KiB), across
    its boundaries: raw, poplib and curl (fetchmail cuts such lines)."""
    inst = ctx.inst
    T.mbox_install(inst, USER, b"")
    deliver(ctx, big_message(150000), "a 150 KB line")
    line = b".L" + b"x" * 70000 + b"\n"
    data, _ = T.mbox_build([b"Subject: long lines\n\n" + line * 3 +
                            b"From " + b"y" * 65530 + b"\n" + b"end"])
    with open(inst.mbox_path(USER), "ab") as f:
        f.write(data)
    contents = T.mbox_contents(inst.mbox(USER))
    uids = raw_session_check(ctx, contents)
    poplib_check(ctx, contents, uids)
    curl_check(ctx, contents, uids)
    T.mbox_install(inst, USER, b"")


def test_mutt_marks_read(ctx):
    """mutt, reading the mbox locally, marks messages read by adding or
    changing Status: and X-Status: fields (and rewriting the mailbox).
    The messages stay the same messages: their UIDs must not change, or
    every POP3 client in keep mode (fetchmail, mpop, ...) fetches them
    all again."""
    inst = ctx.inst
    msgs = [b"From: Alice <alice@example.org>\nSubject: unread %d\n"
            b"Message-ID: <unread.%d@example.org>\n\nbody %d\n"
            % (i, i, i) for i in range(3)]
    data, contents = T.mbox_build(msgs)
    T.mbox_install(inst, USER, data)
    uids = raw_session_check(ctx, contents)
    # what mutt writes back after reading 1 and replying to 3
    marked = [msgs[0].replace(b"\n\n", b"\nStatus: RO\n\n", 1), msgs[1],
              msgs[2].replace(b"\n\n", b"\nStatus: RO\nX-Status: A\n\n", 1)]
    data2, contents2 = T.mbox_build(marked)
    T.mbox_install(inst, USER, data2)
    uids2 = raw_session_check(ctx, contents2)
    eq(uids2, uids, "UIDs after mutt marked messages 1 and 3 read "
       "(Status: RO, X-Status: A)")
    T.mbox_install(inst, USER, b"")


# --- (c) AUTH PLAIN ----------------------------------------------------------

def plain(authz, authc, password):
    return base64.b64encode(b"%s\0%s\0%s" % (authz.encode(), authc.encode(),
                                             password.encode())).decode()


def test_auth_plain(ctx):
    inst = ctx.inst
    deliver(ctx, b"Subject: for AUTH\n\nhello\n", "a message")
    content, = T.mbox_contents(inst.mbox(USER))
    wire = T.pop3_wire(content)
    before = inst.mbox(USER)
    # with an initial response (RFC 5034 4)
    c = T.Pop3.connect(ctx.port)
    eq(c.line(), "+OK", "greeting")
    eq(c.cmd("AUTH PLAIN " + plain("", USER, PASSWORD)), "+OK",
       "AUTH PLAIN with an initial response")
    eq(c.cmd("STAT"), "+OK 1 %d" % len(wire), "STAT after AUTH PLAIN")
    eq(c.cmd("RETR 1"), "+OK", "RETR 1")
    eq_bytes(c.multi_raw(), wire, "RETR 1 after AUTH PLAIN")
    eq(c.cmd("AUTH PLAIN " + plain("", USER, PASSWORD)),
       "-ERR Already logged in", "AUTH once logged in")
    quit(c)
    # with a continuation, lowercase, authzid = authcid
    c = T.Pop3.connect(ctx.port)
    eq(c.line(), "+OK", "greeting")
    eq(c.cmd("auth plain"), "+ ", "AUTH PLAIN without initial response")
    eq(c.cmd(plain(USER, USER, PASSWORD)), "+OK", "the continuation")
    eq(c.cmd("STAT"), "+OK 1 %d" % len(wire), "STAT after the continuation")
    quit(c)
    # the mechanism list; another mechanism; cancelling; bad base64;
    # acting for another user
    c = T.Pop3.connect(ctx.port)
    eq(c.line(), "+OK", "greeting")
    eq(c.cmd("AUTH"), "+OK", "AUTH without a mechanism")
    eq(c.multi_lines(), ["PLAIN"], "AUTH mechanism list")
    eq(c.cmd("AUTH LOGIN"), "-ERR Unsupported mechanism", "AUTH LOGIN")
    eq(c.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN")
    eq(c.cmd("*"), "-ERR Authentication cancelled", "cancelled")
    eq(c.cmd("AUTH PLAIN !!!notbase64"), "-ERR Bad SASL response",
       "bad base64")
    eq(c.cmd("AUTH PLAIN " + base64.b64encode(b"samt").decode()),
       "-ERR Bad SASL response", "no NULs")
    eq(c.cmd("AUTH PLAIN " + plain("alice", USER, PASSWORD)),
       "-ERR [AUTH] Cannot act for another user", "authzid of another")
    eq(c.cmd("AUTH PLAIN " + plain("", USER, PASSWORD)), "+OK",
       "AUTH PLAIN after the refusals")
    eq(c.cmd("STAT"), "+OK 1 %d" % len(wire), "STAT")
    quit(c)
    eq(inst.mbox(USER), before, "mbox untouched")
    T.mbox_install(inst, USER, b"")


# --- (d) CAPA ----------------------------------------------------------------

def test_capa(ctx):
    c = T.Pop3.connect(ctx.port)
    eq(c.line(), "+OK", "greeting")
    c.send("CAPA\r\n")
    eq([c.line() for _ in CAPA_BEFORE], CAPA_BEFORE, "CAPA before login")
    c.send("capa\r\n")
    eq([c.line() for _ in CAPA_BEFORE], CAPA_BEFORE, "capa (lowercase)")
    eq(c.cmd("USER " + USER), "+OK", "USER")
    eq(c.cmd("PASS " + PASSWORD), "+OK", "PASS")
    c.send("CAPA\r\n")
    eq([c.line() for _ in CAPA_AFTER], CAPA_AFTER, "CAPA after login")
    quit(c)


# ---------------------------------------------------------------------------

TESTS = [
    ("(a) the guide's session: user, pass, list, dele 1, list, quit",
     test_guide_session),
    ("(a) DELE 2 of 3 + QUIT leaves 1 and 3 byte for byte",
     test_dele_one_of_three),
    ("(b) raw, poplib, fetchmail, mpop, curl: RETR, TOP, UIDL byte-exact",
     test_clients),
    ("(b) lines of 70 and 150 KB: raw, poplib, curl", test_long_lines),
    ("(b) UIDs stay when mutt marks messages read", test_mutt_marks_read),
    ("(c) AUTH PLAIN: initial response, continuation", test_auth_plain),
    ("(d) CAPA", test_capa),
]


def main():
    T.require_pop3()
    T.require_tool(T.INETD)
    T.require_tool("openssl")
    tools = {t: T.require_tool(t) for t in ("fetchmail", "mpop", "curl")}
    t0 = time.time()
    inst = T.DeliveryInstance()
    inetd = None
    failed = []
    try:
        T.prepare_spool(inst)
        T.pop3_set_passwords(inst, {USER: PASSWORD})
        port = T.free_port()
        ctx = Ctx(inst, port)
        ctx.tools = tools
        inetd = T.Inetd(inst.dir, [T.qpop3d_line(port, inst)], [port])
        ctx.inetd = inetd
        failed.extend(T.run_cases(TESTS, ctx,
            after_fail=lambda c: T.mbox_install(inst, USER, b"")))
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
