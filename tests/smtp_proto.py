"""Protocol tests: the real qsmtpd over a socketpair, as inetd runs it.

Every case asserts the exact replies; the table of bad input is the one
the issue asks for.  Run by `make check` (TOP_BUILDDIR set) or by hand.
"""
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inetmail_test import Instance, Client, QID_RE, IS_ROOT, SPOOL_USER  # noqa

H = "mail.example.com"
GREETING = "220 %s ESMTP inetmail" % H


class Session:
    def __init__(self, inst):
        self.proc, sock = inst.start_qsmtpd()
        self.c = Client(sock)
        self.greeting = self.c.reply()

    def close(self):
        try:
            self.c.sock.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SmtpTest(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.inst = Instance(self.extra)
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            s.close()
        self.inst.cleanup()

    def session(self):
        s = Session(self.inst)
        self.sessions.append(s)
        self.assertEqual(s.greeting, GREETING)
        return s

    def expect(self, c, line, reply):
        got = c.cmd(line)
        if reply.startswith("re:"):
            self.assertRegex(got, "^" + reply[3:] + "$")
        else:
            self.assertEqual(got, reply)
        return got


class GuideSession(SmtpTest):
    def test_guide_session(self):
        """The guide's sendmail session, typed as written there."""
        s = self.session()
        c = s.c
        # a socketpair is a local client: no address in the greeting
        self.expect(c, "helo localhost",
                    "250 %s Hello localhost, pleased to meet you" % H)
        self.expect(c, "mail from: samt@localhost",
                    "250 2.1.0 samt@localhost... Sender ok")
        self.expect(c, "rcpt to: samt@localhost",
                    "250 2.1.5 samt@localhost... Recipient ok")
        self.expect(c, "data",
                    '354 Enter mail, end with "." on a line by itself')
        c.send("Subject: This is my subject line\r\n"
               "I continue writing until I'm out of interesting things\r\n"
               "to say which is not that far away\r\n")
        got = self.expect(c, ".", "re:250 2.0.0 (%s) Message accepted for "
                          "delivery" % QID_RE)
        qid = got.split()[2]
        self.expect(c, "quit", "221 2.0.0 %s closing connection" % H)
        self.assertTrue(c.closed())
        self.assertEqual(s.proc.wait(timeout=5), 0)
        self.assertEqual(self.inst.queue_files(), [qid])
        self.assertEqual(self.inst.tmp_files(), [])
        self.assertEqual(self.inst.message(qid),
                         b"Subject: This is my subject line\n"
                         b"I continue writing until I'm out of interesting "
                         b"things\nto say which is not that far away\n")
        head, body = self.inst.read_queue(qid)
        self.assertEqual(head.split("\n")[0], "inetmail-queue 1")
        self.assertIn("\nsender samt@localhost\n", head)
        self.assertIn("\nrcpt samt@localhost\n", head)
        self.assertRegex(body.decode(), r"^Received: from localhost \(localhost\)\n"
                         r"\tby mail\.example\.com \(inetmail\) with SMTP id "
                         + qid + r"\n\tfor <samt@localhost>; ")
        self.assertRegex(self.inst.log_text(),
                         qid + r": from=<samt@localhost>, size=\d+, nrcpts=1, "
                         r"proto=SMTP, relay=localhost\n")
        if IS_ROOT:
            import pwd
            st = os.stat(os.path.join(self.inst.spool, "queue", qid))
            self.assertEqual(st.st_uid, pwd.getpwnam(SPOOL_USER).pw_uid)

    def test_ehlo_and_pipelining(self):
        s = self.session()
        c = s.c
        self.assertEqual(c.cmd("EHLO client.example"), "\n".join([
            "250-%s Hello client.example, pleased to meet you" % H,
            "250-SIZE 52428800", "250-8BITMIME", "250-PIPELINING",
            "250-ENHANCEDSTATUSCODES", "250-CHUNKING", "250-SMTPUTF8",
            "250-DSN", "250 HELP"]))
        # everything up to DATA in one write; the replies come in order
        c.send("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\n"
               "RCPT TO:<samt@mail.example.com>\r\n"
               "RCPT TO:<nobody@mail.example.com>\r\n"
               "RCPT TO:<staff@mail.example.com> NOTIFY=SUCCESS,FAILURE "
               "ORCPT=rfc822;staff@mail.example.com\r\n"
               "DATA\r\n")
        self.assertEqual(c.reply(), "250 2.1.0 <a@example.org>... Sender ok")
        self.assertEqual(c.reply(),
                         "250 2.1.5 <samt@mail.example.com>... Recipient ok")
        self.assertEqual(c.reply(),
                         "550 5.1.1 <nobody@mail.example.com>... User unknown")
        self.assertEqual(c.reply(),
                         "250 2.1.5 <staff@mail.example.com>... Recipient ok")
        self.assertEqual(c.reply(),
                         '354 Enter mail, end with "." on a line by itself')
        c.send("caf\xc3\xa9\r\n.\r\nQUIT\r\n".encode("latin-1"))
        got = c.reply()
        self.assertRegex(got, "^250 2.0.0 %s Message accepted" % QID_RE)
        self.assertEqual(c.reply(), "221 2.0.0 %s closing connection" % H)
        qid = got.split()[2]
        head, _ = self.inst.read_queue(qid)
        self.assertIn("\nbody 8BITMIME\n", head)
        self.assertIn("\nrcpt staff@mail.example.com\nnotify SUCCESS,FAILURE\n"
                      "orcpt rfc822;staff@mail.example.com\n", head)
        self.assertNotIn("nobody", head)
        self.assertEqual(self.inst.message(qid), "caf\xc3\xa9\n".encode("latin-1"))

    def test_smtputf8(self):
        s = self.session()
        c = s.c
        c.cmd("EHLO x")
        self.expect(c, "MAIL FROM:<j\u00f6rg@example.de>",
                    "553 5.6.7 Non-ASCII address requires SMTPUTF8")
        self.expect(c, "MAIL FROM:<j\u00f6rg@b\u00fccher.de> SMTPUTF8",
                    "250 2.1.0 <j\u00f6rg@b\u00fccher.de>... Sender ok")
        self.expect(c, "RCPT TO:<samt@localhost>",
                    "250 2.1.5 <samt@localhost>... Recipient ok")
        self.expect(c, "DATA", '354 Enter mail, end with "." on a line by itself')
        got = self.expect(c, "Subject: \u00fc\r\n\r\nx\r\n.",
                          "re:250 2.0.0 %s Message accepted for delivery" % QID_RE)
        head, body = self.inst.read_queue(got.split()[2])
        self.assertIn("\nsmtputf8\n", head)
        self.assertIn("with UTF8SMTP id", body.decode())

    def test_bdat(self):
        s = self.session()
        c = s.c
        c.cmd("EHLO x")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<samt@localhost>")
        c.send("BDAT 11\r\nSubject: x\r")
        self.assertEqual(c.reply(), "250 2.0.0 11 octets received")
        c.send("BDAT 10 LAST\r\n\n\r\n.\r\nbody")
        got = c.reply()
        self.assertRegex(got, "^250 2.0.0 %s Message accepted" % QID_RE)
        self.assertEqual(self.inst.message(got.split()[2]),
                         b"Subject: x\n\n.\nbody")
        # pipelined in one write, with a chunk holding what looks like commands
        c.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<samt@localhost>\r\n"
               "BDAT 21 LAST\r\nQUIT\r\nRSET\r\n.\r\nRSET\r\nNOOP\r\n")
        self.assertEqual(c.reply(), "250 2.1.0 <a@example.org>... Sender ok")
        self.assertEqual(c.reply(), "250 2.1.5 <samt@localhost>... Recipient ok")
        got = c.reply()
        self.assertRegex(got, "^250 2.0.0 %s Message accepted" % QID_RE)
        self.assertEqual(self.inst.message(got.split()[2]),
                         b"QUIT\nRSET\n.\nRSET\n")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        # BDAT without a transaction still reads its octets
        c.send("BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n")
        self.assertEqual(c.reply(), "503 5.5.1 Need MAIL and RCPT before BDAT")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        self.assertEqual(len(self.inst.queue_files()), 2)


class BadInput(SmtpTest):
    extra = "max_message_size 2000\nmax_recipients 4\n"

    def greeted(self):
        s = self.session()
        self.assertEqual(s.c.cmd("EHLO client"),
                         "\n".join(["250-%s Hello client, pleased to meet you" % H,
                                    "250-SIZE 2000", "250-8BITMIME",
                                    "250-PIPELINING", "250-ENHANCEDSTATUSCODES",
                                    "250-CHUNKING", "250-SMTPUTF8", "250-DSN",
                                    "250 HELP"]))
        return s

    def test_table(self):
        # (commands sent after EHLO, expected replies), one session each
        P = "re:250 2.0.0 %s Message accepted for delivery" % QID_RE
        table = [
            ([("RCPT TO:<samt@localhost>", "503 5.5.1 Need MAIL before RCPT")]),
            ([("DATA", "503 5.5.1 Need MAIL before DATA")]),
            ([("MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok"),
              ("DATA", "503 5.5.1 Need RCPT (recipient)")]),
            ([("MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok"),
              ("RCPT TO:<x@elsewhere.example>",
               "250 2.1.5 <x@elsewhere.example>... Recipient ok"),
              ("MAIL FROM:<a@b.org>", "503 5.5.1 Sender already specified")]),
            ([("MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok"),
              ("RCPT TO:<nosuch@localhost>",
               "550 5.1.1 <nosuch@localhost>... User unknown"),
              ("DATA", "554 5.5.1 No valid recipients")]),
            ([("XYZZY", "500 5.5.1 Command unrecognized"),
              ("MAI", "500 5.5.1 Command unrecognized"),
              ("MAILX FROM:<a@b.org>", "500 5.5.1 Command unrecognized"),
              ("\xe9HLO x", "500 5.5.1 Command unrecognized")]),
            ([("MAIL FROM:<a@b.org> SIZE=2001",
               "552 5.3.4 Message size exceeds fixed maximum message size"),
              ("MAIL FROM:<a@b.org> FOO=BAR", "555 5.5.4 Unsupported parameter"),
              ("MAIL FROM:<a@b.org> SIZE=x", "501 5.5.4 Bad SIZE parameter"),
              ("MAIL FROM <a@b.org>", "501 5.5.4 Syntax: MAIL FROM:<address>"),
              ("MAIL FROM:<a@b.org", "501 5.1.3 Bad address syntax"),
              ("MAIL FROM:<j\u00f6rg@b.org>",
               "553 5.6.7 Non-ASCII address requires SMTPUTF8"),
              ("MAIL FROM:<>", "250 2.1.0 <>... Sender ok"),
              ("RCPT TO:<>", "501 5.1.3 Null recipient"),
              ("RCPT TO:samt", "250 2.1.5 samt... Recipient ok"),
              ("RCPT TO:<postmaster>", "250 2.1.5 <postmaster>... Recipient ok"),
              ("RCPT TO:<abuse@localhost>", "250 2.1.5 <abuse@localhost>... Recipient ok"),
              ("RCPT TO:<samt+folder@localhost>",
               "250 2.1.5 <samt+folder@localhost>... Recipient ok"),
              ("RCPT TO:<SAMT@LOCALHOST>", "452 4.5.3 Too many recipients"),
              ("RCPT TO:<alice@localhost> NOTIFY=SOMETIMES",
               "555 5.5.4 Unsupported parameter"),
              ("RSET", "250 2.0.0 Reset state")]),
            ([("HELO", "501 5.5.4 HELO requires domain address"),
              ("VRFY samt", "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery"),
              ("VRFY", "501 5.5.4 Syntax: VRFY <address>"),
              ("EXPN staff", "502 5.5.1 EXPN not available"),
              ("HELP", "214-2.0.0 This is inetmail's qsmtpd\n"
                       "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT\n"
                       "214-2.0.0  RSET NOOP QUIT HELP VRFY EXPN\n"
                       "214 2.0.0 End of HELP info"),
              ("NOOP", "250 2.0.0 OK"),
              ("DATA x", "503 5.5.1 Need MAIL before DATA")]),
        ]
        for case in table:
            s = self.greeted()
            for line, reply in case:
                with self.subTest(line=line):
                    self.expect(s.c, line, reply)
            self.expect(s.c, "QUIT", "221 2.0.0 %s closing connection" % H)
            s.close()
        self.assertEqual(self.inst.queue_files(), [])

    def test_empty_first_line(self):
        # found by fuzz_smtp: an empty line first once crashed qsmtpd
        s = self.session()
        self.expect(s.c, "", "500 5.5.1 Command unrecognized")
        self.expect(s.c, "NOOP", "250 2.0.0 OK")

    def test_before_helo(self):
        s = self.session()
        for line in ("MAIL FROM:<a@b.org>", "RCPT TO:<samt@localhost>", "DATA",
                     "BDAT 0 LAST"):
            self.expect(s.c, line, "503 5.5.1 Polite people say HELO first")
        self.expect(s.c, "NOOP", "250 2.0.0 OK")
        self.expect(s.c, "helo x", "250 %s Hello x, pleased to meet you" % H)

    def test_long_line_nul_bare_cr(self):
        s = self.greeted()
        self.expect(s.c, "NOOP " + "x" * 600, "500 5.5.2 Line too long")
        self.expect(s.c, "NOOP " + "x" * 505, "250 2.0.0 OK")  # 512 with CRLF
        self.expect(s.c, "NOOP " + "x" * 506, "500 5.5.2 Line too long")
        self.expect(s.c, "NOOP a\0b",
                    "500 5.5.2 Syntax error: NUL or bare CR in command")
        self.expect(s.c, "NOOP a\rb",
                    "500 5.5.2 Syntax error: NUL or bare CR in command")
        s.c.send("NOOP\n")                    # bare LF ending: accepted
        self.assertEqual(s.c.reply(), "250 2.0.0 OK")
        self.expect(s.c, "QUIT", "221 2.0.0 %s closing connection" % H)

    def test_oversize_then_usable(self):
        s = self.greeted()
        c = s.c
        self.expect(c, "MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok")
        self.expect(c, "RCPT TO:<samt@localhost>",
                    "250 2.1.5 <samt@localhost>... Recipient ok")
        self.expect(c, "DATA", '354 Enter mail, end with "." on a line by itself')
        c.send(("y" * 78 + "\r\n") * 200)   # 16000 octets, limit 2000
        self.expect(c, ".", "552 5.3.4 Message size exceeds fixed maximum "
                    "message size")
        self.assertEqual(self.inst.queue_files(), [])
        self.assertEqual(self.inst.tmp_files(), [])
        # the connection stays usable
        self.expect(c, "MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok")
        self.expect(c, "RCPT TO:<samt@localhost>",
                    "250 2.1.5 <samt@localhost>... Recipient ok")
        self.expect(c, "DATA", '354 Enter mail, end with "." on a line by itself')
        c.send(("z" * 98 + "\r\n") * 19)    # 1900 octets: fits
        self.expect(c, ".", "re:250 2.0.0 %s Message accepted for delivery" % QID_RE)
        # BDAT past the limit: every octet read, the transaction refused
        self.expect(c, "MAIL FROM:<a@b.org>", "250 2.1.0 <a@b.org>... Sender ok")
        self.expect(c, "RCPT TO:<samt@localhost>",
                    "250 2.1.5 <samt@localhost>... Recipient ok")
        c.send("BDAT 1500\r\n" + "a" * 1500)
        self.assertEqual(c.reply(), "250 2.0.0 1500 octets received")
        c.send("BDAT 1500\r\n" + "b" * 1500)
        self.assertEqual(c.reply(), "552 5.3.4 Message size exceeds fixed "
                         "maximum message size")
        c.send("BDAT 10 LAST\r\n" + "c" * 10)
        self.assertEqual(c.reply(), "552 5.3.4 Message size exceeds fixed "
                         "maximum message size")
        self.expect(c, "NOOP", "250 2.0.0 OK")
        self.assertEqual(len(self.inst.queue_files()), 1)

    def test_smuggling(self):
        """\\n.\\n, \\r\\n.\\r, \\n.\\r\\n, \\r\\n.\\r\\r\\n never end a message."""
        for seq in ("\n.\n", "\r\n.\r", "\n.\r\n", "\r\n.\r\r\n"):
            with self.subTest(seq=repr(seq)):
                s = self.greeted()
                c = s.c
                c.cmd("MAIL FROM:<a@b.org>")
                c.cmd("RCPT TO:<samt@localhost>")
                self.expect(c, "DATA",
                            '354 Enter mail, end with "." on a line by itself')
                c.send("Subject: one\r\n\r\nfirst" + seq +
                       "MAIL FROM:<evil@b.org>\r\nRCPT TO:<alice@localhost>\r\n"
                       "DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
                r = c.reply()
                self.assertRegex(r, "^554 5.6.0 Message contains a bare (LF|CR); "
                                 "lines must end with CRLF$")
                # the rest is the next command, not smuggled mail
                self.expect(c, "NOOP", "250 2.0.0 OK")
                s.close()
        self.assertEqual(self.inst.queue_files(), [])

    def test_disconnect_mid_data(self):
        s = self.greeted()
        c = s.c
        c.cmd("MAIL FROM:<a@b.org>")
        c.cmd("RCPT TO:<samt@localhost>")
        self.expect(c, "DATA", '354 Enter mail, end with "." on a line by itself')
        c.send("Subject: cut\r\n\r\nhalf a message\r\n")
        time.sleep(0.2)
        c.sock.close()
        self.assertEqual(s.proc.wait(timeout=5), 0)
        self.assertEqual(self.inst.queue_files(), [])
        self.assertEqual(self.inst.tmp_files(), [])
        self.sessions.remove(s)

    def test_10000_noops(self):
        s = self.greeted()
        try:
            s.c.send("NOOP\r\n" * 10000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        for _ in range(100):
            self.assertEqual(s.c.reply(), "250 2.0.0 OK")
        self.assertEqual(s.c.reply(), "421 4.7.0 %s Too many commands without "
                         "progress, closing connection" % H)
        self.assertTrue(s.c.closed())

    def test_too_many_errors(self):
        s = self.greeted()
        for _ in range(10):
            self.assertEqual(s.c.cmd("BOGUS"), "500 5.5.1 Command unrecognized")
        self.assertEqual(s.c.reply(), "421 4.7.0 %s Too many errors, closing "
                         "connection" % H)
        self.assertTrue(s.c.closed())


class Timeouts(SmtpTest):
    extra = "command_timeout 1\ndata_timeout 1\n"

    def test_command_timeout(self):
        s = self.session()
        self.assertEqual(s.c.reply(), "421 4.4.2 %s Timeout waiting for "
                         "command, closing connection" % H)
        self.assertTrue(s.c.closed())

    def test_data_timeout(self):
        s = self.session()
        c = s.c
        c.cmd("HELO x")
        c.cmd("MAIL FROM:<a@b.org>")
        c.cmd("RCPT TO:<samt@localhost>")
        self.expect(c, "DATA", '354 Enter mail, end with "." on a line by itself')
        c.send("partial")
        self.assertEqual(c.reply(), "421 4.4.2 %s Timeout during DATA, "
                         "closing connection" % H)
        self.assertTrue(c.closed())
        self.assertEqual(self.inst.queue_files(), [])


class RelayFromOutside(SmtpTest):
    def run_pipes(self, ip, script):
        p = self.inst.start_qsmtpd_pipes(ip)
        out, _ = p.communicate(script.encode(), timeout=10)
        return out.decode().split("\r\n")

    def test_outside_client(self):
        r = self.run_pipes("192.0.2.99", "EHLO outside\r\nMAIL FROM:<a@b.org>\r\n"
                           "RCPT TO:<victim@elsewhere.example>\r\n"
                           "RCPT TO:<samt@mail.example.com>\r\nQUIT\r\n")
        self.assertIn("250-mail.example.com Hello outside [192.0.2.99], pleased "
                      "to meet you", r)
        self.assertIn("550 5.7.1 <victim@elsewhere.example>... Relaying denied", r)
        self.assertIn("250 2.1.5 <samt@mail.example.com>... Recipient ok", r)
        self.assertIn("NOQUEUE: relay=[192.0.2.99], from=<a@b.org>, "
                      "to=<victim@elsewhere.example>, reject=550 5.7.1 Relaying "
                      "denied", self.inst.log_text())

    def test_relay_domains_prefix(self):
        with open(self.inst.relay, "w") as f:
            f.write("10.2\n")
        r = self.run_pipes("10.2.3.4", "HELO x\r\nMAIL FROM:<a@b.org>\r\n"
                           "RCPT TO:<x@elsewhere.example>\r\nQUIT\r\n")
        self.assertIn("250 2.1.5 <x@elsewhere.example>... Recipient ok", r)
        r = self.run_pipes("10.20.3.4", "HELO x\r\nMAIL FROM:<a@b.org>\r\n"
                           "RCPT TO:<x@elsewhere.example>\r\nQUIT\r\n")
        self.assertIn("550 5.7.1 <x@elsewhere.example>... Relaying denied", r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
