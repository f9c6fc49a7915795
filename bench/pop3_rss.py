#!/usr/bin/env python3
"""Peak RSS of qpop3d in the three cases a login meets: no index (a first
login, or a mailbox another program rewrote), the index current, and 90
messages appended since the last session.  10,000 messages of about 4 KB,
USER/PASS/STAT/LIST/UIDL/QUIT over a socketpair as inetd would run it, as
root; /usr/bin/time -f %M.  Uses the tests' helpers (tests/inetmail_test.py):

    TOP_BUILDDIR=/path/to/build python3 bench/pop3_rss.py
"""
import os
import socket
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import inetmail_test as T
inst = T.DeliveryInstance(users=("samt",))
T.pop3_set_passwords(inst, {"samt": "pw"})
inst.write_conf("users passwd-file:%s\n" % inst.passwd)
body = b"x" * 4000
msgs = [b"Subject: m%d\n\n" % i + body + b"\n" for i in range(10000)]
T.mbox_install(inst, "samt", T.mbox_build(msgs)[0])
def session(tag):
    a, b = socket.socketpair()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", T.QPOP3D, "-C", inst.conf], stdin=b, stdout=b,
                         stderr=subprocess.PIPE, close_fds=True)
    b.close()
    c = T.Pop3(a, 60)
    c.line(); c.cmd("USER samt"); r = c.cmd("PASS pw")
    c.cmd("STAT"); c.send("LIST\r\n"); c.line(); c.multi_raw(); c.send("UIDL\r\n"); c.line(); c.multi_raw()
    c.cmd("QUIT"); a.close()
    err = p.communicate()[1].decode()
    print(tag, r, "peakKB", err.strip().split("\n")[-1])
session("first (no index)")
session("index current")
with open(inst.mbox_path("samt"), "ab") as f:
    f.write(T.mbox_build(msgs[:90])[0])
session("90 appended")
inst.cleanup()
