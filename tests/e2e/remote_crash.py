#!/usr/bin/env python3
"""End-to-end: SIGKILL qrun during the SMTP DATA phase, many times.

The smart host is Postfix's smtp-sink (its -v log shows each DATA and
each final dot).  Each round queues a message of about 256 KB with a
unique marker and starts a queue run; once the sink has seen DATA, the
run's whole process group is killed after a random 0-25 ms (so in the
middle of the data, at the final dot, while the reply is awaited, or
while the state is saved).  After every kill the queue must still read
(qsend -bp succeeds, nothing moved to bad/); at the end a last queue run
(no kills) flushes everything, and every message must be in the sink at
least once, byte for byte, with the queue empty.  Duplicates are allowed
(the window between the peer's 250 and our record of it) and reported.

KILLS (default 100; INETMAIL_REMOTE_KILLS overrides it) rounds.
Needs root and smtp-sink.  Exit 0 pass, 1 fail, 77 skip.
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import inetmail_test as T  # noqa: E402

HOST = "mail.example.com"
KILLS = int(os.environ.get("INETMAIL_REMOTE_KILLS", "100"))


def main():
    T.require_delivery_users()
    T.require_tool(T.SMTP_SINK)
    inst = T.DeliveryInstance()
    sink = None
    rnd = random.Random(int(os.environ.get("INETMAIL_SEED", time.time())))
    try:
        T.prepare_spool(inst)
        port = T.free_port()
        inst.write_conf("smarthost [127.0.0.1]:%d\nsmtp_timeout 5s\n"
                        "queue_workers 1\n" % port)
        sink = T.Sink(inst.dir, port)
        want = {}
        in_data = 0
        filler = b"".join(b"line %06d of the filler text, to make DATA take "
                          b"a while\n" % i for i in range(4000))
        for k in range(KILLS):
            before = inst.queue_files()
            body = b"Subject: crash %d\nX-Marker: %d\n\n" % (k, k) + filler
            T.ok_run(inst.qsend(["-f", "alice@" + HOST, "r%d@far.example" % k],
                                body), "qsend %d" % k)
            qid, = sorted(set(inst.queue_files()) - set(before))
            want[k] = inst.read_queue(qid)[1]
            datas = sink.log().count("smtp-sink: DATA")
            p = subprocess.Popen([inst.qrun_path, "-C", inst.conf],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL,
                                 start_new_session=True)
            deadline = time.time() + 10
            while sink.log().count("smtp-sink: DATA") == datas:
                if p.poll() is not None or time.time() > deadline:
                    break
                time.sleep(0.001)
            time.sleep(rnd.uniform(0, 0.025))
            if p.poll() is None:
                in_data += 1
            T.kill_group(p, signal.SIGKILL)
            p.wait()
            r = inst.qsend(["-bp"])
            T.eq(r.returncode, 0, "qsend -bp after kill %d" % k)
            T.eq(os.listdir(os.path.join(inst.spool, "bad")), [],
                 "bad/ after kill %d" % k)
        T.ok_run(inst.qrun([], timeout=120),
                 "the last queue run")
        T.eq(inst.queue_files(), [], "queue after the last run")
        got = sink.messages(wait=5, n=len(want))
        counts = {}
        for env, body in got:
            for k, w in want.items():
                if body == w:
                    counts[k] = counts.get(k, 0) + 1
                    break
        missing = [k for k in want if counts.get(k, 0) == 0]
        T.eq(missing, [], "messages never delivered whole")
        dups = sum(c - 1 for c in counts.values())
        print("ok   %d kills (%d while qrun was still running after DATA "
              "began), %d messages delivered, %d duplicates, %d partial "
              "copies at the sink" % (KILLS, in_data, len(want), dups,
                                      len(got) - sum(counts.values())))
        assert in_data >= KILLS // 2, "too few kills landed in DATA: %d" \
            % in_data
    except AssertionError as e:
        print("FAIL %s" % e)
        print("--- maillog ---\n" + inst.log_text()[-4000:])
        return 1
    finally:
        if sink is not None:
            sink.stop()
        inst.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
