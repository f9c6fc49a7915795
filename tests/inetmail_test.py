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


# ---------------------------------------------------------------------------
# Helpers for the delivery tests (tests/e2e/deliver_*.py): qsend and qrun
# on a private instance whose users have real (test) uids, home
# directories and mbox files; an mbox reader that undoes mboxrd quoting.

QRUN = os.path.abspath(os.path.join(BUILD, "src/qrun/qrun"))
QSEND = os.path.abspath(os.path.join(BUILD, "src/qsend/qsend"))
# (the local-delivery helpers further on define QRUN and QSEND again, the
# same; every other name here differs from theirs)
CTIME_RE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
            r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
            r"[ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}")
RFC5322_DATE_RE = (r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} "
                   r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}")


def require_delivery_users():
    """Skips unless root, the spool user and nobody exist, and qrun and
    qsend are built (delivery changes to the recipients' uids)."""
    require_root()
    for p in (QRUN, QSEND):
        if not os.access(p, os.X_OK):
            skip("%s not built" % p)
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        skip("user nobody missing (programs from aliases run as nobody)")


class DeliveryInstance(Instance):
    """An Instance that delivers: mailboxes in self.mail (mode 1777, as
    /var/mail), users (name, uid 2000+i) of a passwd-file whose home
    directories (self.dir/home/NAME) exist and belong to them."""

    def __init__(self, extra="", users=("samt", "alice", "bob", "carol"),
                 hostname="mail.example.com"):
        Instance.__init__(self, extra, hostname, list(users))
        self.mail = os.path.join(self.dir, "mail")
        os.mkdir(self.mail)
        os.chmod(self.mail, 0o1777)
        self.uids = {}
        self.homes = {}
        with open(self.passwd, "w") as f:
            for i, u in enumerate(users):
                uid = 2000 + i
                home = os.path.join(self.dir, "home", u)
                os.makedirs(home)
                os.chown(home, uid, uid)
                os.chmod(home, 0o755)
                self.uids[u] = uid
                self.homes[u] = home
                f.write("%s:*:%d:%d:%s:%s:/bin/sh\n" % (u, uid, uid, u, home))
        os.chmod(os.path.join(self.dir, "home"), 0o755)
        # an installed pair: qsend finds qrun beside itself (by
        # /proc/self/exe, so copies, not links), and answers to the
        # names sendmail, mailq and newaliases (links to it)
        self.sbin = os.path.join(self.dir, "sbin")
        os.mkdir(self.sbin)
        os.chmod(self.sbin, 0o755)
        self.qsend_path = os.path.join(self.sbin, "qsend")
        self.qrun_path = os.path.join(self.sbin, "qrun")
        shutil.copy(QSEND, self.qsend_path)
        shutil.copy(QRUN, self.qrun_path)
        for name in ("sendmail", "mailq", "newaliases"):
            os.symlink("qsend", os.path.join(self.sbin, name))

    def write_conf(self, extra=""):
        Instance.write_conf(self, "mailbox mbox:%s/mail/%%u\n%s"
                            % (self.dir, extra))

    def set_aliases(self, text):
        with open(self.aliases, "w") as f:
            f.write(text)
        os.chmod(self.aliases, 0o644)

    def run(self, argv, data=b"", timeout=30, env=None):
        """Runs argv with data on stdin; returns the CompletedProcess with
        stdout and stderr as str.  At the timeout its process group (it
        and the delivery children it forked) is killed, and
        subprocess.TimeoutExpired raised."""
        p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, start_new_session=True, close_fds=True)
        try:
            out, err = p.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            p.communicate()
            raise
        return subprocess.CompletedProcess(
            argv, p.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"))

    def qsend(self, args, data=b"", timeout=30, argv0=None):
        """qsend -C CONF ARGS; argv0 "sendmail", "mailq" or "newaliases"
        runs it by that name."""
        prog = os.path.join(self.sbin, argv0 or "qsend")
        return self.run([prog, "-C", self.conf] + list(args), data, timeout)

    def qrun(self, args=(), timeout=30):
        return self.run([self.qrun_path, "-C", self.conf] + list(args), b"",
                        timeout)

    def mbox_path(self, user):
        return os.path.join(self.mail, user)

    def mbox(self, user):
        """The raw bytes of user's mbox, or None if it does not exist."""
        try:
            with open(self.mbox_path(user), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def messages(self, user):
        """user's mbox as a list of MboxMessage (empty if no mbox)."""
        data = self.mbox(user)
        return [] if data is None else split_mbox(data)

    def wait_messages(self, user, n, timeout=2.0):
        """Waits until user's mbox holds n messages; returns them."""
        deadline = time.time() + timeout
        while True:
            try:
                msgs = self.messages(user)
            except ValueError:
                msgs = []           # caught in the middle of a write
            if len(msgs) >= n or time.time() > deadline:
                return msgs
            time.sleep(0.01)


class MboxMessage:
    """One message of an mbox: its From_ line (without the LF), the
    envelope sender it names, the message as stored (still quoted) and
    as written (mboxrd quoting undone)."""

    def __init__(self, from_line, raw):
        self.from_line = from_line
        self.sender = from_line.split(" ")[1]
        self.raw = raw
        self.text = mboxrd_unquote(raw)


def mboxrd_quote(msg):
    """mboxrd: one more '>' before each line matching ^>*From ."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", msg)


def mboxrd_unquote(msg):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", msg)


def split_mbox(data):
    """Splits an mbox strictly: every message is a From_ line of the
    sendmail/mail.local shape, its lines, and one blank line; there is
    nothing else.  Raises ValueError otherwise."""
    if data == b"":
        return []
    if not data.startswith(b"From ") or not data.endswith(b"\n\n"):
        raise ValueError("not an mbox (start %r, end %r)"
                         % (data[:20], data[-20:]))
    out = []
    starts = [0] + [m.start() + 2 for m in re.finditer(rb"\n\nFrom ", data)]
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[s:e]
        if not chunk.endswith(b"\n\n"):
            raise ValueError("message %d lacks its blank line" % (i + 1))
        line, _, raw = chunk[:-1].partition(b"\n")
        line = line.decode("utf-8", "replace")
        if not re.match(r"^From \S+ %s$" % CTIME_RE, line):
            raise ValueError("bad From_ line %r" % line)
        out.append(MboxMessage(line, raw))
    return out


def split_delivered(text):
    """A delivered message (unquoted) as (Return-Path value, Received
    field, the rest): what qrun puts on top of the queued message."""
    m = re.match(rb"Return-Path: <([^\n]*)>\n"
                 rb"(Received: [^\n]*\n(?:\t[^\n]*\n)*)", text)
    if not m:
        raise ValueError("no Return-Path and Received on top: %r"
                         % text[:200])
    return m.group(1).decode(), m.group(2).decode(), text[m.end():]


def drop_queue(inst):
    """Removes every queued message (and its state file) of inst."""
    for d in ("queue", "state"):
        path = os.path.join(inst.spool, d)
        for f in os.listdir(path) if os.path.isdir(path) else []:
            os.unlink(os.path.join(path, f))


def queue_envelope(inst, qid):
    """The parsed envelope of queue/QID as a list of (key, value), and the
    size mailq reports (the bytes after the envelope)."""
    with open(os.path.join(inst.spool, "queue", qid), "rb") as f:
        data = f.read()
    env, received, body = parse_queue_file(data)
    return env, len(received) + len(body)


# ---------------------------------------------------------------------------
# Helpers for the local-delivery tests (tests/e2e/deliver_*.py): qsend and
# qrun, a mail directory, mboxrd quoting and a strict mbox parser.

QSEND = os.path.abspath(os.path.join(BUILD, "src/qsend/qsend"))
QRUN = os.path.abspath(os.path.join(BUILD, "src/qrun/qrun"))


def require_delivery():
    """Skips unless root, the spool user exists and qsend/qrun are built
    (deliveries run as the recipients' uids, which needs root)."""
    require_root()
    for prog in (QSEND, QRUN):
        if not os.access(prog, os.X_OK):
            skip("%s not built" % prog)


def make_mail_dir(inst, name="mail"):
    """A mail directory inside inst, mode 1777 like /var/mail on many
    systems, so each recipient can create and lock its own mbox."""
    path = os.path.join(inst.dir, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o1777)
    return path


def write_users(inst, users, first_uid=2000):
    """Replaces inst's passwd-file; returns {user: uid}."""
    uids = {}
    with open(inst.passwd, "w") as f:
        for i, u in enumerate(users):
            uids[u] = first_uid + i
            f.write("%s:*:%d:%d::/home/%s:/bin/sh\n" % (
                u, first_uid + i, first_uid + i, u))
    return uids


def qsend_queue(inst, sender, rcpts, body, timeout=30, extra_args=()):
    """Submits body with qsend -oi -odq (or with extra_args instead of
    -odq, e.g. ["-odb"]) and returns its CompletedProcess."""
    args = [QSEND, "-C", inst.conf, "-oi"]
    args += list(extra_args) if extra_args else ["-odq"]
    args += ["-f", sender, "--"] + list(rcpts)
    return subprocess.run(args, input=body, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def queue_body(inst, qid):
    """The message part of queue/QID (what qrun delivers), or None."""
    try:
        with open(os.path.join(inst.spool, "queue", qid), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    _, sep, rest = data.partition(b"\n\n")
    return rest if sep else None


def mbox_quote(body):
    """mboxrd quoting: one more '>' before every line matching ^>*From ."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", body)


def mbox_unquote(text):
    """Undoes mboxrd quoting: one '>' less on lines matching ^>+From ."""
    return re.sub(rb"(?m)^>(>*From )", rb"\1", text)


def mbox_content(sender, body):
    """What follows the From_ line in an mbox for a delivered message:
    Return-Path, the quoted message, a newline if it lacked one, the
    blank line that ends every message."""
    if isinstance(sender, str):
        sender = sender.encode()
    out = b"Return-Path: <" + sender + b">\n" + mbox_quote(body)
    if body and not body.endswith(b"\n"):
        out += b"\n"
    return out + b"\n"


FROM_LINE = re.compile(
    rb"From (\S+) (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"[ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\n")


class MboxParse:
    """A strict parse of an mbox written by one mailer that always ends a
    message with a blank line: "From " begins a line only at a message
    start, right after the blank line that ends the previous one.

    messages: [(start, end, sender, content)], content being the bytes
    after the From_ line up to and including the blank line.
    tail: offset of a trailing piece that is not a whole message (or None).
    error: why the mbox does not parse (or None)."""

    def __init__(self, data, known=None):
        """known: {content: anything}: when given, a chunk whose content is
        not known is not a whole message: if last it is the tail, else
        an error."""
        self.messages = []
        self.tail = None
        self.error = None
        if not data:
            return
        if not data.startswith(b"From "):
            if b"From ".startswith(data):
                self.tail = 0           # a From_ line cut short
            else:
                self.error = "does not begin with a From_ line: %r" % (
                    data[:60],)
            return
        starts = [0] + [m.start() + 2
                        for m in re.finditer(rb"\n\nFrom ", data)]
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else len(data)
            last = k + 1 == len(starts)
            nl = data.find(b"\n", s, e)
            m = FROM_LINE.match(data, s, nl + 1) if nl != -1 else None
            if m is None:
                if last and nl == -1:
                    self.tail = s       # cut inside the From_ line
                    return
                self.error = "bad From_ line at offset %d: %r" % (
                    s, data[s:min(e, s + 80)])
                return
            content = data[m.end():e]
            # a message cut while its successor's From_ line was begun:
            # "...\n\nFro" (fewer bytes than "From ")
            cut = re.search(rb"\n\n(F|Fr|Fro|From)\Z", content) \
                if last else None
            whole = content.endswith(b"\n\n") and (
                known is None or content in known)
            if not whole and cut is not None and (
                    known is None or content[:cut.start() + 2] in known):
                self.messages.append((s, m.end() + cut.start() + 2,
                                      m.group(1), content[:cut.start() + 2]))
                self.tail = m.end() + cut.start() + 2
                return
            if whole:
                self.messages.append((s, e, m.group(1), content))
            elif last:
                self.tail = s
            else:
                self.error = ("message at offset %d (%d bytes) is damaged "
                              "or followed by another without its ending"
                              % (s, e - s))
                return


def parse_mbox(data, known=None):
    return MboxParse(data, known)


def read_lock_info(path):
    """A dotlock's content as inetmail writes it ("inetmail PID -", or
    "inetmail PID SIZE [INODE]" while it appends): (pid, size or None,
    inode or None); (None, None, None) if it does not say; None if there
    is no lock."""
    try:
        with open(path, "rb") as f:
            text = f.read(200)
    except FileNotFoundError:
        return None
    m = re.match(rb"inetmail ([0-9]+) ([0-9]+|-)(?: ([0-9]+))?\n", text)
    if not m:
        return (None, None, None)
    return (int(m.group(1)),
            None if m.group(2) == b"-" else int(m.group(2)),
            int(m.group(3)) if m.group(3) else None)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


def group_members(pgid):
    """Live (non-zombie) processes in process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if rest[0] != "Z" and int(rest[2]) == pgid:
            out.append(int(d))
    return out


def kill_group_wait(p, timeout=5):
    """SIGKILLs the group of p (started with start_new_session=True),
    reaps p and waits until no live member of the group is left (a
    delivery child may outlive its parent for a moment)."""
    kill_group(p, signal.SIGKILL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(p.pid, 0)
        except ProcessLookupError:
            return True         # nothing left, not even a zombie
        except OSError:
            pass
        if not group_members(p.pid):
            return True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.002)
    return False


def hang_report(pgid):
    """What the live members of a process group are doing: command line,
    kernel wait channel and, if strace is installed, a few syscalls."""
    out = []
    for pid in group_members(pgid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open("/proc/%d/wchan" % pid) as f:
                wchan = f.read()
            with open("/proc/%d/status" % pid) as f:
                uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        except OSError:
            continue
        line = "pid %d uid %s [%s] %s" % (pid, uid, wchan, cmd.strip())
        st = shutil.which("strace")
        if st:
            try:
                r = subprocess.run(["timeout", "0.5", st, "-qq", "-p",
                                    str(pid)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=5)
                calls = r.stderr.decode("utf-8", "replace").splitlines()
                line += "; syscalls: " + " | ".join(calls[:6])
            except (OSError, subprocess.TimeoutExpired):
                pass
        out.append(line)
    return "; ".join(out) if out else "(no live process)"


def mount_tmpfs(path, size):
    """Mounts a tmpfs of size (e.g. "256k") on path; returns None, or why
    it could not (not permitted in this container, no mount(8))."""
    if shutil.which("mount") is None:
        return "mount(8) not installed"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%s,mode=0755" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        return "mount -t tmpfs failed: %s" % r.stdout.decode(
            "utf-8", "replace").strip()
    return None


def umount(path):
    """Unmounts path (lazily if it is still busy)."""
    r = subprocess.run(["umount", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        subprocess.run(["umount", "-l", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
# Helpers for the POP3 tests (tests/e2e/pop3_*.py): qpop3d under inetd or
# on a socketpair, test users with crypt(3) passwords, a raw POP3 client,
# and what a message of an mbox looks like on the wire (RFC 1939 3).

QPOP3D = os.path.abspath(os.path.join(BUILD, "src/qpop3d/qpop3d"))


def require_pop3():
    """Skips unless root, the spool user and nobody exist, and qpop3d,
    qrun and qsend are built (qpop3d becomes the mailbox owner)."""
    require_delivery_users()
    if not os.access(QPOP3D, os.X_OK):
        skip("%s not built" % QPOP3D)


def pop3_crypt(password):
    """A SHA-512 crypt(3) hash of password, made by `openssl passwd -6`
    (skips the test when openssl is missing)."""
    openssl = require_tool("openssl")
    r = subprocess.run([openssl, "passwd", "-6", "-stdin"],
                       input=password.encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    h = r.stdout.decode().strip()
    if r.returncode != 0 or not h.startswith("$6$"):
        raise RuntimeError("openssl passwd -6 failed: %r" % r.stderr)
    return h


def pop3_set_passwords(inst, passwords):
    """Puts crypt(3) hashes of passwords ({user: password}) into field 2
    of inst's passwd-file; other users keep theirs."""
    with open(inst.passwd) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        w = line.split(":")
        if len(w) >= 2 and w[0] in passwords:
            w[1] = pop3_crypt(passwords[w[0]])
        out.append(":".join(w))
    with open(inst.passwd, "w") as f:
        f.write("".join(l + "\n" for l in out))
    os.chmod(inst.passwd, 0o600)


def qpop3d_line(port, inst):
    """The inetd.conf line that serves inst's qpop3d on 127.0.0.1:port."""
    return ("127.0.0.1:%d stream tcp nowait.1000000 root %s qpop3d -C %s"
            % (port, QPOP3D, inst.conf))


def start_qpop3d_session(inst, env=None):
    """qpop3d on one end of a socketpair, as inetd would run it, in a
    process group of its own (kill_group() reaches the child it forks).
    Returns (Popen, Pop3 client)."""
    a, b = socket.socketpair()
    p = subprocess.Popen([QPOP3D, "-C", inst.conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL, close_fds=True,
                         env=env, start_new_session=True)
    b.close()
    return p, Pop3(a)


class Pop3:
    """A raw POP3 client: sends what it is told, byte for byte, and reads
    status lines and multi-line responses as they come."""

    def __init__(self, sock, timeout=10):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    @classmethod
    def connect(cls, port, timeout=10):
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s, timeout)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def rawline(self):
        """One line as bytes, CRLF included."""
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        l, self.buf = self.buf[:i], self.buf[i:]
        return l

    def line(self):
        return self.rawline()[:-2].decode("utf-8", "replace")

    def cmd(self, line):
        """Sends line + CRLF; returns the status line."""
        self.send(line + "\r\n")
        return self.line()

    def multi_raw(self):
        """The body of a multi-line response as sent: every byte before
        the terminating ".\\r\\n" (dot-stuffing still in place)."""
        out = []
        while True:
            l = self.rawline()
            if l == b".\r\n":
                return b"".join(out)
            out.append(l)

    def multi_lines(self):
        """The lines of a multi-line response (as str, stuffing undone)."""
        data = self.multi_raw()
        return [l[1:] if l.startswith(".") else l
                for l in data.decode("utf-8", "replace").split("\r\n")[:-1]]

    def login(self, user="samt", password="mypassword"):
        """Reads the greeting, logs in with USER/PASS; returns the replies."""
        return [self.line(), self.cmd("USER " + user),
                self.cmd("PASS " + password)]

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

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def pop3_wire(content):
    """What RETR sends (before the final dot line) for a message that
    stands in an mbox as content (the bytes after its From_ line, without
    the blank line that separates it from the next): mboxrd quoting
    undone, every line ended by CRLF (a last line without one gets it),
    lines beginning with '.' dot-stuffed."""
    text = mboxrd_unquote(content)
    if text.endswith(b"\n"):
        text = text[:-1]
    lines = [l[:-1] if l.endswith(b"\r") else l
             for l in text.split(b"\n")] if text else []
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines)


def pop3_unstuff(wire):
    """A RETR body as the user gets it: dot-stuffing undone, CRLF kept."""
    return re.sub(rb"(^|\r\n)\.", rb"\1", wire)


def pop3_top(wire, n):
    """What TOP msg n sends: the header, the blank line and n body lines
    of a message in wire form."""
    lines = wire.split(b"\r\n")[:-1]
    out = []
    body = None
    for l in lines:
        if body is not None:
            if body >= n:
                break
            body += 1
        elif l == b"":
            body = 0
        out.append(l + b"\r\n")
    return b"".join(out)


def mbox_from_line(sender="MAILER-DAEMON", when=None):
    """A From_ line (without LF) as mail.local and inetmail write it."""
    return "From %s %s" % (sender, time.strftime(
        "%a %b %d %H:%M:%S %Y", time.localtime(when)))


def mbox_build(messages, sender="sender@example.org", last_newline=True):
    """An mbox of messages (bytes, as written, unquoted): each a From_
    line, the mboxrd-quoted message, a newline if it lacked one, and the
    blank line.  last_newline=False leaves the last message as it is,
    without the newline or the blank line another MDA might have
    omitted.  Returns (mbox bytes, [content of each message as it stands
    after its From_ line, separator excluded])."""
    out = []
    contents = []
    for i, m in enumerate(messages):
        q = mboxrd_quote(m)
        if i + 1 == len(messages) and not last_newline:
            out.append(mbox_from_line(sender).encode() + b"\n" + q)
            contents.append(q)
            continue
        if not q.endswith(b"\n"):
            q += b"\n"
        out.append(mbox_from_line(sender).encode() + b"\n" + q + b"\n")
        contents.append(q)
    return b"".join(out), contents


def mbox_install(inst, user, data, mode=0o600):
    """Writes data as user's mbox, owned by the user, as delivery would."""
    path = inst.mbox_path(user)
    with open(path, "wb") as f:
        f.write(data)
    uid = inst.uids[user]
    os.chown(path, uid, uid)
    os.chmod(path, mode)
    return path


def mbox_contents(data):
    """The messages of an mbox as they stand after their From_ lines,
    separators excluded (what pop3_wire takes); strict (split_mbox)."""
    return [m.raw for m in split_mbox(data)]


def run_group(args, timeout=30, input=None):
    """Runs args in a process group of its own and waits up to timeout;
    past it, SIGKILLs the whole group (a delivery child, or a process
    traced by strace, would outlive a kill of the leader alone).
    Returns (returncode or None if it had to be killed, output)."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None
                         else subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(input=input, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        kill_group_wait(p)
        out, rc = b"", None
    # a child the leader left behind (it should not) goes too
    if group_members(p.pid):
        kill_group_wait(p)
    return rc, out


# Assertions the end-to-end tests share: each raises AssertionError with
# what was got and what was wanted.
def eq(got, want, what):
    if got != want:
        raise AssertionError("%s:\n  got:  %r\n  want: %r" % (what, got, want))


def _match(find, pattern, got, what):
    m = find(pattern, got)
    if not m:
        raise AssertionError("%s:\n  got:     %r\n  pattern: %r"
                             % (what, got, pattern))
    return m


def match_search(pattern, got, what):
    """The pattern anywhere in got."""
    return _match(re.search, pattern, got, what)


def match_start(pattern, got, what):
    """The pattern at the start of got."""
    return _match(re.match, pattern, got, what)


def ok_run(r, what, rc=0):
    """r, a finished subprocess.run(), exited rc."""
    if r.returncode != rc:
        raise AssertionError("%s exited %d (want %d)\nstdout: %s\nstderr: %s"
                             % (what, r.returncode, rc, r.stdout, r.stderr))
    return r


SMTP_SINK = "/usr/sbin/smtp-sink"


class Sink:
    """Postfix's smtp-sink on host:port, as a remote peer: every message
    it takes is dumped to its own file (-d), and its -v output says how
    many connections it saw.  args are extra smtp-sink options (-Q
    CONNECT: answer 421; -f RCPT: reject with 5xx; -r RCPT: 4xx...)."""

    def __init__(self, workdir, port, args=(), host="127.0.0.1", name="sink"):
        require_tool(SMTP_SINK)
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.logpath = os.path.join(workdir, name + ".log")
        self.logf = open(self.logpath, "w")
        listen = "[%s]:%d" % (host, port) if ":" in host else \
            "%s:%d" % (host, port)
        self.p = subprocess.Popen(
            [SMTP_SINK, "-v", "-u", "root", "-d", self.dir + "/%M."]
            + list(args) + [listen, "100"], stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)
        deadline = time.time() + 10
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        while True:
            try:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(0.5)
                s.connect((host, port))
                s.close()
                break
            except OSError:
                s.close()
            if self.p.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("smtp-sink did not start:\n" + self.log())
            time.sleep(0.02)
        self.base = 0
        while self.connections() < 1 and time.time() < deadline:
            time.sleep(0.02)                # the probe above, logged
        self.base = 1

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def connections(self):
        """Connections seen since start, the start-up probe excluded."""
        return self.log().count("smtp-sink: connect (") - self.base

    def messages(self, wait=0, n=0):
        """The messages taken so far, as received (smtp-sink's own
        header lines and the blank line it appends removed), oldest
        first.  With wait, waits that long for at least n whole ones
        (each one's end of data logged)."""
        deadline = time.time() + wait
        while True:
            names = sorted(os.listdir(self.dir),
                           key=lambda f: os.stat(os.path.join(self.dir, f))
                           .st_mtime_ns)
            done = self.log().count("smtp-sink: .\n")
            if (len(names) >= n and done >= n) or time.time() >= deadline:
                break
            time.sleep(0.05)
        time.sleep(0.05)            # the last dump file being closed
        out = []
        for name in names:
            with open(os.path.join(self.dir, name), "rb") as f:
                out.append(sink_strip(f.read()))
        return out

    def stop(self):
        if self.p is not None:
            kill_group(self.p, signal.SIGKILL)
            self.p = None
        self.logf.close()


def sink_strip(data):
    """Undoes smtp-sink's dump format: X-* lines, its 3-line Received:
    field, and the empty line it adds at the end.  Returns (envelope
    dict, message bytes)."""
    env = {}
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].startswith(b"X-"):
        k, _, v = lines[i].decode("utf-8", "replace").partition(": ")
        env.setdefault(k, []).append(v)
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: from "):
        i += 3
    body = b"\n".join(lines[i:])
    if body.endswith(b"\n\n"):
        body = body[:-1]
    return env, body


def run_cases(cases, ctx, report=None, before=None, after_fail=None,
              after=None):
    """Runs each (name, fn) of cases as fn(ctx), printing ok/FAIL lines and
    going on after a failure.  before(ctx) runs before each case,
    after_fail(ctx) after a failed one (to restore what the next needs),
    after(ctx) after each; report() once at the end if any failed.
    Returns the names that failed."""
    import traceback
    failed = []
    for name, fn in cases:
        t1 = time.time()
        if before is not None:
            before(ctx)
        try:
            fn(ctx)
            print("ok   %s (%.2fs)" % (name, time.time() - t1))
        except Exception as e:              # report, go on with the rest
            failed.append(name)
            print("FAIL %s: %s" % (name, e))
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            if after_fail is not None:
                after_fail(ctx)
        sys.stdout.flush()
        if after is not None:
            after(ctx)
    if failed and report is not None:
        report()
    return failed
