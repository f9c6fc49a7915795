"""APOP (RFC 1939 7), when apop_secrets is set: the greeting carries a
timestamp, the digest of timestamp and secret logs in, a wrong one gets
the generic [AUTH] error; without apop_secrets there is no timestamp and
no APOP.  qpop3d runs over a socketpair as inetd would (as root: split
into the unprivileged child and the root parent)."""
import hashlib
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

QPOP3D = os.path.abspath(os.path.join(T.BUILD, "src/qpop3d/qpop3d"))


def session(conf, lines):
    a, b = socket.socketpair()
    p = subprocess.Popen([QPOP3D, "-C", conf], stdin=b, stdout=b,
                         stderr=subprocess.DEVNULL)
    b.close()
    a.settimeout(20)
    f = a.makefile("rb")
    out = [f.readline().decode().rstrip("\r\n")]
    for l in lines:
        line = l(out[0]) if callable(l) else l
        a.sendall((line + "\r\n").encode())
        out.append(f.readline().decode().rstrip("\r\n"))
    a.close()
    p.wait(timeout=20)
    return out


def main():
    T.require_root()
    inst = T.Instance()
    secrets = os.path.join(inst.dir, "apop")
    with open(secrets, "w") as f:
        f.write("alice:other\nsamt:tanstaaf\n")
    os.chmod(secrets, 0o600)
    failed = 0
    try:
        maildir = os.path.join(inst.dir, "mail")
        os.mkdir(maildir)
        os.chmod(maildir, 0o1777)
        inst.write_conf("auth_delay 0\nmailbox mbox:%s/%%u\n"
                        "apop_secrets %s\n" % (maildir, secrets))

        def digest(greeting, secret="tanstaaf"):
            ts = re.search(r"<[^>]+>", greeting).group(0)
            return "APOP samt " + hashlib.md5(
                (ts + secret).encode()).hexdigest()

        out = session(inst.conf, [lambda g: digest(g, "wrong"),
                                  digest, "STAT", "QUIT"])
        assert re.match(r"^\+OK <\d+\.\d+@mail\.example\.com>$", out[0]), out
        assert out[1:] == ["-ERR [AUTH] Authentication failed", "+OK",
                           "+OK 0 0", "+OK"], out
        out = session(inst.conf, ["APOP samt 123", "QUIT"])
        assert out[1] == "-ERR Syntax: APOP name digest", out
        # without apop_secrets: no timestamp, no APOP
        inst.write_conf("auth_delay 0\nmailbox mbox:%s/%%u\n" % maildir)
        out = session(inst.conf, ["APOP samt " + "0" * 32, "QUIT"])
        assert out == ["+OK", "-ERR Unknown command", "+OK"], out
        print("ok   APOP with and without apop_secrets")
    except AssertionError as e:
        failed = 1
        print("FAIL pop3_apop: %r" % (e,))
    finally:
        inst.cleanup()
    return failed


if __name__ == "__main__":
    sys.exit(main())
