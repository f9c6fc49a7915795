#!/usr/bin/env python3
"""End-to-end: qsmtpd's relay control against a DNS server the test runs.

dnsmasq on 127.0.0.1:PORT serves the test's names; inetmail.conf says
"resolver 127.0.0.1:PORT".  qsmtpd runs with pipes on stdin/stdout (not a
socket) and TCPREMOTEIP set, so it takes the client for a remote one.
Cases, each with its exact reply:

  - an outside client, empty relay-domains: 550 5.7.1 Relaying denied;
  - relay-domains "example.net", client whose PTR relay.example.net has an
    A record leading back (FCrDNS confirmed): accepted, and the name shows
    in the envelope and the Received: field;
  - a PTR name whose A record points elsewhere: denied;
  - of two PTR names, the second confirms: accepted;
  - IP prefixes: "192.0.2" accepts 192.0.2.8 (without asking DNS); "10.2"
    accepts 10.2.3.4 but not 10.20.3.4;
  - recipient domains: ".example.org" accepts sub.example.org, not
    example.org;
  - local domains: an unknown user gets 550 5.1.1 User unknown, while
    postmaster and aliases are known, from any client;
  - DNS failing (REFUSED): 451 4.4.3 Temporary lookup failure.

And no query goes to any server but the test's: qsmtpd runs in a private
mount namespace whose /etc/resolv.conf names a trap server (127.0.0.77:53)
that the test also runs; the trap must stay silent (a control case with
"resolver system" shows it would hear a stray query).  Where the namespace
cannot be made, dnsmasq's --log-queries output is the evidence.

Needs root and dnsmasq.  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
TRAP = "127.0.0.77"
DATE_RE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
           r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
           r"[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}")


eq = T.eq


def dns_query(port, name, qtype=1, host="127.0.0.1", timeout=2):
    """Asks one UDP question; returns (rcode, answer count)."""
    qid = os.getpid() & 0xffff
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    pkt += b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    pkt += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(pkt, (host, port))
        r = s.recv(4096)
    finally:
        s.close()
    flags, _, an = struct.unpack(">HHH", r[2:8])
    return flags & 15, an


class Dnsmasq:
    def __init__(self, workdir, port):
        self.port = port
        self.logpath = os.path.join(workdir, "dnsmasq.log")
        self.logf = open(self.logpath, "w")
        argv = [T.require_tool("dnsmasq"), "--no-daemon", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                "--port=%d" % port, "--listen-address=127.0.0.1",
                "--bind-interfaces", "--log-queries", "--log-facility=-",
                # confirmed: PTR and A agree
                "--ptr-record=7.2.0.192.in-addr.arpa,relay.example.net",
                "--host-record=relay.example.net,192.0.2.7",
                # not confirmed: the PTR name's A record is another address
                "--ptr-record=8.2.0.192.in-addr.arpa,liar.example.net",
                "--address=/liar.example.net/192.0.2.99",
                # two PTR names, only one confirms (dnsmasq 2.90 answers
                # the last one given first; the test checks both are tried)
                "--ptr-record=9.2.0.192.in-addr.arpa,good.example.net",
                "--ptr-record=9.2.0.192.in-addr.arpa,stale.example.net",
                "--address=/good.example.net/192.0.2.9",
                "--address=/stale.example.net/192.0.2.200",
                # these zones are ours: what is not listed does not exist
                # (NXDOMAIN); anything else is REFUSED (a temporary failure)
                "--local=/2.0.192.in-addr.arpa/", "--local=/10.in-addr.arpa/",
                "--local=/example.net/", "--local=/example.org/"]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=subprocess.STDOUT,
                                  start_new_session=True, close_fds=True)
        deadline = time.time() + 10
        while True:
            try:
                if dns_query(port, "relay.example.net", timeout=0.2) == (0, 1):
                    break
            except (OSError, socket.timeout):
                pass
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("dnsmasq did not start:\n" + self.log())
            time.sleep(0.05)
        self.marks = 0

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def mark(self):
        """Returns the log's length once every earlier query is logged."""
        self.marks += 1
        name = "mark-%d.example.net" % self.marks
        dns_query(self.port, name)
        deadline = time.time() + 5
        while time.time() < deadline:
            text = self.log()
            i = text.find("query[A] %s from" % name)
            if i >= 0:
                return text.find("\n", i) + 1
            time.sleep(0.02)
        raise AssertionError("dnsmasq did not log the marker query")

    def queries_since(self, offset):
        """The query lines dnsmasq logged after offset (see mark())."""
        end = self.mark()
        text = self.log()[offset:end]
        return [re.sub(r"^.*?\]: ", "", l) for l in text.split("\n")
                if " query[" in l and " mark-" not in l]

    def stop(self):
        T.kill_group(self.p)
        self.logf.close()


class Trap(threading.Thread):
    """A DNS server on TRAP:53 (UDP and TCP) that notes every question and
    answers SERVFAIL: where qsmtpd would go if it ignored the resolver
    key.  It should hear nothing."""

    def __init__(self):
        super().__init__(daemon=True)
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.u.bind((TRAP, 53))
        self.t.bind((TRAP, 53))
        self.t.listen(5)
        self.heard = []
        self.stopping = False
        self.start()

    def run(self):
        while not self.stopping:
            r, _, _ = select.select([self.u, self.t], [], [], 0.1)
            if self.u in r:
                data, peer = self.u.recvfrom(4096)
                self.heard.append(("udp", peer, data))
                if len(data) >= 12:
                    flags = struct.unpack(">H", data[2:4])[0]
                    reply = data[:2] + struct.pack(
                        ">H", 0x8000 | (flags & 0x0100) | 0x0080 | 2) \
                        + data[4:6] + b"\0\0\0\0\0\0" + data[12:]
                    self.u.sendto(reply, peer)
            if self.t in r:
                conn, peer = self.t.accept()
                self.heard.append(("tcp", peer, b""))
                conn.close()

    def stop(self):
        self.stopping = True
        self.join(2)
        self.u.close()
        self.t.close()


class Ctx:
    def __init__(self, inst, dns, prefix, trap):
        self.inst = inst
        self.dns = dns
        self.prefix = prefix
        self.trap = trap

    def relay_domains(self, *lines):
        with open(self.inst.relay, "w") as f:
            f.write("# relay-domains for this case\n")
            f.write("".join(l + "\n" for l in lines))

    def session(self, ip, helo="client.example"):
        p, c = T.start_qsmtpd_pipes(self.inst, remote_ip=ip,
                                    prefix=self.prefix)
        try:
            eq(c.reply(), "220 %s ESMTP inetmail" % HOST, "greeting")
            r = c.cmd("EHLO " + helo)
            eq(r.split("\n")[0], "250-%s Hello %s [%s], pleased to meet you"
               % (HOST, helo, ip), "EHLO")
        except BaseException:
            T.kill_group(p)
            raise
        return Session(p, c)


class Session:
    def __init__(self, p, c):
        self.p = p
        self.c = c

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                eq(self.c.cmd("QUIT"), "221 2.0.0 %s closing connection"
                   % HOST, "QUIT")
        finally:
            T.kill_group(self.p)
            self.c.sock.close()

    def cmd(self, line):
        return self.c.cmd(line)

    def mail(self, sender="someone@outside.example"):
        eq(self.cmd("MAIL FROM:<%s>" % sender),
           "250 2.1.0 <%s>... Sender ok" % sender, "MAIL")

    def rcpt(self, addr, want):
        eq(self.cmd("RCPT TO:<%s>" % addr), want % ("<%s>" % addr),
           "RCPT TO:<%s>" % addr)


OK = "250 2.1.5 %s... Recipient ok"
DENIED = "550 5.7.1 %s... Relaying denied"
UNKNOWN = "550 5.1.1 %s... User unknown"
TEMPFAIL = "451 4.4.3 %s... Temporary lookup failure"


def test_empty_relay_domains(ctx):
    ctx.relay_domains()
    with ctx.session("192.0.2.7") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", DENIED)
        s.rcpt("carol@example.net", DENIED)
        eq(s.cmd("DATA"), "554 5.5.1 No valid recipients", "DATA")
    if "NOQUEUE: relay=" not in ctx.inst.log_text() or \
            "to=<bob@elsewhere.example>, reject=550 5.7.1 Relaying denied" \
            not in ctx.inst.log_text():
        raise AssertionError("no reject log line:\n" + ctx.inst.log_text())


def test_fcrdns_confirmed(ctx):
    ctx.relay_domains("example.net")
    off = ctx.dns.mark()
    msg = b"Subject: relayed\r\n\r\nvia relay.example.net\r\n"
    with ctx.session("192.0.2.7", helo="relay.example") as s:
        s.mail("someone@relay.example.net")
        s.rcpt("bob@elsewhere.example", OK)
        s.rcpt("dave@far.example", OK)
        eq(s.cmd("DATA"), '354 Enter mail, end with "." on a line by itself',
           "DATA")
        r = s.cmd(msg.decode() + ".")
        m = re.match(r"^250 2\.0\.0 (%s) Message accepted for delivery$"
                     % T.QID_RE, r)
        if not m:
            raise AssertionError("end of data: %r" % r)
        qid = m.group(1)
    q = ctx.dns.queries_since(off)
    for want in ("query[PTR] 7.2.0.192.in-addr.arpa from 127.0.0.1",
                 "query[A] relay.example.net from 127.0.0.1"):
        if want not in q:
            raise AssertionError("dnsmasq did not see %r; it saw %r"
                                 % (want, q))
    with open(os.path.join(ctx.inst.spool, "queue", qid), "rb") as f:
        env, received, body = T.parse_queue_file(f.read())
    eq(T.envelope_values(env, "client"), ["192.0.2.7"], "client")
    eq(T.envelope_values(env, "client-name"), ["relay.example.net"],
       "client-name")
    eq(T.envelope_values(env, "rcpt"), ["bob@elsewhere.example",
                                        "dave@far.example"], "rcpts")
    if not re.match(r"^Received: from relay\.example \(relay\.example\.net "
                    r"\[192\.0\.2\.7\]\)\n\tby %s \(inetmail\) with ESMTP id "
                    r"%s; %s\n$" % (re.escape(HOST), qid, DATE_RE),
                    received.decode()):
        raise AssertionError("Received: %r" % received)
    eq(body, msg.replace(b"\r\n", b"\n"), "message")


def test_fcrdns_not_confirmed(ctx):
    ctx.relay_domains("example.net")
    off = ctx.dns.mark()
    with ctx.session("192.0.2.8", helo="relay.example.net") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", DENIED)
    q = ctx.dns.queries_since(off)
    for want in ("query[PTR] 8.2.0.192.in-addr.arpa from 127.0.0.1",
                 "query[A] liar.example.net from 127.0.0.1"):
        if want not in q:
            raise AssertionError("dnsmasq did not see %r; it saw %r"
                                 % (want, q))


def test_fcrdns_second_name(ctx):
    ctx.relay_domains("good.example.net")
    off = ctx.dns.mark()
    with ctx.session("192.0.2.9") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", OK)
    q = [l for l in ctx.dns.queries_since(off) if "query[A]" in l]
    eq(sorted(q), ["query[A] good.example.net from 127.0.0.1",
                   "query[A] stale.example.net from 127.0.0.1"],
       "A queries for both PTR names")


def test_ip_prefix(ctx):
    ctx.relay_domains("192.0.2")
    off = ctx.dns.mark()
    with ctx.session("192.0.2.8") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", OK)
    q = ctx.dns.queries_since(off)
    if q:
        raise AssertionError("an IP match needs no DNS, yet: %r" % q)


def test_ip_prefix_parts(ctx):
    ctx.relay_domains("10.2")
    with ctx.session("10.2.3.4") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", OK)
    with ctx.session("10.20.3.4") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", DENIED)
    ctx.relay_domains("10.2.")
    with ctx.session("10.2.3.4") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", OK)
    with ctx.session("10.20.3.4") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", DENIED)


def test_recipient_domain(ctx):
    ctx.relay_domains(".example.org")
    with ctx.session("192.0.2.8") as s:
        s.mail()
        s.rcpt("user@sub.example.org", OK)
        s.rcpt("user@deep.sub.example.org", OK)
        s.rcpt("user@example.org", DENIED)
        s.rcpt("user@badexample.org", DENIED)
    ctx.relay_domains("example.org")
    with ctx.session("192.0.2.8") as s:
        s.mail()
        s.rcpt("user@example.org", OK)
        s.rcpt("user@sub.example.org", OK)
        s.rcpt("user@badexample.org", DENIED)


def test_local_users(ctx):
    ctx.relay_domains()
    with open(ctx.inst.lhn, "w") as f:
        f.write("# local-host-names\nother.example\n")
    with ctx.session("192.0.2.8") as s:
        s.mail()
        s.rcpt("nobody@localhost", UNKNOWN)
        s.rcpt("nobody@%s" % HOST, UNKNOWN)
        s.rcpt("nobody@other.example", UNKNOWN)
        s.rcpt("nobody@OTHER.example", UNKNOWN)
        s.rcpt("postmaster@other.example", OK)
        s.rcpt("Postmaster@%s" % HOST, OK)
        s.rcpt("abuse@localhost", OK)           # an alias
        s.rcpt("staff@other.example", OK)       # a list alias
        s.rcpt("samt@other.example", OK)        # a user
        s.rcpt("samt+detail@localhost", OK)
        s.rcpt("alice@%s" % HOST, OK)
        eq(s.cmd("RCPT TO:<postmaster>"), OK % "<postmaster>",
           "RCPT TO:<postmaster>")
        eq(s.cmd("RCPT TO:<nobody>"), UNKNOWN % "<nobody>",
           "RCPT TO:<nobody>")
        s.rcpt("nobody@notlocal.example", DENIED)


def test_dns_tempfail(ctx):
    ctx.relay_domains("example.net")
    with ctx.session("203.0.113.5") as s:
        s.mail()
        s.rcpt("bob@elsewhere.example", TEMPFAIL)
        s.rcpt("samt@localhost", OK)            # local mail needs no DNS


def test_bad_resolver_value(ctx):
    """inetmail.conf(5): resolver is "system", "" or IPv4[:port]; DESIGN.md:
    bad values are errors.  A bad one must not quietly mean "system"."""
    for bad in ("127.0.0.1:99999", "127.0.0.1:53x", "ns.example.net",
                "127.0.0.1:"):
        ctx.inst.write_conf("resolver %s" % bad)
        try:
            p, c = T.start_qsmtpd_pipes(ctx.inst, remote_ip="192.0.2.7",
                                        prefix=ctx.prefix)
            try:
                eq(c.reply(), "421 4.3.0 Configuration error; try later",
                   "greeting with 'resolver %s'" % bad)
            finally:
                T.kill_group(p)
                c.sock.close()
        finally:
            ctx.inst.write_conf("resolver 127.0.0.1:%d" % ctx.dns.port)


def check_trap(ctx):
    if ctx.trap is None:
        return
    if ctx.trap.heard:
        raise AssertionError("queries went to the system's resolver: %r"
                             % ctx.trap.heard)


def control_trap(ctx):
    """With "resolver system" the trap hears qsmtpd: the check has teeth."""
    if ctx.trap is None:
        print("  (no private mount namespace: trap control skipped)")
        return
    ctx.inst.write_conf("resolver system")
    try:
        ctx.relay_domains("example.net")
        with ctx.session("192.0.2.7") as s:
            s.mail()
            s.rcpt("bob@elsewhere.example", TEMPFAIL)
        if not ctx.trap.heard:
            raise AssertionError("the trap heard nothing from 'resolver "
                                 "system'")
        ctx.trap.heard = []
    finally:
        ctx.inst.write_conf("resolver 127.0.0.1:%d" % ctx.dns.port)


TESTS = [
    ("outside client, empty relay-domains: denied", test_empty_relay_domains),
    ("FCrDNS-confirmed client in example.net: accepted",
     test_fcrdns_confirmed),
    ("PTR not confirmed by A: denied", test_fcrdns_not_confirmed),
    ("second PTR name confirms: accepted", test_fcrdns_second_name),
    ("IP prefix 192.0.2: accepted, no DNS", test_ip_prefix),
    ("IP prefix 10.2 vs 10.20.3.4", test_ip_prefix_parts),
    ("recipient domain .example.org", test_recipient_domain),
    ("local users: unknown, postmaster, aliases", test_local_users),
    ("DNS REFUSED: 451 4.4.3", test_dns_tempfail),
    ("no query but to the test's dnsmasq", check_trap),
    ("bad resolver values refused", test_bad_resolver_value),
    ("control: the trap hears 'resolver system'", control_trap),
]


def make_prefix(inst):
    """A wrapper that runs qsmtpd with /etc/resolv.conf naming the trap,
    in a private mount namespace; () if that cannot be done here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    fake = os.path.join(inst.dir, "resolv.conf")
    with open(fake, "w") as f:
        f.write("nameserver %s\n" % TRAP)
    prefix = (unshare, "-m", "sh", "-c",
              'mount --bind "$0" /etc/resolv.conf && exec "$@"', fake)
    try:
        r = subprocess.run(list(prefix) + ["cat", "/etc/resolv.conf"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if r.returncode != 0 or TRAP not in r.stdout.decode():
        return ()
    return prefix


def main():
    T.require_root()
    T.require_tool("dnsmasq")
    t0 = time.time()
    inst = T.Instance()
    dns = trap = None
    failed = []
    try:
        T.prepare_spool(inst)
        dns = Dnsmasq(inst.dir, T.free_port())
        inst.write_conf("resolver 127.0.0.1:%d" % dns.port)
        prefix = make_prefix(inst)
        if prefix:
            try:
                trap = Trap()
            except OSError as e:
                print("  (cannot bind the trap %s:53: %s)" % (TRAP, e))
                prefix = ()
        if not prefix:
            print("  (no private mount namespace: dnsmasq's query log is "
                  "the only evidence that the resolver key is honoured)")
        ctx = Ctx(inst, dns, prefix, trap)
        failed.extend(T.run_cases(TESTS, ctx))
        if failed:
            print("--- maillog ---\n" + inst.log_text())
            print("--- dnsmasq ---\n" + dns.log()[-4000:])
    finally:
        if trap is not None:
            trap.stop()
        if dns is not None:
            dns.stop()
        inst.cleanup()
    print("%d of %d failed; %.1fs" % (len(failed), len(TESTS),
                                      time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
