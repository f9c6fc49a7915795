#!/usr/bin/env python3
"""End-to-end: what qpop3d (under a real openbsd-inetd on 127.0.0.1) says
to input it must refuse, each with its exact reply, and that the session
goes on where it should:

  commands before login; a wrong password and an unknown user (the same
  generic error after a delay of at least auth_delay, doubling; a log
  line naming the client; closing after max_auth_failures); RETR, TOP,
  DELE, LIST, UIDL of a deleted message, of an absent one, of huge
  (99999999999) and negative (-1) numbers; over-long lines; NUL bytes
  and bare CRs; 10,000 NOOPs pipelined (before and after the login is
  handed from the unprivileged child to the session); a second session
  on the same maildrop ([IN-USE]); autologout after pop3_timeout, which
  deletes nothing.

Needs root (qpop3d becomes the mailbox owner), /usr/sbin/inetd and
openssl (to make crypt(3) hashes).  Exit 0 pass, 1 fail, 77 skip.
"""
import base64
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

USER = "samt"
PASSWORD = "mypassword"
NOT_LOGGED_IN = "-ERR Not logged in"
NO_SUCH = "-ERR No such message"
UNKNOWN = "-ERR Unknown command"
AUTH_FAILED = "-ERR [AUTH] Authentication failed"
# one reply to the command that failed the last time (RFC 1939 3: one
# response a command), then the connection closes
TOO_MANY = "-ERR [AUTH] Authentication failed; too many failures, closing"
TOO_LONG = "-ERR Line too long"
NUL_CR = "-ERR Syntax error: NUL or bare CR"
IN_USE = "-ERR [IN-USE] Maildrop is in use by another session"
AUTOLOGOUT = "-ERR Autologout; idle for too long"


class Ctx:
    def __init__(self, inst, port):
        self.inst = inst
        self.port = port

    def conf_with(self, extra):
        self.inst.write_conf(extra)


eq = T.eq


def fill(ctx, n=3):
    """samt's mbox with n small messages; returns (mbox bytes, wires)."""
    data, contents = T.mbox_build(
        [b"Subject: message %d\nMessage-ID: <%d@example.org>\n\nbody %d\n"
         % (i + 1, i + 1, i + 1) for i in range(n)])
    T.mbox_install(ctx.inst, USER, data)
    return data, [T.pop3_wire(c) for c in contents]


def greet(ctx):
    c = T.Pop3.connect(ctx.port)
    eq(c.line(), "+OK", "greeting")
    return c


def login(ctx):
    c = T.Pop3.connect(ctx.port)
    eq(c.login(USER, PASSWORD), ["+OK", "+OK", "+OK"], "login")
    return c


def table(c, rows, state):
    bad = []
    for line, want in rows:
        got = c.cmd(line) if isinstance(line, str) else (
            c.send(line), c.line())[1]
        if got != want:
            bad.append("%s: %r -> %r, want %r" % (state, line, got, want))
    if bad:
        raise AssertionError("\n  ".join([""] + bad))


def quit_closes(c, want="+OK"):
    eq(c.cmd("QUIT"), want, "QUIT")
    if not c.closed():
        raise AssertionError("connection open after QUIT")
    c.close()


# ---------------------------------------------------------------------------

def test_before_login(ctx):
    data, _ = fill(ctx)
    c = greet(ctx)
    table(c, [
        ("STAT", NOT_LOGGED_IN),
        ("LIST", NOT_LOGGED_IN),
        ("LIST 1", NOT_LOGGED_IN),
        ("RETR 1", NOT_LOGGED_IN),
        ("TOP 1 0", NOT_LOGGED_IN),
        ("DELE 1", NOT_LOGGED_IN),
        ("RSET", NOT_LOGGED_IN),
        ("UIDL", NOT_LOGGED_IN),
        ("uidl 1", NOT_LOGGED_IN),
        ("PASS mypassword", "-ERR USER first"),
        ("USER", "-ERR Syntax: USER name"),
        ("USER " + "u" * 256, "-ERR Syntax: USER name"),
        ("XYZZY", UNKNOWN),
        ("APOP samt 0123456789abcdef0123456789abcdef", UNKNOWN),
        ("", UNKNOWN),
        ("NOOP", "+OK"),
        ("noop", "+OK"),
    ], "before login")
    # none of it counted as a failed login
    eq(c.cmd("USER samt"), "+OK", "USER")
    eq(c.cmd("PASS mypassword"), "+OK", "PASS after the refusals")
    eq(c.cmd("STAT"), "+OK 3 %d" % sum(map(len, fill_wires(ctx))), "STAT")
    quit_closes(c)
    eq(ctx.inst.mbox(USER), data, "mbox")


def fill_wires(ctx):
    return [T.pop3_wire(m) for m in T.mbox_contents(ctx.inst.mbox(USER))]


def timed(c, line):
    t = time.time()
    r = c.cmd(line)
    return r, time.time() - t


def test_wrong_password(ctx):
    data, wires = fill(ctx)
    inst = ctx.inst
    log0 = len(inst.log_text())
    # wrong password, then an unknown user, then the right one: one
    # generic error each, a delay of at least 1 s, then 2 s
    c = greet(ctx)
    eq(c.cmd("USER samt"), "+OK", "USER samt")
    r, dt = timed(c, "PASS wrong")
    eq(r, AUTH_FAILED, "wrong password")
    if dt < 1.0:
        raise AssertionError("wrong password answered after %.2fs, not "
                             "after auth_delay (1s)" % dt)
    eq(c.cmd("USER nosuchuser"), "+OK", "USER of an unknown user")
    r, dt = timed(c, "PASS mypassword")
    eq(r, AUTH_FAILED, "unknown user")
    if dt < 2.0:
        raise AssertionError("second failure answered after %.2fs, want the "
                             "delay doubled (2s)" % dt)
    eq(c.cmd("USER samt"), "+OK", "USER samt")
    eq(c.cmd("PASS mypassword"), "+OK", "the right password after two "
       "failures")
    eq(c.cmd("STAT"), "+OK 3 %d" % sum(map(len, wires)), "STAT")
    quit_closes(c)
    log = inst.log_text()[log0:]
    for u in ("samt", "nosuchuser"):
        want = "authentication failed: user=%s, client=127.0.0.1" % u
        if want not in log:
            raise AssertionError("no log line %r:\n%s" % (want, log))
    if "mypassword" in log or "wrong" in log:
        raise AssertionError("a password in the log:\n" + log)

    # AUTH PLAIN with a wrong password: the same; the third failure closes
    c = greet(ctx)
    bad = base64.b64encode(b"\0samt\0wrong").decode()
    r, dt = timed(c, "AUTH PLAIN " + bad)
    eq(r, AUTH_FAILED, "AUTH PLAIN, wrong password")
    if dt < 1.0:
        raise AssertionError("AUTH PLAIN failure after %.2fs" % dt)
    eq(c.cmd("USER samt"), "+OK", "USER")
    r, dt = timed(c, "PASS ")
    eq(r, AUTH_FAILED, "empty password")
    if dt < 2.0:
        raise AssertionError("second failure after %.2fs" % dt)
    eq(c.cmd("USER samt"), "+OK", "USER")
    r, dt = timed(c, "PASS mypassword ")       # a space is part of it
    eq(r, TOO_MANY, "third failure (max_auth_failures 3)")
    if dt < 4.0:
        raise AssertionError("third failure after %.2fs, want 4s" % dt)
    if not c.closed():
        raise AssertionError("connection open after too many failures")
    eq(c.buf, b"", "bytes after the last reply")
    c.close()
    eq(inst.mbox(USER), data, "mbox")


def test_message_numbers(ctx):
    data, wires = fill(ctx)
    c = login(ctx)
    eq(c.cmd("DELE 2"), "+OK", "DELE 2")
    deleted = "-ERR Message 2 is deleted"
    table(c, [
        ("RETR 2", deleted),
        ("TOP 2 0", deleted),
        ("DELE 2", deleted),
        ("LIST 2", deleted),
        ("UIDL 2", deleted),
        ("RETR 4", NO_SUCH),
        ("RETR 0", NO_SUCH),
        ("RETR 99999999999", NO_SUCH),
        ("RETR -1", NO_SUCH),
        ("RETR 1x", NO_SUCH),
        ("RETR +1", NO_SUCH),
        ("RETR", NO_SUCH),
        ("DELE 99999999999", NO_SUCH),
        ("DELE -1", NO_SUCH),
        ("LIST 99999999999", NO_SUCH),
        ("LIST -1", NO_SUCH),
        ("LIST 4", NO_SUCH),
        ("UIDL 99999999999", NO_SUCH),
        ("UIDL -1", NO_SUCH),
        ("TOP 99999999999 1", NO_SUCH),
        ("TOP -1 1", NO_SUCH),
        ("TOP 4 0", NO_SUCH),
        ("TOP 1", "-ERR Syntax: TOP msg lines"),
        ("TOP 1 -1", "-ERR Syntax: TOP msg lines"),
        ("TOP 1 x", "-ERR Syntax: TOP msg lines"),
        ("TOP 1 99999999999", "-ERR Syntax: TOP msg lines"),
        ("USER samt", "-ERR Already logged in"),
        ("PASS mypassword", "-ERR Already logged in"),
        ("XYZZY 1", UNKNOWN),
        ("STAT", "+OK 2 %d" % (len(wires[0]) + len(wires[2]))),
    ], "after login")
    eq(c.cmd("LIST"), "+OK", "LIST")
    eq(c.multi_lines(), ["1 %d" % len(wires[0]), "3 %d" % len(wires[2])],
       "LIST without the deleted message")
    eq(c.cmd("RSET"), "+OK", "RSET")
    eq(c.cmd("RETR 2"), "+OK", "RETR 2 after RSET")
    eq(c.multi_raw(), wires[1], "RETR 2 after RSET")
    quit_closes(c)
    eq(ctx.inst.mbox(USER), data, "mbox after RSET, QUIT")


def test_long_lines(ctx):
    data, wires = fill(ctx)
    for state in ("before login", "after login"):
        c = greet(ctx) if state == "before login" else login(ctx)
        table(c, [
            # RFC 2449 4: a command line of 255 octets is fine
            ("NOOP " + "x" * 250, "+OK"),
            ("NOOP " + "x" * 2000, TOO_LONG),
            ("NOOP", "+OK"),
            ("X" * 100000, TOO_LONG),
            ("RETR 1" + " " * 5000, TOO_LONG),
            ("NOOP", "+OK"),
        ], state)
        if state == "before login":
            eq(c.cmd("USER " + USER), "+OK", "USER after long lines")
            eq(c.cmd("PASS " + PASSWORD), "+OK", "PASS after long lines")
        eq(c.cmd("RETR 1"), "+OK", "RETR 1 after long lines")
        eq(c.multi_raw(), wires[0], "RETR 1 after long lines (%s)" % state)
        quit_closes(c)
    eq(ctx.inst.mbox(USER), data, "mbox")


def test_nul_cr(ctx):
    data, wires = fill(ctx)
    c = greet(ctx)
    table(c, [
        (b"NO\0OP\r\n", NUL_CR),
        (b"USER sa\0mt\r\n", NUL_CR),
        (b"NOOP\rSTAT\r\n", NUL_CR),
        (b"\0\r\n", NUL_CR),
        (b"NOOP\r\n", "+OK"),
    ], "before login")
    eq(c.cmd("USER samt"), "+OK", "USER")
    eq(c.cmd("PASS mypassword"), "+OK", "PASS")
    table(c, [
        (b"RETR 1\0\r\n", NUL_CR),
        (b"DELE\x001\r\n", NUL_CR),
        (b"DELE 1\rDELE 2\r\n", NUL_CR),
        (b"STAT\r\n", "+OK 3 %d" % sum(map(len, wires))),
    ], "after login")
    quit_closes(c)
    eq(ctx.inst.mbox(USER), data, "mbox")


def pipelined(c, data, n):
    """Sends data from a thread while reading n reply lines."""
    err = []

    def send():
        try:
            c.send(data)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=send)
    t.start()
    got = [c.line() for _ in range(n)]
    t.join(30)
    if err:
        raise AssertionError("sending: %s" % err[0])
    return got


def test_pipelined_noops(ctx):
    data, wires = fill(ctx)
    stat = "+OK 3 %d" % sum(map(len, wires))
    # everything at once: login, 10,000 NOOPs, STAT: what the unprivileged
    # child read past PASS goes to the session
    c = T.Pop3.connect(ctx.port, timeout=30)
    got = pipelined(c, b"USER samt\r\nPASS mypassword\r\n" +
                    b"NOOP\r\n" * 10000 + b"STAT\r\n", 3 + 10000 + 1)
    eq(got[:3], ["+OK"] * 3, "greeting, USER, PASS")
    bad = [i for i, l in enumerate(got[3:-1]) if l != "+OK"]
    eq(bad, [], "NOOPs not answered +OK")
    eq(got[-1], stat, "STAT after the NOOPs")
    quit_closes(c)
    # 10,000 before login, then the login; 10,000 after
    c = T.Pop3.connect(ctx.port, timeout=30)
    got = pipelined(c, b"NOOP\r\n" * 10000 + b"USER samt\r\n", 10002)
    eq(got[0], "+OK", "greeting")
    eq([i for i, l in enumerate(got[1:]) if l != "+OK"], [],
       "NOOPs before login not answered +OK")
    eq(c.cmd("PASS mypassword"), "+OK", "PASS")
    got = pipelined(c, b"NOOP\r\n" * 10000 + b"STAT\r\nRETR 3\r\n", 10002)
    eq([i for i, l in enumerate(got[:-2]) if l != "+OK"], [],
       "NOOPs after login not answered +OK")
    eq(got[-2:], [stat, "+OK"], "STAT, RETR 3")
    eq(c.multi_raw(), wires[2], "RETR 3 after the NOOPs")
    quit_closes(c)
    eq(ctx.inst.mbox(USER), data, "mbox")


def test_in_use(ctx):
    data, wires = fill(ctx)
    a = login(ctx)
    eq(a.cmd("DELE 1"), "+OK", "DELE 1 in the first session")
    b = greet(ctx)
    eq(b.cmd("USER samt"), "+OK", "USER (second session)")
    eq(b.cmd("PASS mypassword"), IN_USE, "PASS (second session)")
    if not b.closed():
        raise AssertionError("second session still open after [IN-USE]")
    b.close()
    # AUTH PLAIN too
    b = greet(ctx)
    eq(b.cmd("AUTH PLAIN " + base64.b64encode(b"\0samt\0mypassword")
             .decode()), IN_USE, "AUTH PLAIN (second session)")
    b.close()
    eq(a.cmd("STAT"), "+OK 2 %d" % (len(wires[1]) + len(wires[2])),
       "the first session goes on")
    quit_closes(a)
    eq(ctx.inst.mbox(USER), b"".join(mbox_pieces(data)[1:]),
       "mbox after the first session's QUIT")
    b = login(ctx)
    eq(b.cmd("STAT"), "+OK 2 %d" % (len(wires[1]) + len(wires[2])),
       "a new session after the first quit")
    quit_closes(b)


def mbox_pieces(data):
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    return [data[s:(starts[i + 1] if i + 1 < len(starts) else len(data))]
            for i, s in enumerate(starts)]


def wait_autologout(c, what):
    t = time.time()
    c.sock.settimeout(10)
    try:
        got = c.line()
    except EOFError:
        got = "(the connection closed without a reply)"
    dt = time.time() - t
    eq(got, AUTOLOGOUT, what)
    if not 1.9 <= dt <= 5:
        raise AssertionError("%s after %.2fs, want ~2s" % (what, dt))
    if not c.closed():
        raise AssertionError("connection open after autologout")
    c.close()


def test_autologout_before_login(ctx):
    """The unprivileged child's autologout: greeting, then silence."""
    fill(ctx)
    ctx.conf_with("pop3_timeout 2s\n")
    try:
        c = greet(ctx)
        wait_autologout(c, "autologout before login")
        c = greet(ctx)
        eq(c.cmd("USER samt"), "+OK", "USER")
        wait_autologout(c, "autologout after USER")
        if "autologout: user=-, client=127.0.0.1" not in \
                ctx.inst.log_text():
            raise AssertionError("no autologout log line:\n"
                                 + ctx.inst.log_text()[-2000:])
    finally:
        ctx.conf_with("")


def test_autologout_after_login(ctx):
    """The session's autologout, with a message marked deleted: no UPDATE
    state (RFC 1939 3), so nothing is deleted."""
    data, wires = fill(ctx)
    ctx.conf_with("pop3_timeout 2s\n")
    try:
        c = login(ctx)
        eq(c.cmd("DELE 1"), "+OK", "DELE 1")
        wait_autologout(c, "autologout after login")
        time.sleep(0.2)
        eq(ctx.inst.mbox(USER), data, "mbox after autologout (DELE 1 "
           "must not be done)")
        if "autologout: user=samt, client=127.0.0.1" not in \
                ctx.inst.log_text():
            raise AssertionError("no autologout log line:\n"
                                 + ctx.inst.log_text()[-2000:])
        # activity keeps a session alive past the timeout
        c = login(ctx)
        for _ in range(3):
            time.sleep(1.0)
            eq(c.cmd("NOOP"), "+OK", "NOOP every second")
        quit_closes(c)
    finally:
        ctx.conf_with("")


# ---------------------------------------------------------------------------

TESTS = [
    ("commands before login", test_before_login),
    ("wrong password, unknown user: delay, generic error, log, closing",
     test_wrong_password),
    ("deleted, absent, huge and negative message numbers",
     test_message_numbers),
    ("over-long lines", test_long_lines),
    ("NUL bytes and bare CR", test_nul_cr),
    ("10,000 NOOPs pipelined", test_pipelined_noops),
    ("a second session: [IN-USE]", test_in_use),
    ("autologout before login (pop3_timeout 2s)",
     test_autologout_before_login),
    ("autologout after login (pop3_timeout 2s): nothing deleted",
     test_autologout_after_login),
]


def main():
    T.require_pop3()
    T.require_tool(T.INETD)
    T.require_tool("openssl")
    t0 = time.time()
    inst = T.DeliveryInstance()
    inetd = None
    failed = []
    try:
        T.prepare_spool(inst)
        T.pop3_set_passwords(inst, {USER: PASSWORD})
        port = T.free_port()
        ctx = Ctx(inst, port)
        inetd = T.Inetd(inst.dir, [T.qpop3d_line(port, inst)], [port])
        failed.extend(T.run_cases(TESTS, ctx,
            after_fail=lambda c: c.conf_with("")))
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
