#!/bin/bash
#
# pop3.sh: POP3 with a large mbox, inetmail's qpop3d (under a real
# openbsd-inetd) against popa3d (under another openbsd-inetd) and Dovecot's
# pop3 (a private instance), in the same run, on loopback.
#
# All three serve their own copy of the same 10,000-message mbox (~4 KB a
# message) to the same client (bench/pop3_client.c) and the same user and
# password (the same SHA-512 crypt hash in each one's user database).
# Measured, RUNS times each, interleaved:
#   full session  connect, USER/PASS, STAT, LIST, UIDL, RETR 1..n, QUIT
#		  (no DELE), until the server closes the connection;
#   time-to-STAT  connect, USER/PASS, STAT, until the STAT answer;
#   server CPU    of each of those sessions (each server in a cgroup);
#   peak RSS      of each server's processes, in separate sessions (under
#		  /usr/bin/time, which would add a fork and an exec to the
#		  timed ones).
#
# Run as root on Debian:  bash bench/pop3.sh
# See bench/README.md (section POP3) for the knobs and the output.
#
set -euo pipefail

# ---- knobs ----------------------------------------------------------------
MSGS=${MSGS:-10000}		# messages in the mailbox
SIZE=${SIZE:-4096}		# mean message size, bytes (From_ line excluded)
RUNS=${RUNS:-5}			# runs per metric and server; medians reported
RSS_RUNS=${RSS_RUNS:-3}		# full sessions per server for peak RSS (max)
DEPTH=${DEPTH:-1}		# RETRs in flight (1: one command at a time)
QUICKACK=${QUICKACK:-1}		# 1: the client ACKs at once (TCP_QUICKACK);
				# 0: delayed ACKs, as ordinary clients (popa3d
				# then takes ~40 ms a message: 400 s a session)
ACK_RETRS=${ACK_RETRS:-100}	# RETRs of the delayed-ACK check (0: none)
SERVERS=${SERVERS:-"qpop3d popa3d dovecot"}
QP_PORT=${QP_PORT:-22610}	# qpop3d (inetd); +10 the same under time(1)
PD_PORT=${PD_PORT:-22611}	# popa3d (inetd); +10 the same under time(1)
DV_PORT=${DV_PORT:-22612}	# Dovecot pop3-login
BENCH_USER=${BENCH_USER:-popbench}	# a system user (popa3d reads shadow)
BENCH_PASS=${BENCH_PASS:-popbench-secret}
WORK=${WORK:-/var/tmp/inetmail-pop3-bench}
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}	# the inetmail tree
QPOP3D=${QPOP3D:-}		# a built qpop3d; empty: build a snapshot of SRC
POPA3D=${POPA3D:-}		# a popa3d binary; empty: the package's, or one
				# unpacked from the .deb into $WORK (it conflicts
				# with dovecot-pop3d, which is installed)
BENCH_NETNS=${BENCH_NETNS:-1}	# 1: private network namespace, loopback only
PROFILE=${PROFILE:-0}		# 1: also profile qpop3d's login (strace -c,
				# perf record) and print the top of each
KEEP=${KEEP:-0}			# 1: keep $WORK afterwards (logs, configs)
# ---------------------------------------------------------------------------

SELF=$(readlink -f "$0")
BENCH_DIR=$(dirname "$SELF")
INETD=/usr/sbin/inetd
DOVECOT=/usr/sbin/dovecot
DOVEADM=/usr/bin/doveadm
TIME=/usr/bin/time

BENCH_NAME=pop3 CG_PREFIX=popbench
# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run me as root (inetd, Dovecot, a system user)"

# ---- phase 1 (outside the namespace): packages, builds, users, the mbox ----
if [ "${BENCH_INNER:-0}" != 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	need=
	[ -x "$INETD" ] || need="$need openbsd-inetd"
	if [ ! -x /usr/lib/dovecot/pop3 ] || [ ! -x "$DOVECOT" ]; then
		dpkg -s popa3d >/dev/null 2>&1 &&
		    die "popa3d is installed and conflicts with dovecot-pop3d;" \
		    "remove it (this script runs popa3d from a scratch copy)"
		need="$need dovecot-pop3d"
	fi
	[ -x "$TIME" ] || need="$need time"
	command -v ss >/dev/null || need="$need iproute2"
	command -v unshare >/dev/null || need="$need util-linux"
	command -v openssl >/dev/null || need="$need openssl"
	command -v python3 >/dev/null || need="$need python3"
	command -v gcc >/dev/null || need="$need gcc libc6-dev"
	if [ -z "$QPOP3D" ]; then
		for t in autoreconf make; do
			command -v $t >/dev/null && continue
			need="$need autoconf automake make pkg-config libssl-dev check"
			break
		done
	fi
	if [ -n "$need" ]; then
		say "installing:$need"
		apt-get update -qq
		# Don't let dovecot-core start the system's Dovecot on 110/143.
		nopolicy=0
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			nopolicy=1
		fi
		# shellcheck disable=SC2086
		apt-get install -y -q $need >/dev/null ||
		    { [ $nopolicy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get failed"; }
		[ $nopolicy = 1 ] && rm -f /usr/sbin/policy-rc.d
	fi

	rm -rf "$WORK"
	mkdir -p "$WORK"
	chmod 755 "$WORK"

	# popa3d: the installed one, or the .deb's binary in a scratch dir.
	if [ -z "$POPA3D" ] && [[ " $SERVERS " == *" popa3d "* ]]; then
		if [ -x /usr/sbin/popa3d ]; then
			POPA3D=/usr/sbin/popa3d
		else
			say "unpacking popa3d into $WORK/popa3d-pkg"
			mkdir -p "$WORK/popa3d-pkg"
			(cd "$WORK/popa3d-pkg" && apt-get download -q popa3d \
			    >/dev/null 2>&1 && dpkg -x popa3d_*.deb root) ||
			    { apt-get update -qq && (cd "$WORK/popa3d-pkg" &&
			    apt-get download -q popa3d >/dev/null 2>&1 &&
			    dpkg -x popa3d_*.deb root); } ||
			    die "cannot get the popa3d package"
			POPA3D=$WORK/popa3d-pkg/root/usr/sbin/popa3d
		fi
	fi

	if [ -z "$QPOP3D" ]; then
		# A snapshot of the working tree (tracked and untracked, not
		# ignored), so a tree that others are editing is not touched.
		say "building qpop3d from $SRC"
		mkdir -p "$WORK/build"
		if git -C "$SRC" rev-parse >/dev/null 2>&1; then
			git -C "$SRC" ls-files -co --exclude-standard -z |
			    (cd "$SRC" && tar --null -T - -cf -) |
			    tar -C "$WORK/build" -xf -
		else
			cp -a "$SRC"/. "$WORK/build"/
		fi
		(cd "$WORK/build" && { [ -f Makefile ] && make distclean || true; } &&
		    autoreconf -fi && ./configure -q && make -j2) \
		    >"$WORK/build.log" 2>&1 ||
		    { tail -30 "$WORK/build.log" >&2; die "build failed"; }
		QPOP3D=$WORK/build/src/qpop3d/qpop3d
	fi
	[ -x "$QPOP3D" ] || die "no qpop3d at $QPOP3D"
	QPOP3D=$(readlink -f "$QPOP3D")
	gcc -O2 -Wall -o "$WORK/pop3_client" "$BENCH_DIR/pop3_client.c" ||
	    die "cannot build pop3_client"

	# The user: a system account (popa3d asks PAM, i.e. shadow), with the
	# same SHA-512 crypt hash that qpop3d's and Dovecot's passwd-files get.
	id "$BENCH_USER" >/dev/null 2>&1 ||
	    useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$BENCH_USER"
	HASH=$(openssl passwd -6 -salt popbench.salt "$BENCH_PASS")
	usermod -p "$HASH" "$BENCH_USER"
	# popa3d's own user and chroot (what its postinst makes)
	if [[ " $SERVERS " == *" popa3d "* ]]; then
		id popa3d >/dev/null 2>&1 ||
		    useradd -r -M -d /var/lib/popa3d -s /usr/sbin/nologin popa3d
		mkdir -p /var/lib/popa3d
		chmod 755 /var/lib/popa3d
	fi

	# The mailbox: MSGS messages, deterministic (no randomness: the same
	# bytes on every machine and every run).
	say "writing the mailbox ($MSGS messages)"
	MSGS=$MSGS SIZE=$SIZE python3 - "$WORK/mbox" <<-'EOF'
	import os, sys, time
	n, size = int(os.environ["MSGS"]), int(os.environ["SIZE"])
	words = ("the of and to in is that for it as was with be by on not he "
	    "this are or his from at which but have an they you were her she "
	    "there would their we him been has when who will more no if out "
	    "so said what up its about into than them can only other new "
	    "some could time these two may then do first any my now such like "
	    "our over man me even most made after also did many before must "
	    "through back years where much your way well down should because "
	    "each just those people how too little state good very make world "
	    "still own see men work long get here between both life being "
	    "under never day same another know while last might us great old "
	    "year off come since against go came right used take three").split()
	x = 12345
	def rnd(m):
	    global x
	    x = (x * 1103515245 + 12345) % 2147483648
	    return (x >> 8) % m
	t0 = 1704067200			# 2024-01-01 00:00:00 UTC
	with open(sys.argv[1], "wb") as f:
	    for i in range(1, n + 1):
	        t = t0 + i * 97
	        frm = "user%d@sender%d.example.org" % (rnd(500), rnd(40))
	        lines = [
	            "From %s %s" % (frm, time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t))),
	            "Return-Path: <%s>" % frm,
	            "Received: from mx%d.sender.example.org (mx%d.sender.example.org [192.0.2.%d])"
	            % (rnd(9), rnd(9), rnd(250) + 1),
	            "\tby mail.example.net with ESMTP id %08X%04X" % (i, rnd(65536)),
	            "\tfor <popbench@example.net>; %s +0000"
	            % time.strftime("%a, %d %b %Y %H:%M:%S", time.gmtime(t)),
	            "Message-ID: <%d.%d@sender.example.org>" % (t, i),
	            "Date: %s +0000" % time.strftime("%a, %d %b %Y %H:%M:%S", time.gmtime(t)),
	            "From: User %d <%s>" % (i % 97, frm),
	            "To: Bench <popbench@example.net>",
	            "Subject: bench message %d of %d" % (i, n),
	            "MIME-Version: 1.0",
	            "Content-Type: text/plain; charset=us-ascii",
	            "",
	        ]
	        hdr = sum(len(l) + 1 for l in lines[1:])
	        want = size * 3 // 4 + rnd(size // 2) - hdr   # body: mean size - header
	        body = 0
	        k = 0
	        while body < want:
	            k += 1
	            ln = " ".join(words[rnd(len(words))] for _ in range(6 + rnd(8)))
	            if k % 23 == 0:
	                ln = "." + ln            # dot-stuffed on the wire
	            lines.append(ln)
	            body += len(ln) + 1
	        lines.append("")                 # the separating blank line
	        f.write(("\n".join(lines) + "\n").encode())
	EOF
	say "mailbox: $(stat -c %s "$WORK/mbox") bytes"

	export QPOP3D POPA3D MSGS SIZE RUNS RSS_RUNS DEPTH QUICKACK ACK_RETRS SERVERS QP_PORT PD_PORT \
	    DV_PORT BENCH_USER BENCH_PASS WORK KEEP PROFILE HASH
	export BENCH_INNER=1
	if [ "$BENCH_NETNS" = 1 ]; then
		# Nothing started below can reach anything but 127.0.0.1.
		exec unshare -n -- bash "$SELF" "$@"
	fi
	exec bash "$SELF" "$@"
fi

# ---- phase 2: the servers and the runs ------------------------------------
if [ "${BENCH_NETNS:-1}" = 1 ]; then
	ip link set lo up
fi
cd "$WORK"

DV_PID=
PAM_MADE=0
MAIL_MADE=0
declare -A PORT RPORT INETD_PID
CLIENT=$WORK/pop3_client
UID_B=$(id -u "$BENCH_USER")
GID_B=$(id -g "$BENCH_USER")
QP=$WORK/qpop3d
DV=$WORK/dovecot
RSSDIR=$WORK/rss		# time(1) output, one file per server

# CPU accounting: each server (its inetd, or Dovecot's master) runs in a
# cgroup of its own, whose CPU counter covers every process in it, living
# or gone, in ns.  cgroup v2, else v1's cpuacct; else (no cgroup fs) the
# clock ticks of the process tree in /proc (10 ms steps).
# (cg_make, cg_cpu_ns, cg_rm, in_cg: bench/lib.sh)

stop_dovecot() {
	[ -n "$DV_PID" ] || return 0
	$DOVEADM -c "$DV/dovecot.conf" stop >/dev/null 2>&1 || kill "$DV_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$DV_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$DV_PID" 2>/dev/null && kill -9 "$DV_PID"
	DV_PID=
}

cleanup() {
	local rc=$? kids p c
	set +e
	for p in "${INETD_PID[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kids=$(descendants "$p")	# sessions still running
		kill "$p"
		wait "$p" 2>/dev/null
		# shellcheck disable=SC2086
		[ -n "$kids" ] && kill $kids 2>/dev/null
	done
	stop_dovecot
	for c in "${!CG[@]}"; do cg_rm "$c"; done
	[ "$MAIL_MADE" = 1 ] && rm -f "/var/mail/$BENCH_USER"
	[ "$PAM_MADE" = 1 ] && rm -f /etc/pam.d/popa3d
	# the account stays (like the spool user), its password does not
	usermod -p '!' "$BENCH_USER" 2>/dev/null
	if [ "$KEEP" != 1 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$WORK"
	elif [ -d "$WORK" ]; then
		say "kept $WORK (logs, configs)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "pop3: failed at line $LINENO: $BASH_COMMAND"' ERR

# ---- the three mailboxes: each server its own copy ---------------------------
mkdir -p "$QP/mail" "$DV/mail" "$DV/index" "$DV/home" "$RSSDIR"
chmod 755 "$QP" "$DV"
cp "$WORK/mbox" "$QP/mail/$BENCH_USER"
cp "$WORK/mbox" "$DV/mail/inbox"
chown -R "$UID_B:$GID_B" "$QP/mail" "$DV/mail" "$DV/index" "$DV/home"
chmod 700 "$QP/mail" "$DV/mail" "$DV/index"
chmod 600 "$QP/mail/$BENCH_USER" "$DV/mail/inbox"
chmod 1777 "$RSSDIR"		# time(1) writes as each server's user
if [[ " $SERVERS " == *" popa3d "* ]]; then
	# popa3d's compiled-in mail spool: /var/mail/USER
	MAIL_MADE=1
	cp "$WORK/mbox" "/var/mail/$BENCH_USER"
	chown "$UID_B:mail" "/var/mail/$BENCH_USER"
	chmod 660 "/var/mail/$BENCH_USER"
fi

# ---- qpop3d and popa3d under openbsd-inetd -----------------------------------
# inetd_for NAME CONF: an inetd of its own for one server (its own cgroup)
inetd_for() {
	local name=$1 conf=$2
	cg_make "$name"
	in_cg "$name" $INETD -d -R 1000000 "$conf" >"$WORK/inetd-$name.log" 2>&1 &
	INETD_PID[$name]=$!
	wait_listen "${PORT[$name]}" && wait_listen "${RPORT[$name]}" ||
	    die "inetd does not listen for $name"
}

start_qpop3d() {
	local conf=$QP/inetd.conf
	printf '%s:%s:%s:%s::/nonexistent:/bin/sh\n' "$BENCH_USER" \
	    "$HASH" "$UID_B" "$GID_B" >"$QP/passwd"
	cat >"$QP/inetmail.conf" <<-EOF
	users passwd-file:$QP/passwd
	mailbox mbox:$QP/mail/%u
	log_file $QP/qpop3d.log
	EOF
	# nowait.N: inetd's default limit is 256 starts a minute
	printf '127.0.0.1:%s stream tcp nowait.1000000 root %s qpop3d -C %s\n' \
	    "$QP_PORT" "$QPOP3D" "$QP/inetmail.conf" >"$conf"
	printf '127.0.0.1:%s stream tcp nowait.1000000 root %s time -f %%M -a -o %s %s -C %s\n' \
	    "$((QP_PORT + 10))" "$TIME" "$RSSDIR/qpop3d" "$QPOP3D" \
	    "$QP/inetmail.conf" >>"$conf"
	if [ "$PROFILE" = 1 ]; then
		mkdir -p "$WORK/profile"
		printf '127.0.0.1:%s stream tcp nowait.1000000 root %s strace -f -c -o %s %s -C %s\n' \
		    "$((QP_PORT + 20))" "$(command -v strace)" \
		    "$WORK/profile/strace.txt" "$QPOP3D" "$QP/inetmail.conf" >>"$conf"
		printf '127.0.0.1:%s stream tcp nowait.1000000 root %s perf record -q -F 20000 -g -o %s %s -C %s\n' \
		    "$((QP_PORT + 30))" "$(command -v perf)" \
		    "$WORK/profile/perf.data" "$QPOP3D" "$QP/inetmail.conf" >>"$conf"
	fi
	PORT[qpop3d]=$QP_PORT
	RPORT[qpop3d]=$((QP_PORT + 10))
	inetd_for qpop3d "$conf"
	if [ "$PROFILE" = 1 ]; then
		wait_listen "$((QP_PORT + 30))" || die "inetd does not listen for perf"
	fi
}

start_popa3d() {
	local conf=$WORK/popa3d-inetd.conf
	[ -x "$POPA3D" ] || die "no popa3d at $POPA3D"
	if [ ! -e /etc/pam.d/popa3d ]; then
		# what the package installs: pam_unix via common-auth
		printf '@include common-auth\n@include common-account\n' \
		    >/etc/pam.d/popa3d
		PAM_MADE=1
	fi
	printf '127.0.0.1:%s stream tcp nowait.1000000 root %s popa3d\n' \
	    "$PD_PORT" "$POPA3D" >"$conf"
	printf '127.0.0.1:%s stream tcp nowait.1000000 root %s time -f %%M -a -o %s %s\n' \
	    "$((PD_PORT + 10))" "$TIME" "$RSSDIR/popa3d" "$POPA3D" >>"$conf"
	PORT[popa3d]=$PD_PORT
	RPORT[popa3d]=$((PD_PORT + 10))
	inetd_for popa3d "$conf"
}

# ---- a private Dovecot --------------------------------------------------------
# start_dovecot [rss]: with "rss", pop3 and pop3-login run under time(1)
# (and the login process outside its chroot, where time(1) is).
start_dovecot() {
	local extra_login='' extra_pop3=''
	if [ "${1:-}" = rss ]; then
		extra_login="executable = $TIME -f %M -a -o $RSSDIR/dovecot-login /usr/lib/dovecot/pop3-login
  chroot ="
		extra_pop3="executable = $TIME -f %M -a -o $RSSDIR/dovecot-pop3 /usr/lib/dovecot/pop3"
	fi
	mkdir -p "$DV/run" "$DV/state"
	printf '%s:{SHA512-CRYPT}%s:%s:%s::%s::\n' "$BENCH_USER" "$HASH" \
	    "$UID_B" "$GID_B" "$DV/home" >"$DV/passwd"
	cat >"$DV/dovecot.conf" <<-EOF
	# a private instance for bench/pop3.sh; everything else is Dovecot's default
	instance_name = popbench
	base_dir = $DV/run
	state_dir = $DV/state
	protocols = pop3
	listen = 127.0.0.1
	ssl = no
	disable_plaintext_auth = no
	auth_mechanisms = plain
	first_valid_uid = 1
	log_path = $DV/dovecot.log
	mail_location = mbox:$DV/mail:INBOX=$DV/mail/inbox:INDEX=$DV/index
	passdb {
	  driver = passwd-file
	  args = $DV/passwd
	}
	userdb {
	  driver = passwd-file
	  args = $DV/passwd
	}
	service pop3-login {
	  inet_listener pop3 {
	    address = 127.0.0.1
	    port = $DV_PORT
	  }
	  inet_listener pop3s {
	    port = 0
	  }
	  $extra_login
	}
	service pop3 {
	  $extra_pop3
	}
	EOF
	[ -n "${CG[dovecot]:-}" ] || cg_make dovecot
	(in_cg dovecot $DOVECOT -c "$DV/dovecot.conf") >"$DV/start.log" 2>&1 ||
	    { cat "$DV/start.log" "$DV/dovecot.log" >&2 2>/dev/null; die "dovecot failed to start"; }
	for _ in $(seq 100); do
		[ -s "$DV/run/master.pid" ] && break
		sleep 0.1
	done
	DV_PID=$(tr -dc 0-9 <"$DV/run/master.pid")
	[ -n "$DV_PID" ] || die "no Dovecot master pid"
	wait_listen "$DV_PORT" || die "Dovecot does not listen on $DV_PORT"
	PORT[dovecot]=$DV_PORT
}

for s in $SERVERS; do
	case $s in
	qpop3d) start_qpop3d ;;
	popa3d) start_popa3d ;;
	dovecot) start_dovecot ;;
	*) die "unknown server $s" ;;
	esac
done

# ---- the runs ----------------------------------------------------------------
client() {	# client PORT MODE [opts]: one session; prints key=value
	local port=$1 mode=$2 d=
	shift 2
	[ "$QUICKACK" = 1 ] || d=-D
	"$CLIENT" -p "$port" -u "$BENCH_USER" -w "$BENCH_PASS" -P "$DEPTH" \
	    $d "$@" "$mode"
}
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }	# kv KEY <line
calc() { awk "BEGIN{printf \"%.3f\", $1}"; }

# Warm-up: page cache, Dovecot's index (its first session builds it and, as
# RETR sets \Seen, rewrites the mbox with its Status/X-UID headers, which
# it hides from clients); then one session with the content hash, to check
# that every server sends the same messages.
say "warming up"
declare -A HASHOF OCTETS
for s in $SERVERS; do
	client "${PORT[$s]}" full >/dev/null
	client "${PORT[$s]}" stat >/dev/null
	line=$(client "${PORT[$s]}" full -H)
	HASHOF[$s]=$(kv hash <<<"$line")
	OCTETS[$s]="$(kv msgs <<<"$line") msgs, $(kv octets <<<"$line") octets (STAT), $(kv retr_bytes <<<"$line") bytes sent"
	[ "$(kv msgs <<<"$line")" = "$MSGS" ] ||
	    die "$s: STAT says $(kv msgs <<<"$line") messages, not $MSGS"
	say "  $s: ${OCTETS[$s]}, content hash ${HASHOF[$s]}"
done

BG_BEFORE=$(bench_busy)
[ "$BG_BEFORE" -le 10 ] ||
    say "warning: the machine is ${BG_BEFORE}% busy before the runs; numbers will be noisy"

# CPU time of process $1 and all its descendants, living or reaped, in
# ticks: utime+stime of each, plus cutime+cstime (the children it reaped).
# For inetd: itself and every server it started; for Dovecot: the master,
# its resident processes (auth, config, log, anvil, stats) and every
# pop3-login and pop3 process.
# (tree_ticks: bench/lib.sh)
root_of() { if [ "$1" = dovecot ]; then echo "$DV_PID"; else echo "${INETD_PID[$1]}"; fi; }
cpu_now() {	# cpu_now SERVER: its CPU time so far, in ms
	if [ -n "${CG[$1]:-}" ]; then
		calc "$(cg_cpu_ns "$1") / 1000000"
	else
		calc "$(tree_ticks "$(root_of "$1")") * 1000 / $HZ"
	fi
}

# Waits (30 looks, 0.1 s apart) until no session process of the server is
# left, so that all of the session's CPU time has been counted.
wait_reaped() {
	local root=$1 p busy
	for _ in $(seq 30); do
		busy=0
		for p in $(descendants "$root"); do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			qpop3d|popa3d|pop3|pop3-login|time) busy=1; break ;;
			esac
		done
		[ $busy = 0 ] && return 0
		sleep 0.1
	done
	say "warning: a session of the server under $root is still running"
}

RES=$WORK/results
: >"$RES"
say "$(printf '%-8s %-8s %3s %10s %8s' metric server run ms cpu-ms)"
onerun() {	# onerun METRIC SERVER RUN
	local m=$1 s=$2 r=$3 root line ms c0 c1 cpu
	root=$(root_of "$s")
	c0=$(cpu_now "$s")
	line=$(client "${PORT[$s]}" "$m")
	wait_reaped "$root"
	c1=$(cpu_now "$s")
	[ "$(kv msgs <<<"$line")" = "$MSGS" ] || die "$s: short session: $line"
	if [ "$m" = full ]; then ms=$(kv total_ms <<<"$line"); else ms=$(kv stat_ms <<<"$line"); fi
	cpu=$(calc "$c1 - $c0")
	echo "$m $s $r $ms $cpu" >>"$RES"
	say "$(printf '%-8s %-8s %3s %10.2f %8.1f' "$m" "$s" "$r" "$ms" "$cpu")"
}
for r in $(seq "$RUNS"); do
	for s in $SERVERS; do onerun full "$s" "$r"; done
	for s in $SERVERS; do onerun stat "$s" "$r"; done
done
BG_AFTER=$(bench_busy)

# The delayed-ACK check: ACK_RETRS RETRs, one at a time, by a client that
# delays its ACKs as ordinary clients do (-D), and by the timed runs' client
# (quick ACKs); median of 3 each.  A server that writes an answer in pieces
# waits for the client's ACK (Nagle) before its last piece.
declare -A ACKMS
if [ "$ACK_RETRS" -gt 0 ]; then
	say "delayed-ACK check ($ACK_RETRS RETRs)"
	for s in $SERVERS; do
		a=$(for _ in 1 2 3; do client "${PORT[$s]}" full -D -n "$ACK_RETRS" |
		    kv retr_ms; done | sort -g | sed -n 2p)
		b=$(for _ in 1 2 3; do client "${PORT[$s]}" full -n "$ACK_RETRS" |
		    kv retr_ms; done | sort -g | sed -n 2p)
		ACKMS[$s]="$(calc "$a / $ACK_RETRS") / $(calc "$b / $ACK_RETRS")"
	done
fi

# Peak RSS: full sessions under time(1) (%M: the largest RSS of the process
# it ran or of any descendant that one waited for).  Dovecot is restarted
# with time(1) as the executable of pop3 and pop3-login (same index).
say "peak RSS"
if [[ " $SERVERS " == *" dovecot "* ]]; then
	stop_dovecot
	start_dovecot rss
	RPORT[dovecot]=$DV_PORT
fi
for s in $SERVERS; do
	for _ in $(seq "$RSS_RUNS"); do
		client "${RPORT[$s]}" full >/dev/null
	done
done
# time(1) writes its file after the server has closed the connection
sleep 1
rss() {		# rss FILE: the largest %M in it, in KB
	[ -s "$1" ] || { echo -; return; }
	sort -n "$1" | tail -1
}

# The profile: where qpop3d's time-to-STAT goes (one login each; the
# strace'd one is slowed by strace, read its counts, not its times).
PROFILE_OUT=
if [ "$PROFILE" = 1 ] && [ -n "${PORT[qpop3d]:-}" ]; then
	say "profiling qpop3d's login"
	PROFILE_OUT=$WORK/profile/report.txt
	client "$((QP_PORT + 20))" stat >/dev/null
	client "$((QP_PORT + 30))" stat >/dev/null
	sleep 1				# strace and perf write after the close
	{
		echo "strace -f -c of one time-to-STAT session of qpop3d:"
		echo
		sed -n '1,25p' "$WORK/profile/strace.txt"
		echo
		echo "perf record -g of one time-to-STAT session of qpop3d (self, top 25):"
		echo
		perf report -i "$WORK/profile/perf.data" --no-children --stdio \
		    --sort dso,symbol -g none 2>/dev/null | grep -v '^#' | grep . |
		    head -25
	} >"$PROFILE_OUT" 2>&1 || true
fi

# ---- the report ---------------------------------------------------------------
med() { awk -v m="$1" -v s="$2" '$1==m && $2==s {print $4}' "$RES" | median; }
cpu() {	# cpu METRIC SERVER: mean CPU ms of the server's tree a session
	awk -v m="$1" -v s="$2" '$1==m && $2==s {t += $5; n++}
	    END { if (n) printf "%.1f", t / n; else print "-" }' "$RES"
}
ratio() {	# ratio A B: how many times faster A is than B (B/A), "-" if unknown
	if [ -n "$1" ] && [ -n "$2" ] && [ "$1" != - ] && [ "$2" != - ]; then
		printf '%.2fx' "$(calc "$2 / $1")"
	else
		echo -
	fi
}
has() { [[ " $SERVERS " == *" $1 "* ]]; }

echo
echo "POP3: $MSGS messages, $(stat -c %s "$WORK/mbox") bytes of mbox," \
    "median of $RUNS runs (RETR depth $DEPTH)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)," \
    "Dovecot $($DOVECOT --version 2>/dev/null | cut -d' ' -f1)," \
    "popa3d $(dpkg-deb -f "$WORK"/popa3d-pkg/popa3d_*.deb Version 2>/dev/null ||
    dpkg-query -W -f '${Version}' popa3d 2>/dev/null || echo '?')"
echo "other CPU load: ${BG_BEFORE}% busy before the runs, ${BG_AFTER}% after"
case $CG_KIND in
v2) echo "server CPU: cgroup v2 cpu.stat of each server's cgroup" ;;
v1) echo "server CPU: cgroup v1 cpuacct.usage of each server's cgroup" ;;
*) echo "server CPU: clock ticks of each server's process tree (10 ms steps)" ;;
esac
echo
for s in $SERVERS; do
	echo "- $s: ${OCTETS[$s]}, content hash ${HASHOF[$s]}"
done
echo
echo "| server | full session ms | time-to-STAT ms | peak RSS KB | CPU ms, full | CPU ms, to STAT |"
echo "|---|---|---|---|---|---|"
for s in $SERVERS; do
	case $s in
	dovecot) r="pop3 $(rss "$RSSDIR/dovecot-pop3"), pop3-login $(rss "$RSSDIR/dovecot-login")" ;;
	*) r=$(rss "$RSSDIR/$s") ;;
	esac
	printf '| %s | %s | %s | %s | %s | %s |\n' "$s" "$(med full "$s")" \
	    "$(med stat "$s")" "$r" "$(cpu full "$s")" "$(cpu stat "$s")"
done
if has qpop3d; then
	echo
	echo "qpop3d against the others (other's median / qpop3d's: above 1.00x, qpop3d is faster):"
	echo
	echo "| qpop3d vs | full session | time-to-STAT |"
	echo "|---|---|---|"
	for o in popa3d dovecot; do
		has "$o" || continue
		printf '| %s | %s | %s |\n' "$o" \
		    "$(ratio "$(med full qpop3d)" "$(med full "$o")")" \
		    "$(ratio "$(med stat qpop3d)" "$(med stat "$o")")"
	done
	if has popa3d && has dovecot; then
		bf=$(printf '%s\n%s\n' "$(med full popa3d)" "$(med full dovecot)" | sort -g | head -1)
		bs=$(printf '%s\n%s\n' "$(med stat popa3d)" "$(med stat dovecot)" | sort -g | head -1)
		printf '| the faster of the two | %s | %s |\n' \
		    "$(ratio "$(med full qpop3d)" "$bf")" \
		    "$(ratio "$(med stat qpop3d)" "$bs")"
	fi
fi
if [ "$ACK_RETRS" -gt 0 ]; then
	echo
	echo "delayed-ACK check: ms per RETR over $ACK_RETRS RETRs, one at a time," \
	    "median of 3, client with ordinary delayed ACKs / with TCP_QUICKACK:"
	echo
	for s in $SERVERS; do
		echo "- $s: ${ACKMS[$s]}"
	done
fi
echo
echo "per run (metric server run ms server-cpu-ms):"
cat "$RES"
[ -n "$PROFILE_OUT" ] && { echo; cat "$PROFILE_OUT"; }
exit 0
