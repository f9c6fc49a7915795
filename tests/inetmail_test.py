"""Shared helpers for inetmail's protocol and end-to-end tests.

An Instance is a private inetmail: its own directory, config, spool,
passwd-file and log, so tests never touch the machine's mail setup.  When
the tests run as root, the spool belongs to the spool user (inetmail) and
the programs drop to it, as they do when inetd starts them.
"""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("TOP_BUILDDIR",
                       os.path.join(os.path.dirname(__file__), ".."))
SRC = os.environ.get("TOP_SRCDIR",
                     os.path.join(os.path.dirname(__file__), ".."))
QSMTPD = os.path.abspath(os.path.join(BUILD, "src/qsmtpd/qsmtpd"))
SPOOL_USER = "inetmail"
IS_ROOT = os.geteuid() == 0
QID_RE = r"[0-9A-Za-z]{15}"


class Instance:
    def __init__(self, extra="", hostname="mail.example.com", users=None):
        self.dir = tempfile.mkdtemp(prefix="inetmail-test-")
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            # the spool user lays the spool out on first use
            pw = pwd.getpwnam(SPOOL_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.spool = os.path.join(self.dir, "spool")
        self.conf = os.path.join(self.dir, "inetmail.conf")
        self.passwd = os.path.join(self.dir, "passwd")
        self.aliases = os.path.join(self.dir, "aliases")
        self.log = os.path.join(self.dir, "maillog")
        self.relay = os.path.join(self.dir, "relay-domains")
        self.lhn = os.path.join(self.dir, "local-host-names")
        self.hostname = hostname
        if users is None:
            users = ["samt", "alice"]
        with open(self.passwd, "w") as f:
            for i, u in enumerate(users):
                f.write("%s:*:%d:%d::/home/%s:/bin/sh\n" % (u, 2000 + i, 2000 + i, u))
        with open(self.aliases, "w") as f:
            f.write("# test aliases\nabuse: samt\nstaff: samt,\n  alice\n")
        open(self.relay, "w").close()
        open(self.lhn, "w").close()
        self.write_conf(extra)

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write("hostname %s\nspool %s\nusers passwd-file:%s\n"
                    "aliases %s\nlocal_host_names %s\nrelay_domains %s\n"
                    "log_file %s\ntrigger none\n%s\n" % (
                        self.hostname, self.spool, self.passwd, self.aliases,
                        self.lhn, self.relay, self.log, extra))

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def queue_files(self):
        q = os.path.join(self.spool, "queue")
        return sorted(os.listdir(q)) if os.path.isdir(q) else []

    def tmp_files(self):
        q = os.path.join(self.spool, "tmp")
        return sorted(os.listdir(q)) if os.path.isdir(q) else []

    def read_queue(self, qid):
        with open(os.path.join(self.spool, "queue", qid), "rb") as f:
            data = f.read()
        head, _, body = data.partition(b"\n\n")
        return head.decode("utf-8", "replace") + "\n", body

    def message(self, qid):
        """The queued message without the envelope and our trace header."""
        _, body = self.read_queue(qid)
        m = re.match(rb"Received: [^\n]*\n(\t[^\n]*\n)*", body)
        assert m, body[:200]
        return body[m.end():]

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start_qsmtpd_pipes(self, client_ip):
        """qsmtpd on pipes with TCPREMOTEIP, as tcpserver would run it."""
        env = dict(os.environ, TCPREMOTEIP=client_ip)
        return subprocess.Popen([QSMTPD, "-C", self.conf],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)

    def start_qsmtpd(self, env=None):
        """qsmtpd on one end of a socketpair, as inetd would run it."""
        a, b = socket.socketpair()
        p = subprocess.Popen([QSMTPD, "-C", self.conf], stdin=b, stdout=b,
                             stderr=subprocess.DEVNULL, close_fds=True,
                             env=env)
        b.close()
        return p, a


class Client:
    """A raw SMTP client over a socket: sends bytes, reads whole replies."""

    def __init__(self, sock, timeout=10):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        l, _, self.buf = self.buf.partition(b"\r\n")
        return l.decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply, lines joined by \\n."""
        lines = [self.line()]
        while len(lines[-1]) >= 4 and lines[-1][3] == "-":
            lines.append(self.line())
        return "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True if the server closed the connection (EOF) in time."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


# ---------------------------------------------------------------------------
# Helpers for the end-to-end tests (tests/e2e/): skipping, free ports, a
# spool the dropped-privilege qsmtpd can write, a real openbsd-inetd, a
# qsmtpd on pipes (a "remote" client via TCPREMOTEIP), queue-file parsing.

import select
import signal
import sys

SKIP = 77
INETD = "/usr/sbin/inetd"
SPOOL_VERSION = b"inetmail-queue 1"


def skip(why):
    """Ends the test as skipped (automake's 77)."""
    print("SKIP: %s" % why)
    sys.stdout.flush()
    sys.exit(SKIP)


def require_root():
    """Skips unless root and the spool user exists (qsmtpd drops to it)."""
    if not IS_ROOT:
        skip("needs root (qsmtpd drops to the spool user)")
    try:
        pwd.getpwnam(SPOOL_USER)
    except KeyError:
        skip("spool user %s missing (useradd -r -M -s /usr/sbin/nologin %s)"
             % (SPOOL_USER, SPOOL_USER))
    if not os.access(QSMTPD, os.X_OK):
        skip("%s not built" % QSMTPD)


def require_tool(name):
    """Returns the tool's path, or skips the test when it is missing."""
    path = name if os.path.isabs(name) else shutil.which(name)
    if path is None or not os.access(path, os.X_OK):
        skip("%s not installed" % name)
    return path


def free_port():
    """A loopback port free for both TCP and UDP right now."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port")


def prepare_spool(inst):
    """Creates inst's spool as an installation would: root:spool-group,
    subdirectories writable by the spool user (when root)."""
    os.makedirs(inst.spool, exist_ok=True)
    subdirs = [os.path.join(inst.spool, d)
               for d in ("tmp", "queue", "state", "bad", "lock")]
    for d in subdirs:
        os.makedirs(d, exist_ok=True)
    if IS_ROOT:
        pw = pwd.getpwnam(SPOOL_USER)
        os.chown(inst.spool, 0, pw.pw_gid)
        os.chmod(inst.spool, 0o750)
        for d in subdirs:
            os.chown(d, pw.pw_uid, pw.pw_gid)
            os.chmod(d, 0o770)


def tcp_listening(port, host="127.0.0.1"):
    """True if something LISTENs on host:port (IPv4), per /proc/net/tcp."""
    want = "%s:%04X" % ("".join("%02X" % int(b) for b in
                                reversed(host.split("."))), port)
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                w = line.split()
                if len(w) > 3 and w[1] == want and w[3] == "0A":
                    return True
    except OSError:
        pass
    return False


def kill_group(p, sig=signal.SIGKILL):
    """Signals the group of a process started with start_new_session=True
    (it and whatever it forked), then reaps it.  A process already reaped
    is left alone: its pid may belong to someone else by now."""
    if p is None:
        return
    if p.returncode is None:
        try:
            os.killpg(p.pid, sig)
        except OSError:
            pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class Inetd:
    """A real openbsd-inetd in the foreground (-d) with a private config,
    serving lines of the form '127.0.0.1:PORT stream tcp ...'."""

    def __init__(self, workdir, lines, ports, timeout=10):
        self.conf = os.path.join(workdir, "inetd.conf")
        self.logpath = os.path.join(workdir, "inetd.log")
        with open(self.conf, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        self.logf = open(self.logpath, "w")
        self.p = subprocess.Popen([INETD, "-d", "-R", "1000000", self.conf],
                                  stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT,
                                  start_new_session=True, close_fds=True)
        deadline = time.time() + timeout
        while not all(tcp_listening(p) for p in ports):
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("inetd did not start:\n" + self.log())
            time.sleep(0.02)

    def log(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.p is not None:
            kill_group(self.p, signal.SIGKILL)
            self.p = None
        self.logf.close()


def qsmtpd_line(port, inst):
    """The inetd.conf line that serves inst's qsmtpd on 127.0.0.1:port."""
    return ("127.0.0.1:%d stream tcp nowait.1000000 root %s qsmtpd -C %s"
            % (port, QSMTPD, inst.conf))


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return Client(s, timeout)


class PipeConn:
    """A pipe pair that looks enough like a socket for Client."""

    def __init__(self, wfile, rfile):
        self.w = wfile.fileno()
        self.r = rfile.fileno()
        self._files = (wfile, rfile)
        self.timeout = 10

    def settimeout(self, t):
        self.timeout = t

    def sendall(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.w, view)
            view = view[n:]

    def recv(self, n):
        r, _, _ = select.select([self.r], [], [], self.timeout)
        if not r:
            raise socket.timeout("timed out")
        return os.read(self.r, n)

    def close(self):
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass


def start_qsmtpd_pipes(inst, remote_ip=None, env=None, prefix=()):
    """qsmtpd with pipes (not a socket) on stdin/stdout; with remote_ip it
    takes TCPREMOTEIP, as under tcpserver.  prefix: argv words to run it
    under (a wrapper that execs it).  Returns (Popen, Client)."""
    e = dict(os.environ if env is None else env)
    e.pop("TCPREMOTEIP", None)
    if remote_ip is not None:
        e["TCPREMOTEIP"] = remote_ip
    p = subprocess.Popen(list(prefix) + [QSMTPD, "-C", inst.conf],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, close_fds=True, env=e,
                         start_new_session=True)
    return p, Client(PipeConn(p.stdin, p.stdout))


def parse_queue_file(data):
    """Splits a queue file into (envelope list of (key, value), Received
    field bytes, message bytes).  Raises ValueError if it does not parse."""
    if not data.startswith(SPOOL_VERSION + b"\n"):
        raise ValueError("no version line")
    head, sep, rest = data[len(SPOOL_VERSION) + 1:].partition(b"\n\n")
    if not sep:
        raise ValueError("envelope not terminated")
    env = []
    for line in head.split(b"\n"):
        k, _, v = line.partition(b" ")
        if not re.match(rb"^[a-z][a-z0-9-]*$", k):
            raise ValueError("bad envelope line %r" % line)
        env.append((k.decode(), v.decode("utf-8", "replace")))
    keys = [k for k, _ in env]
    if "id" not in keys or "rcpt" not in keys or "sender" not in keys:
        raise ValueError("envelope lacks id, sender or rcpt: %r" % keys)
    m = re.match(rb"Received: [^\n]*\n(\t[^\n]*\n)*", rest)
    if not m:
        raise ValueError("no Received: field")
    return env, rest[:m.end()], rest[m.end():]


def envelope_values(env, key):
    return [v for k, v in env if k == key]


def crlf_to_spool(msg):
    """What the spool holds for a message sent with CRLF line ends and
    dot-stuffing already undone: LF line ends."""
    return msg.replace(b"\r\n", b"\n")


def dot_stuff(msg):
    """Dot-stuffs a CRLF message for DATA (RFC 5321 4.5.2)."""
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", msg)
    return out


def start_qsmtpd_session(inst, env=None):
    """Like Instance.start_qsmtpd (a socketpair, as inetd would), but in a
    process group of its own, so kill_group() reaches anything it forks.
    Returns (Popen, socket)."""
    a, b = socket.socketpair()
    p = subprocess.Popen([QSMTPD, "-C", inst.conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL, close_fds=True,
                         env=env, start_new_session=True)
    b.close()
    return p, a
