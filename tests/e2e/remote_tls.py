#!/usr/bin/env python3
"""End-to-end: STARTTLS to a peer that offers it.

The peer is a private Postfix (postfix -c DIR, smtpd on a 127.0.0.1 high
port, a self-signed certificate for "localhost" made by openssl, every
message parked in the hold queue).  The smart host is [localhost]:PORT.
Cases:

  - opportunistic (the default): the message travels encrypted: our log
    line names the TLS version and cipher, Postfix logs the TLS session
    and the message; `qsend -v` shows the STARTTLS step;
  - tls_policy "verify" with the certificate as tls_ca_file: delivered,
    "certificate verified";
  - tls_policy "verify" with another CA: the handshake fails, the message
    is deferred with 4.7.5 and nothing is sent in clear;
  - tls_policy "none": no STARTTLS.

Needs root, postfix and openssl.  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
POSTFIX = "/usr/sbin/postfix"
eq = T.eq
ok_run = T.ok_run

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def openssl_cert(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, crt


class Postfix:
    def __init__(self, workdir, port):
        self.d = os.path.join(workdir, "postfix")
        self.etc = os.path.join(self.d, "etc")
        self.queue = os.path.join(self.d, "queue")
        data = os.path.join(self.d, "data")
        for p in (self.etc, self.queue, data):
            os.makedirs(p)
        subprocess.run(["chown", "postfix:", data], check=True)
        self.key, self.crt = openssl_cert(self.d, "peer")
        self.maillog = os.path.join(self.d, "maillog")
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("""compatibility_level = 3.6
queue_directory = {q}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = peer.invalid
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = check_client_access static:HOLD
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_tls_security_level = may
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
maillog_file = {log}
maillog_file_prefixes = {log}
biff = no
""".format(q=self.queue, data=data, crt=self.crt, key=self.key,
           log=self.maillog))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=port))
        r = subprocess.run([POSTFIX, "-c", self.etc, "start"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed:\n" + r.stdout.decode())
        deadline = time.time() + 15
        while not T.tcp_listening(port):
            if time.time() > deadline:
                raise RuntimeError("postfix does not listen:\n" + self.log())
            time.sleep(0.1)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while not re.search(pattern, self.log()):
            if time.time() > deadline:
                raise AssertionError("postfix log has no %r:\n%s"
                                     % (pattern, self.log()[-3000:]))
            time.sleep(0.05)

    def stop(self):
        subprocess.run([POSTFIX, "-c", self.etc, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidf = os.path.join(self.queue, "pid", "master.pid")
        try:
            pid = int(open(pidf).read().strip())
            os.kill(pid, 9)
        except (OSError, ValueError):
            pass


class Ctx:
    def __init__(self, inst, port, pf):
        self.inst = inst
        self.port = port
        self.pf = pf
        self.policy = os.path.join(inst.dir, "tls_policy")

    def conf(self, extra=""):
        self.inst.write_conf("smarthost [localhost]:%d\nsmtp_timeout 10s\n"
                             "tls_policy %s\ntrigger %s/trigger\n%s"
                             % (self.port, self.policy, self.inst.spool,
                                extra))

    def set_policy(self, text):
        with open(self.policy, "w") as f:
            f.write(text)


def send(inst, rcpt, args=("-odq",)):
    """qsend; -odq (the default here) leaves delivery to the test."""
    before = inst.queue_files()
    r = ok_run(inst.qsend(list(args) + ["-f", "alice@" + HOST, rcpt],
                          b"Subject: secret\n\nover TLS\n"), "qsend")
    new = sorted(set(inst.queue_files()) - set(before))
    return new[0] if new else None, r


def test_opportunistic(ctx):
    inst = ctx.inst
    ctx.set_policy("# none\n")
    ctx.conf()
    qid, _ = send(inst, "tls@far.example")
    r = ok_run(inst.qrun(["-v", "-I", qid]), "qrun -v")
    eq(inst.queue_files(), [], "queue")
    T.match_search(r"%s\[127\.0\.0\.1\]: TLS TLSv1\.[23], cipher [A-Z0-9_-]+,"
                   r" certificate not verified" % "localhost",
                   inst.log_text(), "our TLS log line")
    T.match_search(r"to=<tls@far\.example>, .*relay=localhost\[127\.0\.0\.1\]"
                   r", stat=Sent \(250 2\.0\.0 Ok: queued as ", inst.log_text(),
                   "delivered")
    ctx.pf.wait_log(r"TLS connection established from [^\n]*127\.0\.0\.1"
                    r"\]: TLSv1\.[23] with cipher")
    # (qrun -v also copies its log lines to stderr: one may come between)
    T.match_search(r">>> STARTTLS\n220 [^\n]*\n(?:[^\n]*: TLS [^\n]*\n)?"
                   r"TLS started with localhost"
                   r"\[127\.0\.0\.1\]: TLSv1\.[23], cipher [^\n]*\n>>> EHLO ",
                   r.stderr, "qrun -v shows the TLS step")


def test_qsend_verbose(ctx):
    """qsend -v through the trigger (qrun -t under inetd) prints the
    conversation, the TLS step included; verify, with the right CA."""
    inst = ctx.inst
    ctx.set_policy("[localhost]:%d verify\n" % ctx.port)
    ctx.conf("tls_ca_file %s\n" % ctx.pf.crt)
    qid, r = send(inst, "verified@far.example", ["-v"])
    eq(qid, None, "nothing left in the queue")
    T.match_search(r">>> STARTTLS\n220 [^\n]*\nTLS started with localhost"
                   r"\[127\.0\.0\.1\]: TLSv1\.[23], cipher [^\n]*, "
                   r"certificate verified\n>>> EHLO ", r.stdout,
                   "qsend -v shows the TLS step")
    T.match_search(r"\nverified@far\.example\.\.\. Sent \(250 2\.0\.0 Ok: "
                   r"queued as ", r.stdout, "and the outcome")


def test_verify_fails(ctx):
    inst = ctx.inst
    _, other = openssl_cert(inst.dir, "other")
    ctx.set_policy("[localhost]:%d verify\n" % ctx.port)
    ctx.conf("tls_ca_file %s\n" % other)
    n = ctx.pf.log().count("TLS connection established")
    qid, _ = send(inst, "unverified@far.example")
    ok_run(inst.qrun(["-I", qid]), "qrun")
    eq(inst.queue_files(), [qid], "deferred, still queued")
    st = open(os.path.join(inst.spool, "state", qid)).read()
    T.match_search(r"4\.7\.5 TLS handshake with localhost\[127\.0\.0\.1\] "
                   r"failed", st.replace("%20", " "), "the reason")
    time.sleep(0.5)
    eq(ctx.pf.log().count("TLS connection established"), n,
       "no TLS session completed")
    os.unlink(os.path.join(inst.spool, "queue", qid))
    os.unlink(os.path.join(inst.spool, "state", qid))


def test_policy_none(ctx):
    inst = ctx.inst
    ctx.set_policy("[localhost]:%d none\n" % ctx.port)
    ctx.conf()
    qid, _ = send(inst, "clear@far.example")
    r = ok_run(inst.qrun(["-v", "-I", qid]), "qrun -v")
    eq(inst.queue_files(), [], "queue")
    eq(">>> STARTTLS" in r.stderr, False, "no STARTTLS with policy none")


TESTS = [
    ("opportunistic STARTTLS: encrypted, logged", test_opportunistic),
    ("qsend -v, verify with the right CA", test_qsend_verbose),
    ("verify with a wrong CA: deferred, nothing sent", test_verify_fails),
    ("policy none: no STARTTLS", test_policy_none),
]


def main():
    T.require_delivery_users()
    T.require_tool(POSTFIX)
    T.require_tool("/usr/bin/openssl")
    T.require_tool(T.INETD)
    inst = T.DeliveryInstance()
    pf = None
    inetd = None
    failed = []
    try:
        T.prepare_spool(inst)
        port = T.free_port()
        pf = Postfix(inst.dir, port)
        ctx = Ctx(inst, port, pf)
        ctx.conf()
        trigger = "%s/trigger" % inst.spool
        inetd = T.Inetd(inst.dir, ["%s stream unix nowait root %s qrun -t "
                                   "-C %s" % (trigger, T.QRUN, inst.conf)], [])
        deadline = time.time() + 5
        while not os.path.exists(trigger) and time.time() < deadline:
            time.sleep(0.02)
        def report():
            print("--- maillog ---\n" + inst.log_text()[-6000:])
            print("--- postfix ---\n" + pf.log()[-3000:])
        failed = T.run_cases(TESTS, ctx, report)
    finally:
        if inetd is not None:
            inetd.stop()
        if pf is not None:
            pf.stop()
        inst.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
