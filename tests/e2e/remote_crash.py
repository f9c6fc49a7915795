#!/usr/bin/env python3
"""End-to-end: SIGKILL qrun during the SMTP DATA phase, many times.

The smart host is a peer the test runs on 127.0.0.1 (a Python server, so
the test knows the moment DATA begins): it answers like any ESMTP server
with PIPELINING, reads the message in 16 KB pieces a millisecond apart
(so the data takes a while to arrive), and answers the final dot after a
random 0-5 ms.  Each round queues a message of about 250 KB with a
unique marker and starts a queue run; once the peer has the DATA
command, the run's whole process group is killed after a random 0-25 ms:
in the middle of the data, at the final dot, while the reply is awaited,
or while the state is saved.  After every kill the queue must still read
(qsend -bp succeeds, nothing moved to bad/); at the end a last queue run
(no kills) flushes everything, and every message must have reached the
peer whole at least once, byte for byte, with the queue empty.
Duplicates are allowed (the window between the peer's 250 and our record
of it) and reported.

Rounds go on until KILLS (default 100; INETMAIL_REMOTE_KILLS overrides
it) kills have hit a qrun that was still running (a round whose qrun
finished first does not count), at most three times as many rounds.
Needs root.  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
KILLS = int(os.environ.get("INETMAIL_REMOTE_KILLS", "100"))


class SlowPeer:
    """An ESMTP peer that reads DATA slowly; data_begun is set when a
    DATA command arrives, and every message taken whole (its 250 sent)
    is appended to messages."""

    def __init__(self, port, rnd):
        self.rnd = rnd
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", port))
        self.s.listen(16)
        self.data_begun = threading.Event()
        self.messages = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def session(self, c):
        buf = b""
        c.settimeout(30)

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                d = c.recv(16384)
                if not d:
                    raise EOFError
                buf += d
                time.sleep(0.001)
            l, _, buf = buf.partition(b"\r\n")
            return l

        try:
            c.sendall(b"220 peer.test ESMTP\r\n")
            while True:
                u = line().upper()
                if u.startswith(b"EHLO"):
                    c.sendall(b"250-peer.test\r\n250-PIPELINING\r\n"
                              b"250 8BITMIME\r\n")
                elif u.startswith(b"DATA"):
                    self.data_begun.set()
                    c.sendall(b"354 go ahead\r\n")
                    lines = []
                    while True:
                        l = line()
                        if l == b".":
                            break
                        lines.append(l[1:] if l.startswith(b".") else l)
                    time.sleep(self.rnd.uniform(0, 0.005))
                    c.sendall(b"250 2.0.0 taken\r\n")
                    with self.lock:
                        self.messages.append(b"\n".join(lines) + b"\n")
                elif u.startswith(b"QUIT"):
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 ok\r\n")
        except (OSError, EOFError):
            pass
        finally:
            c.close()

    def stop(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()
        self.t.join(5)


def main():
    T.require_delivery_users()
    inst = T.DeliveryInstance()
    peer = None
    rnd = random.Random(int(os.environ.get("INETMAIL_SEED", time.time())))
    try:
        T.prepare_spool(inst)
        port = T.free_port()
        inst.write_conf("smarthost [127.0.0.1]:%d\nsmtp_timeout 10s\n"
                        "queue_workers 1\n" % port)
        peer = SlowPeer(port, rnd)
        want = {}
        landed = 0
        filler = b"".join(b"line %06d of the filler text, to make DATA take "
                          b"a while\n" % i for i in range(4000))
        k = 0
        while landed < KILLS:
            # a round whose qrun was done before the kill tests nothing:
            # rounds go on until KILLS kills have landed (at most 3x)
            assert k < 3 * KILLS, "only %d of %d rounds killed a running " \
                "qrun" % (landed, k)
            before = inst.queue_files()
            body = b"Subject: crash %d\nX-Marker: %d\n\n" % (k, k) + filler
            T.ok_run(inst.qsend(["-odq", "-f", "alice@" + HOST,
                                 "r%d@far.example" % k], body),
                     "qsend %d" % k)
            qid, = sorted(set(inst.queue_files()) - set(before))
            want[k] = inst.read_queue(qid)[1]
            peer.data_begun.clear()
            p = subprocess.Popen([inst.qrun_path, "-C", inst.conf],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL,
                                 start_new_session=True)
            peer.data_begun.wait(10)
            time.sleep(rnd.uniform(0, 0.025))
            if p.poll() is None:
                landed += 1
            T.kill_group(p, signal.SIGKILL)
            p.wait()
            r = inst.qsend(["-bp"])
            T.eq(r.returncode, 0, "qsend -bp after kill %d" % k)
            T.eq(os.listdir(os.path.join(inst.spool, "bad")), [],
                 "bad/ after kill %d" % k)
            k += 1
        T.ok_run(inst.qrun([], timeout=120), "the last queue run")
        T.eq(inst.queue_files(), [], "queue after the last run")
        with peer.lock:
            got = list(peer.messages)
        counts = {}
        for body in got:
            for i, w in want.items():
                if body == w:
                    counts[i] = counts.get(i, 0) + 1
                    break
        missing = [i for i in want if counts.get(i, 0) == 0]
        T.eq(missing, [], "messages never delivered whole")
        T.eq(len(got), sum(counts.values()), "messages the peer took that "
             "match none queued")
        print("ok   %d kills of a running qrun after DATA began (%d rounds), "
              "%d messages delivered, %d duplicates"
              % (landed, k, len(want), sum(counts.values()) - len(counts)))
    except AssertionError as e:
        print("FAIL %s" % e)
        print("--- maillog ---\n" + inst.log_text()[-4000:])
        return 1
    finally:
        if peer is not None:
            peer.stop()
        inst.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
