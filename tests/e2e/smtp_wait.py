"""qsmtpd as an inetd "wait" service: inetd hands over the listening
socket, qsmtpd's workers accept connection after connection, and when
idle they exit and inetd listens again.  Exact replies and spool bytes as
with "nowait"; loopback only."""
import os
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402


def qsmtpd_count(inst):
    """This instance's qsmtpd processes (other tests may run their own)."""
    out = subprocess.run(["pgrep", "-f", "^qsmtpd -C %s$" % re.escape(
        inst.conf)], capture_output=True, text=True).stdout
    return len(out.split())


def main():
    T.require_root()
    if not os.access(T.INETD, os.X_OK):
        T.skip("openbsd-inetd not installed")
    inst = T.Instance("workers 3\nworker_idle 2s\n")
    T.prepare_spool(inst)
    port = T.free_port()
    inetd = None
    failed = 0
    try:
        inetd = T.Inetd(inst.dir, ["127.0.0.1:%d stream tcp wait root %s "
                                   "qsmtpd -C %s" % (port, T.QSMTPD,
                                                     inst.conf)], [port])
        # many short sessions, one message each, as smtp-source sends them
        for i in range(60):
            s = smtplib.SMTP("127.0.0.1", port, timeout=10)
            code, _ = s.helo("client")
            assert code == 250, code
            s.sendmail("a@example.org", ["samt@mail.example.com"],
                       "Subject: %d\r\n\r\nbody %d\r\n" % (i, i))
            s.quit()
        queued = inst.queue_files()
        assert len(queued) == 60, len(queued)
        bodies = sorted(inst.message(q) for q in queued)
        want = sorted(b"Subject: %d\n\nbody %d\n" % (i, i) for i in range(60))
        assert bodies == want, "spool contents differ"
        # the client address is each connection's own
        assert re.search(r"relay=\[127\.0\.0\.1\]", inst.log_text())
        # at most `workers' sessions at once; the rest wait in the backlog
        socks = [T.connect(port) for _ in range(4)]
        greeted = [c for c in socks[:3] if c.reply().startswith("220 ")]
        assert len(greeted) == 3, greeted
        socks[3].sock.settimeout(1.0)
        try:
            early = socks[3].reply()
        except (OSError, EOFError):
            early = None
        assert early is None, "a 4th session started: %r" % early
        socks[3].sock.settimeout(10)
        for c in socks[:3]:
            c.cmd("QUIT")
        assert socks[3].reply() == "220 mail.example.com ESMTP inetmail"
        socks[3].cmd("QUIT")
        for c in socks:
            c.sock.close()
        # idle workers exit; inetd takes the socket back and starts anew
        deadline = time.time() + 10
        while qsmtpd_count(inst) > 0 and time.time() < deadline:
            time.sleep(0.1)
        assert qsmtpd_count(inst) == 0, "workers still running after idling"
        c = T.connect(port)
        assert c.reply() == "220 mail.example.com ESMTP inetmail"
        assert c.cmd("QUIT") == "221 2.0.0 mail.example.com closing connection"
        print("ok   60 sessions through 3 workers, idle exit, restart")
    except AssertionError as e:
        failed = 1
        print("FAIL smtp_wait: %r" % (e,))
        if inetd is not None:
            print(inetd.log()[-2000:])
    finally:
        if inetd is not None:
            inetd.stop()
        subprocess.run(["pkill", "-x", "-f", "qsmtpd -C %s" % inst.conf])
        inst.cleanup()
    return failed


if __name__ == "__main__":
    sys.exit(main())
