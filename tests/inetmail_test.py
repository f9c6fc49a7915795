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
        return head.decode("utf-8", "replace"), body

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
