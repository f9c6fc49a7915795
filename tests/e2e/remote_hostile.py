#!/usr/bin/env python3
"""End-to-end: qrun's SMTP client against peers that misbehave.

A scripted peer on 127.0.0.1 (a Python server, so every byte is the
test's choice) plays the remote host; the smart host points at it.  Each
case, with what must happen:

  - replies with control bytes, a bare CR, DEL and 8-bit bytes in the
    text of a multi-line 450: the recipient is deferred and the reason is
    stored and logged escaped (\\xNN), the log gaining exactly one line;
  - bytes sent right after the 220 to STARTTLS (an injected 250): thrown
    away, logged, and the message still delivered over TLS with the
    capabilities the peer gives after the handshake;
  - a reply line longer than 2048 bytes: the connection is dropped and
    the message deferred (no crash, nothing kept of the line);
  - a peer without PIPELINING: one command at a time, each after the
    reply to the one before;
  - SIZE 100 and a bigger message: returned with 5.3.4, no MAIL sent;
  - no 8BITMIME and a message with 8-bit bytes: returned with 5.6.3;
  - 554 in the greeting: deferred, never MAIL;
  - a peer that closes the connection after DATA: deferred, and the next
    run delivers it;
  - AUTH to the smart host from smtp_secrets: PLAIN, LOGIN, the secret
    never in the -v transcript; a 535 defers (the login is the
    administrator's to fix); a secrets file others can read is not used;
  - a 250 where 354 or 220 belongs: never taken for a delivery;
  - a pipelined MAIL answered 421, then the connection closed: deferred
    with that reply;
  - STARTTLS that breaks: tried again without TLS (opportunistic);
  - a bare CR in the message: sent as CRLF, a following dot stuffed;
  - an address with CR LF in a user's .forward: fails 5.1.3, never in a
    RCPT command.

Needs root and openssl.  Exit 0 pass, 1 fail, 77 skip.
"""
import base64
import os
import re
import socket
import ssl
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
EHLO_FULL = (b"250-peer.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
             b"250 ENHANCEDSTATUSCODES\r\n")


class Peer:
    """Serves connections on port with script(conn) in a thread; what the
    client sent is kept in self.seen (one bytes object per command)."""

    def __init__(self, port, script):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(8)
        self.script = script
        self.seen = []
        self.messages = []
        self.errors = []
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            c.settimeout(10)
            try:
                self.script(self, Conn(c, self))
            except (OSError, EOFError, ssl.SSLError) as e:
                self.errors.append(repr(e))
            finally:
                c.close()

    def stop(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()
        self.t.join(5)


class Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        l, _, self.buf = self.buf.partition(b"\r\n")
        self.peer.seen.append(l)
        return l

    def data(self):
        out = []
        while True:
            l = self.line()
            if l == b".":
                break
            out.append(l[1:] if l.startswith(b".") else l)
        self.peer.messages.append(b"\n".join(out) + b"\n")

    def standard(self, ehlo=EHLO_FULL, after_data=b"250 2.0.0 taken\r\n",
                 replies=None):
        """A plain transaction after the greeting; replies maps a verb
        (b"RCPT", b"DATA"...) to what is said instead of the usual."""
        replies = replies or {}
        while True:
            l = self.line().upper()
            verb = l.split(b" ")[0].split(b":")[0]
            if verb in replies:
                self.send(replies[verb])
            elif l.startswith(b"EHLO"):
                self.send(ehlo)
            elif l.startswith(b"DATA"):
                self.send(b"354 go\r\n")
                self.data()
                self.send(after_data)
            elif l.startswith(b"QUIT"):
                self.send(b"221 bye\r\n")
                return
            else:
                self.send(b"250 2.0.0 ok\r\n")


class Ctx:
    def __init__(self, inst, port):
        self.inst = inst
        self.port = port
        self.peer = None

    def run(self, script, body=b"Subject: hostile\n\nbody\n", conf="",
            rcpt="far@remote.example"):
        """Queues a message for rcpt, runs qrun -I on it with the scripted
        peer; returns (qid, the qrun result)."""
        inst = self.inst
        inst.write_conf("smarthost [127.0.0.1]:%d\nsmtp_timeout 3s\n%s"
                        % (self.port, conf))
        before = inst.queue_files()
        ok_run(inst.qsend(["-odq", "-f", "alice@" + HOST, rcpt], body),
               "qsend")
        qid, = sorted(set(inst.queue_files()) - set(before))
        self.peer = Peer(self.port, script)
        try:
            r = inst.qrun(["-v", "-I", qid])
        finally:
            self.peer.stop()
        return qid, r

    def state_error(self, qid):
        with open(os.path.join(self.inst.spool, "state", qid), "rb") as f:
            data = f.read()
        line = [l for l in data.split(b"\n") if l.startswith(b"t ")][0]
        return spool_unescape(line.rsplit(b" :", 1)[1])

    def drop(self, qid):
        for d in ("queue", "state"):
            try:
                os.unlink(os.path.join(self.inst.spool, d, qid))
            except FileNotFoundError:
                pass


def spool_unescape(b):
    return re.sub(rb"%([0-9A-Fa-f]{2})",
                  lambda m: bytes([int(m.group(1), 16)]), b)


def test_control_bytes(ctx):
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard(replies={
            b"RCPT": b"450-\x1b[31mred\x7f\xff\r\n"
                     b"450 4.2.0 tab\there\x00nul\rcr\r\n",
            b"DATA": b"554 5.5.1 no valid recipients\r\n"})
    lines = ctx.inst.log_text().count("\n")
    qid, r = ctx.run(script)
    err = ctx.state_error(qid)
    # (the first line carries no enhanced status code: 4.0.0)
    eq(err, b"4.0.0 host 127.0.0.1[127.0.0.1] said: 450 \\x1b[31mred\\x7f"
       b"\\xff; 4.2.0 tab\\x09here\\x00nul\\x0dcr (in reply to RCPT TO)",
       "the stored reason")
    log = ctx.inst.log_text()
    eq(log.count("\n") - lines, 2, "log lines: qsend, the deferral, none "
       "more")
    assert "\x1b" not in log and "\r" not in log, "raw bytes in the log"
    ctx.drop(qid)


def tls_files(workdir):
    key, crt = (os.path.join(workdir, "hostile.key"),
                os.path.join(workdir, "hostile.crt"))
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                        "-subj", "/CN=peer.test"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, crt


def test_starttls_injection(ctx):
    key, crt = tls_files(ctx.inst.dir)

    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        l = c.line()
        assert l.upper().startswith(b"EHLO"), l
        c.send(b"250-peer.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
        l = c.line()
        assert l.upper() == b"STARTTLS", l
        # the reply and an injected one in the same segment
        c.send(b"220 2.0.0 go ahead\r\n250-peer.test\r\n250 AUTH PLAIN\r\n")
        tctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tctx.load_cert_chain(crt, key)
        c.sock = tctx.wrap_socket(c.sock, server_side=True)
        c.buf = b""
        c.send(b"")
        l = c.line()
        assert l.upper().startswith(b"EHLO"), l
        c.send(b"250-peer.test\r\n250 8BITMIME\r\n")
        c.standard()
    c0 = ctx.inst.log_text()
    qid, r = ctx.run(script)
    assert qid not in ctx.inst.queue_files(), r.stderr
    eq(len(ctx.peer.messages), 1, "the peer got it")
    T.match_search(r"discarded 31 bytes sent before the TLS handshake",
                   ctx.inst.log_text()[len(c0):], "the warning")
    T.match_search(r"TLS started with 127\.0\.0\.1\[127\.0\.0\.1\]",
                   r.stderr, "TLS started")
    assert b"AUTH" not in b"".join(ctx.peer.seen), "acted on injected AUTH"


def test_long_line(ctx):
    def script(peer, c):
        c.send(b"220 " + b"x" * 5000 + b"\r\n")
        time.sleep(1)
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), True, "deferred")
    eq(ctx.state_error(qid), b"4.4.2 lost connection with 127.0.0.1"
       b"[127.0.0.1] while receiving the initial greeting: Protocol error",
       "the reason")
    ctx.drop(qid)


def test_no_pipelining(ctx):
    order = []

    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        while True:
            c.sock.settimeout(0.3)
            l = c.line()
            # nothing more may be waiting: the client waits for replies
            try:
                extra = c.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except (BlockingIOError, socket.timeout):
                extra = b""
            order.append((l.split(b" ")[0].split(b":")[0].upper(),
                          bool(extra) or bool(c.buf)))
            c.sock.settimeout(10)
            u = l.upper()
            if u.startswith(b"EHLO"):
                c.send(b"250-peer.test\r\n250 8BITMIME\r\n")
            elif u.startswith(b"DATA"):
                c.send(b"354 go\r\n")
                c.data()
                c.send(b"250 ok\r\n")
            elif u.startswith(b"QUIT"):
                c.send(b"221 bye\r\n")
                return
            else:
                c.send(b"250 ok\r\n")
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), False, "delivered")
    eq([v for v, _ in order], [b"EHLO", b"MAIL", b"RCPT", b"DATA", b"QUIT"],
       "commands")
    eq([x for _, x in order if x], [], "a command sent before the reply")


def test_size(ctx):
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard(ehlo=b"250-peer.test\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
    n0 = len(ctx.inst.messages("alice"))
    qid, r = ctx.run(script, body=b"Subject: big\n\n" + b"x" * 200 + b"\n")
    eq(qid in ctx.inst.queue_files(), False, "returned")
    eq([l for l in ctx.peer.seen if l.upper().startswith(b"MAIL")], [],
       "no MAIL sent")
    t = ctx.inst.wait_messages("alice", n0 + 1)[n0].text.decode()
    T.match_search(r"\nStatus: 5\.3\.4\n", t, "the bounce")


def test_8bit(ctx):
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard(ehlo=b"250-peer.test\r\n250 PIPELINING\r\n")
    n0 = len(ctx.inst.messages("alice"))
    qid, r = ctx.run(script, body="Subject: caf\u00e9\n\nna\u00efve\n"
                     .encode("utf-8"))
    eq(qid in ctx.inst.queue_files(), False, "returned")
    eq(ctx.peer.messages, [], "nothing sent")
    t = ctx.inst.wait_messages("alice", n0 + 1)[n0].text.decode(
        "utf-8", "replace")
    T.match_search(r"\nStatus: 5\.6\.3\n", t, "the bounce")


def test_554_greeting(ctx):
    def script(peer, c):
        c.send(b"554 5.7.1 go away\r\n")
        try:
            while True:
                c.line()
                c.send(b"503 5.5.1 no\r\n")
        except (EOFError, OSError):
            pass
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), True,
       "deferred (the next host may differ)")
    eq([l for l in ctx.peer.seen if l.upper().startswith(b"MAIL")], [],
       "no MAIL")
    eq(ctx.state_error(qid), b"4.7.1 host 127.0.0.1[127.0.0.1] said: 554 "
       b"5.7.1 go away (in reply to the initial greeting)",
       "the reason, made temporary")
    ctx.drop(qid)


def test_close_after_data(ctx):
    def rude(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        while True:
            u = c.line().upper()
            if u.startswith(b"EHLO"):
                c.send(EHLO_FULL)
            elif u.startswith(b"DATA"):
                c.send(b"354 go\r\n")
                c.data()
                return            # no reply: the connection closes
            else:
                c.send(b"250 ok\r\n")
    qid, r = ctx.run(rude)
    eq(qid in ctx.inst.queue_files(), True, "deferred")
    T.match_search(r"^4\.4\.2 lost connection with 127\.0\.0\.1\[127\.0\.0\.1"
                   r"\] while sending the message",
                   ctx.state_error(qid).decode(), "the reason")

    def good(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard()
    ctx.peer = Peer(ctx.port, good)
    try:
        ok_run(ctx.inst.qrun(["-I", qid]), "the next run")
    finally:
        ctx.peer.stop()
    eq(qid in ctx.inst.queue_files(), False, "delivered by the next run")
    eq(len(ctx.peer.messages), 1, "the peer got it")


def auth_peer(mechs, answer=b"235 2.7.0 ok\r\n"):
    """A peer offering AUTH mechs; it records what the client says."""
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        l = c.line()
        c.send(b"250-peer.test\r\n250-PIPELINING\r\n250-AUTH " + mechs +
               b"\r\n250 8BITMIME\r\n")
        l = c.line()
        if l.upper() == b"AUTH LOGIN":
            c.send(b"334 VXNlcm5hbWU6\r\n")
            c.line()
            c.send(b"334 UGFzc3dvcmQ6\r\n")
            c.line()
            c.send(answer)
        elif l.upper().startswith(b"AUTH PLAIN "):
            c.send(answer)
        else:                   # no AUTH: the transaction itself
            c.buf = l + b"\r\n" + c.buf
            peer.seen.pop()
        if not answer.startswith(b"235") and l.upper().startswith(b"AUTH"):
            c.line()
            c.send(b"221 bye\r\n")
            return
        c.standard()
    return script


def secrets(ctx, mode=0o600):
    path = os.path.join(ctx.inst.dir, "smtp-secrets")
    with open(path, "w") as f:
        f.write("# ISP login\n[127.0.0.1]:%d samt s3cr3t word\n" % ctx.port)
    os.chmod(path, mode)
    return "smtp_secrets %s\n" % path


def test_auth_plain(ctx):
    qid, r = ctx.run(auth_peer(b"PLAIN LOGIN"), conf=secrets(ctx))
    eq(qid in ctx.inst.queue_files(), False, "delivered")
    auth = [l for l in ctx.peer.seen if l.upper().startswith(b"AUTH")]
    eq(auth, [b"AUTH PLAIN " + base64.b64encode(b"\0samt\0s3cr3t word")],
       "AUTH PLAIN with the secret")
    T.match_search(r"\n>>> AUTH PLAIN \(credentials hidden\)\n235 ", r.stderr,
                   "the transcript")
    assert "s3cr3t" not in r.stderr and base64.b64encode(
        b"\0samt\0s3cr3t word").decode() not in r.stderr, "secret shown"


def test_auth_login(ctx):
    qid, r = ctx.run(auth_peer(b"LOGIN"), conf=secrets(ctx))
    eq(qid in ctx.inst.queue_files(), False, "delivered")
    i = ctx.peer.seen.index(b"AUTH LOGIN")
    eq(ctx.peer.seen[i + 1:i + 3], [base64.b64encode(b"samt"),
       base64.b64encode(b"s3cr3t word")], "user and password")
    assert base64.b64encode(b"s3cr3t word").decode() not in r.stderr, \
        "password shown"


def test_auth_refused(ctx):
    qid, r = ctx.run(auth_peer(b"PLAIN", b"535 5.7.8 bad credentials\r\n"),
                     conf=secrets(ctx))
    eq(qid in ctx.inst.queue_files(), True, "kept: the login is ours to fix")
    eq(ctx.state_error(qid), b"4.7.8 host 127.0.0.1[127.0.0.1] said: 535 "
       b"5.7.8 bad credentials (in reply to AUTH)", "the reason")
    ctx.drop(qid)


def test_auth_secrets_readable(ctx):
    log0 = len(ctx.inst.log_text())
    qid, r = ctx.run(auth_peer(b"PLAIN"), conf=secrets(ctx, 0o644))
    eq([l for l in ctx.peer.seen if l.upper().startswith(b"AUTH")], [],
       "no AUTH from a file others can read")
    T.match_search(r"smtp-secrets: not used: must be owned by uid 0 and not "
                   r"readable by others", ctx.inst.log_text()[log0:],
                   "the log says why")
    ctx.drop(qid)


def test_250_to_data(ctx):
    """A 2xx where 354 belongs is no delivery: the recipient waits."""
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard(replies={b"DATA": b"250 2.0.0 sure\r\n"})
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), True, "not delivered: deferred")
    eq(ctx.state_error(qid), b"4.0.0 host 127.0.0.1[127.0.0.1] said: 250 "
       b"2.0.0 sure (in reply to DATA)", "the reason")
    ctx.drop(qid)


def test_250_greeting(ctx):
    def script(peer, c):
        c.send(b"250 hello there\r\n")
        try:
            while True:
                c.line()
                c.send(b"250 ok\r\n")
        except (EOFError, OSError):
            pass
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), True, "not delivered: deferred")
    ctx.drop(qid)


def test_421_then_close(ctx):
    """A pipelined MAIL answered 421 and the connection closed (a peer
    that timed the session out): deferred with that reply, not blank."""
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.line()
        c.send(EHLO_FULL)
        c.line()
        c.send(b"421 4.4.2 peer.test timeout exceeded\r\n")
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), True, "deferred")
    eq(ctx.state_error(qid), b"4.4.2 host 127.0.0.1[127.0.0.1] said: 421 "
       b"4.4.2 peer.test timeout exceeded (in reply to MAIL FROM)",
       "the reason")
    ctx.drop(qid)


def test_starttls_broken(ctx):
    """Opportunistic TLS: a STARTTLS refused (454) or a broken handshake
    is tried once more without TLS, and the mail goes."""
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.line()
        c.send(b"250-peer.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
        l = c.line()
        if l.upper() == b"STARTTLS":
            c.send(b"220 go ahead\r\n")
            c.send(b"this is not TLS\r\n")
            time.sleep(0.2)
            return
        c.buf = l + b"\r\n" + c.buf
        c.standard()
    qid, r = ctx.run(script)
    eq(qid in ctx.inst.queue_files(), False, "delivered without TLS")
    eq(len(ctx.peer.messages), 1, "the peer got it")
    T.match_search(r"STARTTLS failed: trying again without TLS",
                   ctx.inst.log_text(), "logged")


def test_bare_cr(ctx):
    """A bare CR in a message (qsend keeps it) goes out as a line end, so
    no peer can read a lone CR or "\r." as anything else."""
    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard()
    qid, r = ctx.run(script, body=b"Subject: cr\n\none\r.two\rthree\n")
    eq(qid in ctx.inst.queue_files(), False, "delivered")
    raw = [l for l in ctx.peer.seen if l.startswith(b"..two") or
           b"\r" in l]
    eq(raw, [b"..two"], "the CR became CRLF, the dot is stuffed")
    eq(ctx.peer.messages[0].endswith(b"\none\n.two\nthree\n"), True,
       "the message as the peer reads it")


def test_forward_injection(ctx):
    """An address with CR LF in a .forward (user input) never reaches a
    RCPT command: it fails 5.1.3; the good one beside it goes."""
    inst = ctx.inst
    fwd = os.path.join(inst.homes["bob"], ".forward")
    with open(fwd, "wb") as f:
        f.write(b'"x@r.example>\r\nRCPT To:<evil@r.example"@r.example, '
                b"good@r.example\n")
    os.chown(fwd, inst.uids["bob"], inst.uids["bob"])

    def script(peer, c):
        c.send(b"220 peer.test ESMTP\r\n")
        c.standard()
    try:
        qid, r = ctx.run(script, rcpt="bob@" + HOST)
    finally:
        os.unlink(fwd)
    rcpts = [l for l in ctx.peer.seen if l.upper().startswith(b"RCPT")]
    eq(rcpts, [b"RCPT To:<good@r.example>"], "RCPT commands")
    T.match_search(r"dsn=5\.1\.3, stat=Bad recipient address syntax",
                   ctx.inst.log_text(), "the bad one failed")


TESTS = [
    ("control bytes in a reply: stored and logged escaped",
     test_control_bytes),
    ("bytes after 220 to STARTTLS: discarded", test_starttls_injection),
    ("an over-long reply line: dropped, deferred", test_long_line),
    ("no PIPELINING: one command at a time", test_no_pipelining),
    ("SIZE too small: returned unsent (5.3.4)", test_size),
    ("8-bit to a 7-bit peer: returned (5.6.3)", test_8bit),
    ("554 greeting: deferred, no MAIL", test_554_greeting),
    ("closed after DATA: deferred, delivered later", test_close_after_data),
    ("AUTH PLAIN from smtp_secrets, the secret not shown", test_auth_plain),
    ("AUTH LOGIN", test_auth_login),
    ("AUTH refused: deferred, not returned", test_auth_refused),
    ("smtp_secrets readable by others: not used", test_auth_secrets_readable),
    ("250 to DATA: not delivered", test_250_to_data),
    ("250 as the greeting: not delivered", test_250_greeting),
    ("421 to a pipelined MAIL, then closed: deferred with it",
     test_421_then_close),
    ("STARTTLS broken: again without TLS", test_starttls_broken),
    ("a bare CR: sent as a line end", test_bare_cr),
    ("CR LF in a .forward address: never in a RCPT", test_forward_injection),
]


def main():
    T.require_delivery_users()
    T.require_tool("/usr/bin/openssl")
    inst = T.DeliveryInstance()
    failed = []
    try:
        T.prepare_spool(inst)
        ctx = Ctx(inst, T.free_port())
        def report():
            if ctx.peer is not None and ctx.peer.errors:
                print("--- peer ---\n%s" % ctx.peer.errors)
            print("--- maillog ---\n" + inst.log_text()[-6000:])
        failed = T.run_cases(TESTS, ctx, report)
    finally:
        inst.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
