#!/bin/bash
#
# local_delivery.sh: local delivery throughput, inetmail (qsend + the
# trigger socket served by `qrun -t` under a real openbsd-inetd) against
# Postfix (sendmail/postdrop + pickup, cleanup, qmgr, local(8)), in the
# same run, with no network at all.
#
# MSGS messages of about SIZE bytes, generated reproducibly, are submitted
# from the command line to one local user whose mailbox is an mbox.  A run
# is timed from the first submission until the last message is in the
# mbox (a poller counts the From_ lines as they are appended).  Each run is
# checked: exactly MSGS messages in the mbox, each exactly once.
#
# Same durability on both sides:
#   inetmail: qsend fsyncs the queue file and the queue directory before it
#             exits 0; qrun fsyncs the mbox (fcntl lock + dotlock) before
#             the message leaves the queue.
#   Postfix:  postdrop and cleanup fsync their queue files; local(8)
#             fsyncs the mbox (fcntl lock + dotlock, Debian's default).
# Neither is tuned: inetmail runs with its default max_deliveries, Postfix
# with its default concurrency and in_flow_delay.
#
# Run as root on Debian:  bash bench/local_delivery.sh
# See bench/README.md ("Local delivery") for the knobs and the output.
#
set -euo pipefail

# ---- knobs ----------------------------------------------------------------
MSGS=${MSGS:-2000}		# messages per run
SIZE=${SIZE:-4096}		# bytes per message (headers + body), about
RUNS=${RUNS:-3}			# runs per case and system; the median is reported
PAR=${PAR:-4}			# submitters in the "parallel" case
CASES=${CASES:-"seq par"}	# seq: one submission after another;
				# par: PAR submitters at once
SYSTEMS=${SYSTEMS:-"inetmail postfix"}
MAX_DELIVERIES=${MAX_DELIVERIES:-}	# inetmail's max_deliveries; empty:
					# its default
STALL=${STALL:-120}		# a run fails when the mbox has not grown for
				# this many seconds
PROFILE=${PROFILE:-0}		# 1: afterwards, one more run of each system
				# (seq) under strace -c -f: syscalls, fsyncs
				# and process starts per message
WORK=${WORK:-/var/tmp/inetmail-local-bench}	# under /var: Postfix's
						# maillog_file must be
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}	# the inetmail tree
BIN=${BIN:-}			# a build's bin dir holding qsend and qrun
				# (or a tree with src/qsend, src/qrun);
				# empty: build a snapshot of SRC
BENCH_USER=${BENCH_USER:-lbrcpt}	# the local recipient (a system user,
					# created if missing, removed after)
BENCH_NETNS=${BENCH_NETNS:-1}	# 1: run everything in a private network
				# namespace with only loopback
KEEP=${KEEP:-0}			# 1: keep $WORK afterwards (logs, configs)
# ---------------------------------------------------------------------------

SELF=$(readlink -f "$0")
INETD=/usr/sbin/inetd
POSTFIX=/usr/sbin/postfix
PF_SENDMAIL=/usr/sbin/sendmail
POSTALIAS=/usr/sbin/postalias
PYTHON=/usr/bin/python3
DOMAIN=bench.invalid
FROM=sender@bench-client.invalid

BENCH_NAME=local_delivery
# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run me as root (inetd, Postfix, delivery as a user)"

# ---- phase 1 (outside the namespace): packages, user, build, messages -------
if [ "${BENCH_INNER:-0}" != 1 ]; then
	need=
	[ -x "$INETD" ] || need="$need openbsd-inetd"
	{ [ -x "$POSTFIX" ] && [ -x "$POSTALIAS" ]; } || need="$need postfix"
	[ -x "$PYTHON" ] || need="$need python3"
	command -v unshare >/dev/null || need="$need util-linux"
	if [ "$PROFILE" = 1 ]; then
		command -v strace >/dev/null || need="$need strace"
	fi
	[ -n "$BIN" ] || need="$need $(bench_build_tools)"
	# shellcheck disable=SC2086
	bench_install $need
	id inetmail >/dev/null 2>&1 ||
	    useradd -r -d /nonexistent -s /usr/sbin/nologin inetmail
	id postfix >/dev/null 2>&1 || die "no postfix user (postfix install?)"
	getent group postdrop >/dev/null || die "no postdrop group"
	# postdrop must be setgid postdrop (Debian's package makes it so)
	[ -g /usr/sbin/postdrop ] && [ "$(stat -c %G /usr/sbin/postdrop)" = \
	    postdrop ] || die "/usr/sbin/postdrop is not setgid postdrop"
	USER_MADE=0
	if ! id "$BENCH_USER" >/dev/null 2>&1; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$BENCH_USER"
		USER_MADE=1
	fi
	# the recipient, not root, a real account for Postfix's local(8)
	[ "$(id -u "$BENCH_USER")" -ne 0 ] || die "$BENCH_USER is root"

	bench_fresh_work "$WORK"
	if [ -z "$BIN" ]; then
		bench_build "$SRC" "$WORK/build" "$WORK/build.log"
		BIN=$WORK/build/src
	fi
	if [ -x "$BIN/qsend/qsend" ]; then
		QSEND=$BIN/qsend/qsend QRUN=$BIN/qrun/qrun
	else
		QSEND=$BIN/qsend QRUN=$BIN/qrun
	fi
	[ -x "$QSEND" ] && [ -x "$QRUN" ] || die "no qsend and qrun in $BIN"
	QSEND=$(readlink -f "$QSEND") QRUN=$(readlink -f "$QRUN")

	bench_messages "$MSGS" "$SIZE" "$WORK/msgs" "$FROM" \
	    "$BENCH_USER@$DOMAIN" "local delivery benchmark message"
	export QSEND QRUN MSGS SIZE RUNS PAR CASES SYSTEMS MAX_DELIVERIES STALL \
	    PROFILE WORK KEEP BENCH_USER USER_MADE
	export BENCH_INNER=1
	if [ "$BENCH_NETNS" = 1 ]; then
		# Nothing started below can reach anything but 127.0.0.1.
		exec unshare -n -- bash "$SELF" "$@"
	fi
	exec bash "$SELF" "$@"
fi

# ---- phase 2: the systems and the runs --------------------------------------
if [ "${BENCH_NETNS:-1}" = 1 ]; then
	ip link set lo up 2>/dev/null || true
fi

INETD_PID=
PF_MASTER_PID=
POLL_PID=
SUB_PIDS=
QS=$WORK/inetmail
QS_SPOOL=$QS/spool
QS_CONF=$QS/inetmail.conf
QS_MAIL=$QS/mail
PF=$WORK/postfix
PF_CONF=$PF/etc
PF_QUEUE=$PF/queue
PF_MAIL=$PF/mail
MSGDIR=$WORK/msgs
BU_UID=$(id -u "$BENCH_USER")
BU_GID=$(id -g "$BENCH_USER")

cleanup() {
	local rc=$?
	set +e
	local p
	for p in $POLL_PID $SUB_PIDS; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$INETD_PID" ] && kill -0 "$INETD_PID" 2>/dev/null; then
		kill "$INETD_PID"
		wait "$INETD_PID" 2>/dev/null
	fi
	pf_stop "$PF_CONF" "$PF_MASTER_PID"
	# qrun -t processes still delivering (a failed run) end by themselves
	# within lock_timeout; none is killed here by name.
	if [ "$KEEP" != 1 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$WORK"
	elif [ -d "$WORK" ]; then
		say "kept $WORK (logs, configs, mailboxes)"
	fi
	if [ "${USER_MADE:-0}" = 1 ]; then
		userdel "$BENCH_USER" 2>/dev/null
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "local_delivery: failed at line $LINENO: $BASH_COMMAND"' ERR

# ---- inetmail: the trigger socket under openbsd-inetd -------------------------
start_inetmail() {
	mkdir -p "$QS" "$QS_MAIL"
	chmod 755 "$QS"
	chmod 1777 "$QS_MAIL"		# mailboxes made by their owners
	# as an installation makes it (tests/inetmail_test.py prepare_spool)
	qs_spool "$QS_SPOOL"
	printf '%s\n' "$DOMAIN" >"$QS/local-host-names"
	: >"$QS/relay-domains"
	printf 'postmaster: root\n' >"$QS/aliases"
	printf '%s:*:%s:%s::/nonexistent:/bin/sh\n' "$BENCH_USER" "$BU_UID" \
	    "$BU_GID" >"$QS/passwd"
	cat >"$QS_CONF" <<-EOF
	hostname $DOMAIN
	spool $QS_SPOOL
	mailbox mbox:$QS_MAIL/%u
	users passwd-file:$QS/passwd
	aliases $QS/aliases
	local_host_names $QS/local-host-names
	relay_domains $QS/relay-domains
	trigger $QS_SPOOL/trigger
	log_file $QS/inetmail.log
	spool_user inetmail
	# any DNS lookup goes to a dead loopback port (there should be none)
	resolver 127.0.0.1:1
	EOF
	if [ -n "$MAX_DELIVERIES" ]; then
		echo "max_deliveries $MAX_DELIVERIES" >>"$QS_CONF"
	fi
	# nowait.N: inetd's default limit is 256 starts a minute
	printf '%s stream unix nowait.1000000 root %s qrun -t -C %s\n' \
	    "$QS_SPOOL/trigger" "$QRUN" "$QS_CONF" >"$QS/inetd.conf"
	$INETD -d -R 1000000 "$QS/inetd.conf" >"$QS/inetd.log" 2>&1 &
	INETD_PID=$!
	for _ in $(seq 100); do
		[ -S "$QS_SPOOL/trigger" ] && return 0
		kill -0 "$INETD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$QS/inetd.log" >&2
	die "inetd does not listen on $QS_SPOOL/trigger"
}

inetmail_mbox() { echo "$QS_MAIL/$BENCH_USER"; }
inetmail_left() { find "$QS_SPOOL"/tmp "$QS_SPOOL"/queue -type f | wc -l; }
inetmail_busy() {	# qrun -t processes of our inetd still running
	local n=0 p
	for p in /proc/[0-9]*; do
		[ "$(awk '{print $4}' "$p/stat" 2>/dev/null)" = "$INETD_PID" ] &&
		    n=$((n + 1))
	done
	echo "$n"
}

# ---- a private Postfix ----------------------------------------------------------
start_postfix() {
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF/data" "$PF_MAIL"
	chmod 755 "$PF"
	chmod 1777 "$PF_MAIL"
	chown postfix: "$PF/data"
	{ pf_main_cf "$PF" "$PF_QUEUE"; cat; } >"$PF_CONF/main.cf" <<-EOF
	myhostname = $DOMAIN
	mydomain = $DOMAIN
	myorigin = \$myhostname
	mydestination = \$myhostname, localhost
	mail_spool_directory = $PF_MAIL
	home_mailbox =
	mailbox_command =
	alias_maps = hash:$PF_CONF/aliases
	alias_database = hash:$PF_CONF/aliases
	relayhost =
	default_transport = error:no remote delivery in this benchmark
	relay_transport = error:no remote delivery in this benchmark
	inet_interfaces = loopback-only
	EOF
	# no inet service: submission is sendmail -> postdrop -> pickup
	{
		pf_master_cf
		echo "local     unix  -       n       n       -       -       local"
	} >"$PF_CONF/master.cf"
	printf 'postmaster: root\n' >"$PF_CONF/aliases"
	$POSTALIAS -c "$PF_CONF" "$PF_CONF/aliases"
	pf_start "$PF_CONF" "$PF_QUEUE" "$PF/start.log"
	for _ in $(seq 100); do
		[ -S "$PF_QUEUE/public/pickup" ] && return 0
		sleep 0.1
	done
	die "Postfix has no pickup socket"
}

postfix_mbox() { echo "$PF_MAIL/$BENCH_USER"; }
postfix_left() {
	find "$PF_QUEUE"/maildrop "$PF_QUEUE"/incoming "$PF_QUEUE"/active \
	    "$PF_QUEUE"/deferred "$PF_QUEUE"/hold -type f | wc -l
}
postfix_busy() { echo 0; }	# Postfix's processes stay; an empty queue is idle

# ---- the runs ---------------------------------------------------------------------

# Counts From_ lines as they are appended to the mbox $1 and prints the
# wall-clock time (epoch seconds) at which there were $2 of them; exits 1
# (printing the count) if the mbox does not grow for $3 seconds.
POLLER='
import os, sys, time
path, want, stall = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
n, bol, last = 0, True, time.time()
while True:
	data = os.read(fd, 1 << 20)
	if data:
		last = time.time()
		if bol and data.startswith(b"From "):
			n += 1
		n += data.count(b"\nFrom ")
		bol = data.endswith(b"\n")
		if n >= want:
			print("%.6f" % time.time()); sys.exit(0)
		continue
	if time.time() - last > stall:
		print(n); sys.exit(1)
	time.sleep(0.005)
'

root_of() {
	if [ "$1" = postfix ]; then echo "$PF_MASTER_PID"; else echo "$INETD_PID"; fi
}

# A fresh, empty mbox owned by the recipient (and no stale lock).
fresh_mbox() {
	local m
	m=$("$1"_mbox)
	rm -f "$m" "$m.lock"
	install -o "$BENCH_USER" -g "$(id -gn "$BENCH_USER")" -m 600 /dev/null "$m"
}

# Waits until system $1 has nothing queued and nothing delivering.
quiesce() {
	for _ in $(seq 600); do
		if [ "$("$1"_left)" -eq 0 ] && [ "$("$1"_busy)" -eq 0 ]; then
			return 0
		fi
		sleep 0.1
	done
	die "$1 still has $("$1"_left) queued, $("$1"_busy) delivering"
}

# The submitter: `bash $SUBMIT SYSTEM FIRST STEP` submits messages FIRST,
# FIRST+STEP, ... up to MSGS, one after another, as a mail client would.
SUBMIT=$WORK/submit.sh
cat >"$SUBMIT" <<SUBMIT_EOF
set -e
case \$1 in
inetmail) cmd=("$QSEND" -C "$QS_CONF") ;;
postfix) cmd=("$PF_SENDMAIL" -C "$PF_CONF") ;;
esac
for ((i = \$2; i <= \${MSGS:-$MSGS}; i += \$3)); do
	"\${cmd[@]}" -oi -f "$FROM" "$BENCH_USER@$DOMAIN" <"$MSGDIR/\$i" ||
	    { echo "submission of message \$i to \$1 failed" >&2; exit 1; }
done
SUBMIT_EOF

# Checks the mbox $1: MSGS From_ lines, each X-Bench-Seq 1..MSGS once.
verify_mbox() {
	local m=$1 from seqs uniq dup
	from=$(grep -c '^From ' "$m" || true)
	seqs=$(grep -c '^X-Bench-Seq: ' "$m" || true)
	uniq=$(grep '^X-Bench-Seq: ' "$m" | awk -v n="$MSGS" \
	    '$2 >= 1 && $2 <= n && !seen[$2]++ {u++} END {print u + 0}')
	dup=$(grep '^X-Bench-Seq: ' "$m" | sort | uniq -d | wc -l)
	if [ "$from" -ne "$MSGS" ] || [ "$seqs" -ne "$MSGS" ] ||
	    [ "$uniq" -ne "$MSGS" ] || [ "$dup" -ne 0 ]; then
		say "$m: $from From_ lines, $seqs messages, $uniq distinct," \
		    "$dup duplicated (want $MSGS, $MSGS, $MSGS, 0)"
		return 1
	fi
}

# CPU time of the children this shell has reaped, in ticks: the
# submitters and everything they ran and reaped (qsend; sendmail, postdrop).
reaped_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }

# one_run SYSTEM CASE: sets R_SECS (first submission to last message in
# the mbox), R_SUBS (to the last submitter's exit), R_CTICKS (CPU ticks of
# the submitters), R_STICKS (CPU ticks of the delivery side) and R_ATICKS
# (CPU ticks of the whole machine, whoever used them).
one_run() {
	local sys=$1 case=$2 n=1 k mbox t0 t1 ts root s0 s1 c0 c1 r0 r1
	[ "$case" = par ] && n=$PAR
	quiesce "$sys"
	fresh_mbox "$sys"
	mbox=$("$sys"_mbox)
	$PYTHON -c "$POLLER" "$mbox" "$MSGS" "$STALL" >"$WORK/poll.out" &
	POLL_PID=$!
	sync
	sleep 0.3			# the poller has opened the mbox
	root=$(root_of "$sys")
	s0=$(tree_ticks "$root")
	c0=$(cpu_ticks)
	r0=$(reaped_ticks)
	SUB_PIDS=
	t0=$EPOCHREALTIME
	for ((k = 1; k <= n; k++)); do
		bash "$SUBMIT" "$sys" "$k" "$n" &
		SUB_PIDS="$SUB_PIDS $!"
	done
	for k in $SUB_PIDS; do
		wait "$k" || die "$sys $case: a submitter failed"
	done
	ts=$EPOCHREALTIME
	r1=$(reaped_ticks)
	SUB_PIDS=
	if ! wait "$POLL_PID"; then
		POLL_PID=
		die "$sys $case: the mbox stopped at $(cat "$WORK/poll.out")" \
		    "of $MSGS messages for ${STALL}s; queued: $("$sys"_left)"
	fi
	POLL_PID=
	t1=$(cat "$WORK/poll.out")
	c1=$(cpu_ticks)
	s1=$(tree_ticks "$root")
	quiesce "$sys"
	verify_mbox "$mbox" || die "$sys $case: the mbox is wrong"
	R_SECS=$(calc "$t1 - $t0")
	R_SUBS=$(calc "$ts - $t0")
	R_CTICKS=$((r1 - r0))
	R_STICKS=$((s1 - s0))
	R_ATICKS=$((c1 - c0))
}

for s in $SYSTEMS; do
	case $s in
	inetmail) start_inetmail ;;
	postfix) start_postfix ;;
	*) die "unknown system $s" ;;
	esac
done

# Warm-up: a few messages each (Postfix starts its processes, caches fill).
for s in $SYSTEMS; do
	fresh_mbox "$s"
	MSGS=20 bash "$SUBMIT" "$s" 1 1
	for _ in $(seq 300); do
		[ "$(grep -c '^From ' "$("$s"_mbox)")" -ge 20 ] && break
		sleep 0.1
	done
	quiesce "$s"
done

RES=$WORK/results
: >"$RES"
NCPU=$(nproc)
say "$(printf '%-5s %-9s %3s %8s %8s %9s %9s %9s %6s' case system run seconds \
    msgs/s submit-s sub-cpu del-cpu busy%)"
for r in $(seq "$RUNS"); do
	for c in $CASES; do
		for s in $SYSTEMS; do
			one_run "$s" "$c"
			rate=$(calc "$MSGS / $R_SECS")
			subms=$(calc "$R_CTICKS * 1000 / $HZ / $MSGS")
			srvms=$(calc "$R_STICKS * 1000 / $HZ / $MSGS")
			busy=$(calc "$R_ATICKS * 100 / $HZ / $NCPU / $R_SECS")
			printf '%s %s %s %.3f %.1f %.3f %.2f %.2f %.0f\n' "$c" \
			    "$s" "$r" "$R_SECS" "$rate" "$R_SUBS" "$subms" \
			    "$srvms" "$busy" >>"$RES"
			say "$(printf '%-5s %-9s %3s %8.3f %8.1f %9.3f %9.2f %9.2f %6.0f' \
			    "$c" "$s" "$r" "$R_SECS" "$rate" "$R_SUBS" "$subms" \
			    "$srvms" "$busy")"
		done
	done
done

# ---- optional: a profile of one sequential run per system --------------------------
# strace -c -f on the submitter and, separately, on the delivery side
# (inetd and the qrun -t it starts; Postfix's master and all its processes).
profile_run() {
	local s=$1 pids p
	quiesce "$s"
	fresh_mbox "$s"
	if [ "$s" = postfix ]; then
		pids=$(ps -eo pid=,ppid= | awk -v m="$PF_MASTER_PID" \
		    '$1 == m || $2 == m {printf " -p %s", $1}')
	else
		pids=" -p $INETD_PID"
	fi
	# shellcheck disable=SC2086
	strace -qq -f -c -o "$WORK/profile.$s.deliver" $pids &
	p=$!
	sleep 1
	strace -qq -f -c -o "$WORK/profile.$s.submit" bash "$SUBMIT" "$s" 1 1
	$PYTHON -c "$POLLER" "$("$s"_mbox)" "$MSGS" "$STALL" >/dev/null ||
	    die "profile run of $s did not finish"
	quiesce "$s"
	sleep 1
	kill -INT "$p"
	wait "$p" 2>/dev/null || true
	verify_mbox "$("$s"_mbox)" || die "profile run of $s: mbox wrong"
}
per_msg() {	# per_msg FILE SYSCALL...: calls per message
	local f=$1
	shift
	awk -v n="$MSGS" -v want=" $* " '
	    $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && index(want, " " $NF " ") {
		c += $4
	    }
	    END { printf "%.1f", c / n }' "$f"
}
if [ "$PROFILE" = 1 ]; then
	for s in $SYSTEMS; do profile_run "$s"; done
fi

# ---- the report -------------------------------------------------------------------
col() {	# col CASE SYSTEM FIELD: the median of that field over the runs
	awk -v c="$1" -v s="$2" -v f="$3" '$1==c && $2==s {print $f}' "$RES" |
	    median
}
echo
echo "Local delivery: $MSGS messages of about $SIZE bytes to one local mbox," \
    "median of $RUNS runs"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)," \
    "$(df -T "$WORK" | awk 'NR==2{print $2}') under $WORK," \
    "Postfix $(postconf -d -h mail_version 2>/dev/null)," \
    "inetmail max_deliveries ${MAX_DELIVERIES:-default}"
echo
echo "| submitters | system | msgs/s (median) | vs Postfix | seconds | submit s | submit CPU ms/msg | delivery CPU ms/msg | machine busy % |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CASES; do
	p=$(col "$c" postfix 5)
	for s in $SYSTEMS; do
		q=$(col "$c" "$s" 5)
		if [ -n "$p" ] && [ -n "$q" ]; then
			ratio=$(printf '%.2fx' "$(calc "$q / $p")")
		else
			ratio=-
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
		    "$([ "$c" = par ] && echo "$PAR parallel" || echo "1 (sequential)")" \
		    "$s" "$q" "$ratio" "$(col "$c" "$s" 4)" "$(col "$c" "$s" 6)" \
		    "$(col "$c" "$s" 7)" "$(col "$c" "$s" 8)" "$(col "$c" "$s" 9)"
	done
done
echo
echo "per run (case system run seconds msgs/s submit-seconds submit-cpu-ms/msg delivery-cpu-ms/msg machine-busy-%):"
cat "$RES"
if [ "$PROFILE" = 1 ]; then
	echo
	echo "strace -c -f, one sequential run each, per message:"
	echo
	echo "| system | side | syscalls | fsync+fdatasync | execve | fork/clone | open/openat | rename/link/unlink |"
	echo "|---|---|---|---|---|---|---|---|"
	for s in $SYSTEMS; do
		for side in submit deliver; do
			f=$WORK/profile.$s.$side
			printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			    "$s" "$side" \
			    "$(awk -v n="$MSGS" '/ total$/ {printf "%.0f", $4 / n}' "$f")" \
			    "$(per_msg "$f" fsync fdatasync)" \
			    "$(per_msg "$f" execve)" \
			    "$(per_msg "$f" fork vfork clone clone3)" \
			    "$(per_msg "$f" open openat)" \
			    "$(per_msg "$f" rename renameat renameat2 link linkat unlink unlinkat)"
		done
	done
	for f in "$WORK"/profile.*; do
		echo
		echo "== $(basename "$f") (top 15 by time)"
		head -n 17 "$f" | tail -n +1
	done
fi
