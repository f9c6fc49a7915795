#!/bin/sh
# Builds inetmail, installs it under ./_demo and runs it live on loopback:
# qsmtpd under a private openbsd-inetd on 127.0.0.1:2525 and qrun on the
# spool's trigger socket in the same inetd, a demo user samt (password
# mypassword), and mail sent to samt by SMTP the way the classic guide
# does and by qsend; it lands in samt's mbox at once, and comes out again
# by POP3 from qpop3d in the same inetd.
# `sh contrib/demo.sh stop` stops the demo's inetd.
# Run as root on Debian from the top of the source tree.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
demo=$top/_demo
port=${DEMO_SMTP_PORT:-2525}
pop3port=${DEMO_POP3_PORT:-1110}

stop() {
	if [ -f "$demo/inetd.pid" ]; then
		kill "$(cat "$demo/inetd.pid")" 2>/dev/null || true
		rm -f "$demo/inetd.pid"
	fi
}
if [ "$1" = stop ]; then
	stop
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it creates users and starts inetd)" >&2; exit 1; }
cd "$top"
sh contrib/deps.sh
id samt >/dev/null 2>&1 || useradd -m -s /bin/sh samt
echo 'samt:mypassword' | chpasswd

echo "== building into $demo"
[ -f Makefile ] && make distclean >/dev/null 2>&1 || true
[ -x configure ] || autoreconf -fi
mkdir -p _build/demo
(cd _build/demo && ../../configure -q --prefix="$demo" \
    --sysconfdir="$demo/etc" --localstatedir="$demo/var" &&
    make -j"$(nproc)" >/dev/null && make install >/dev/null)

stop
mkdir -p "$demo/etc/mail" "$demo/var/spool/inetmail" "$demo/var/mail"
chown inetmail "$demo/var/spool/inetmail"
chmod 1777 "$demo/var/mail"
rm -f "$demo/var/mail/samt"
: > "$demo/etc/mail/relay-domains"
echo localhost.localdomain > "$demo/etc/mail/local-host-names"
printf '# aliases\npostmaster: samt\n' > "$demo/etc/mail/aliases"
cat > "$demo/etc/inetmail.conf" <<CONF
hostname demo.example.com
mailbox mbox:$demo/var/mail/%u
log_file $demo/var/maillog
CONF
cat > "$demo/inetd.conf" <<CONF
127.0.0.1:$port stream tcp nowait.1000000 root $demo/sbin/qsmtpd qsmtpd
127.0.0.1:$pop3port stream tcp nowait.1000000 root $demo/sbin/qpop3d qpop3d
$demo/var/spool/inetmail/trigger stream unix nowait root $demo/sbin/qrun qrun -t
CONF
: > "$demo/var/maillog"
/usr/sbin/inetd -d -R 1000000 "$demo/inetd.conf" >"$demo/inetd.log" 2>&1 &
echo $! > "$demo/inetd.pid"
i=0
while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "inetd did not start" >&2; exit 1; }
	sleep 0.1
done

echo "== the guide's session, typed to qsmtpd on 127.0.0.1:$port"
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline().decode().rstrip("\r\n")
        print("S: " + l)
        if l[3:4] != "-":
            return l
reply()
for line in ["helo localhost", "mail from: samt@localhost",
             "rcpt to: samt@localhost", "data",
             "Subject: This is my subject line\r\n\r\nI continue writing until "
             "I'm out of interesting things to say\r\n.", "quit"]:
    for l in line.split("\r\n"):
        print("C: " + l)
    s.sendall((line + "\r\n").encode())
    reply()
PY

if command -v swaks >/dev/null; then
	echo "== swaks, with PIPELINING"
	swaks --server 127.0.0.1 --port "$port" --from alice@example.org \
	    --to samt@localhost --pipeline --header 'Subject: from swaks' \
	    --body 'Sent by swaks.' | sed -n '/^<-  250 2.0.0/p'
fi

echo "== echo hi | qsend -v samt   (as user samt)"
su samt -s /bin/sh -c "echo 'Hello from qsend.' | $demo/sbin/qsend -v samt"

sleep 1
echo "== samt's mailbox ($demo/var/mail/samt)"
cat "$demo/var/mail/samt"
echo "== the guide's POP3 session, typed to qpop3d on 127.0.0.1:$pop3port"
python3 - "$pop3port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def reply(multi=False):
    l = f.readline().decode().rstrip("\r\n")
    print("S: " + l)
    while multi and l != ".":
        l = f.readline().decode().rstrip("\r\n")
        print("S: " + l)
reply()
for line, multi in [("user samt", 0), ("pass mypassword", 0), ("list", 1),
                    ("uidl", 1), ("top 1 0", 1), ("dele 1", 0), ("list", 1),
                    ("quit", 0)]:
    print("C: " + line)
    s.sendall((line + "\r\n").encode())
    reply(multi)
PY

echo "== python poplib fetches the rest"
python3 - "$pop3port" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user("samt"); p.pass_("mypassword")
count, size = p.stat()
print("%d messages, %d octets" % (count, size))
for i in range(1, count + 1):
    lines = p.retr(i)[1]
    subj = [l for l in lines if l.lower().startswith(b"subject:")]
    print("  %d: %s" % (i, (subj[0] if subj else b"(no subject)").decode()))
p.quit()
PY

echo "== the queue"
"$demo/sbin/qsend" -bp
echo "== the log ($demo/var/maillog)"
cat "$demo/var/maillog"
cat <<TXT

qsmtpd is live on 127.0.0.1:$port, qpop3d on 127.0.0.1:$pop3port and qrun on
the trigger socket, under inetd (pid $(cat "$demo/inetd.pid")).  Mail for samt
lands in $demo/var/mail/samt.
Try it by hand: telnet 127.0.0.1 $port   (SMTP)
                telnet 127.0.0.1 $pop3port   (POP3: user samt, pass mypassword)
Stop it:        sh contrib/demo.sh stop
TXT
