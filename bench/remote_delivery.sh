#!/bin/bash
#
# remote_delivery.sh: flushing a queue of remote mail to a smart host.
# MSGS messages (about SIZE bytes each) for one remote domain are queued
# while delivery is held back, then flushed to Postfix's smtp-sink on
# 127.0.0.1, by:
#
#   inetmail: `qrun -C CONF` (a plain queue run), with `smarthost
#             [127.0.0.1]:PORT`, `expensive yes`, `hold_expensive yes`
#             (qsend queues remote mail and does not deliver it);
#   Postfix:  a private instance, `relayhost = [127.0.0.1]:PORT`, the
#             messages parked in the hold queue (PF_PARK=hold) and released
#             with `postsuper -H ALL` + `postqueue -f`, or deferred
#             (PF_PARK=defer, `defer_transports = smtp`) and `postqueue -f`;
#   dma:      DragonFly Mail Agent (Debian's package, unpacked privately),
#             `SMARTHOST 127.0.0.1`, `PORT`, `DEFER`, then `dma -q`.
#
# A run is timed from the flush command until the sink has received MSGS
# messages and the contender's queue is empty.  Every run gets a fresh sink
# whose dumps are checked: exactly MSGS messages, each X-Bench-Seq once.
#
# Run as root on Debian:  bash bench/remote_delivery.sh
# See bench/README.md ("Remote delivery") for the knobs and the output.
#
set -euo pipefail

# ---- knobs ----------------------------------------------------------------
MSGS=${MSGS:-2000}		# messages per run
SIZE=${SIZE:-4096}		# bytes per message (headers + body), about
RUNS=${RUNS:-3}			# runs per system; the median is reported
SYSTEMS=${SYSTEMS:-"inetmail postfix dma"}
PAR=${PAR:-4}			# parallel submitters filling a queue (not timed)
PF_PARK=${PF_PARK:-hold}	# hold: header_checks HOLD, released by
				# postsuper -H ALL + postqueue -f;
				# defer: defer_transports = smtp, postqueue -f
STALL=${STALL:-120}		# a run fails when the sink has not counted a
				# new message for this many seconds
SINK_PORT=${SINK_PORT:-22730}	# inetmail's sink; Postfix +1, dma +2
SINK_CONN=${SINK_CONN:-1000}	# smtp-sink -m: connections it serves at once
WORK=${WORK:-/var/tmp/inetmail-remote-bench}	# under /var: Postfix's
						# maillog_file must be
INETMAIL_SRC=${INETMAIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}	# the tree
BIN=${BIN:-}			# a built tree (src/qsend, src/qrun) or a dir
				# with qsend and qrun; empty: build a
				# snapshot of INETMAIL_SRC
QS_CONF_EXTRA=${QS_CONF_EXTRA:-}	# more inetmail.conf lines ("\n"
					# separates them)
DMA=${DMA:-}			# a dma binary; empty: Debian's package,
				# downloaded once into bench/.cache
BENCH_NETNS=${BENCH_NETNS:-1}	# 1: a private network namespace, loopback only
KEEP=${KEEP:-0}			# 1: keep $WORK afterwards (logs, configs)
# ---------------------------------------------------------------------------

SELF=$(readlink -f "$0")
BENCH_NAME=remote_delivery
# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

POSTFIX=/usr/sbin/postfix
POSTSUPER=/usr/sbin/postsuper
POSTQUEUE=/usr/sbin/postqueue
PF_SENDMAIL=/usr/sbin/sendmail
SMTP_SINK=/usr/sbin/smtp-sink
PYTHON=/usr/bin/python3
FROM=sender@bench-client.invalid
RCPT=rcpt@bench-remote.invalid

[ "$(id -u)" -eq 0 ] || die "run me as root (Postfix, dma, the spool user)"

has() { case " $SYSTEMS " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- phase 1 (outside the namespace): packages, builds, messages ------------
if [ "${BENCH_INNER:-0}" != 1 ]; then
	need=
	{ [ -x "$POSTFIX" ] && [ -x "$SMTP_SINK" ]; } || need="$need postfix"
	[ -x "$PYTHON" ] || need="$need python3"
	command -v unshare >/dev/null || need="$need util-linux"
	command -v ss >/dev/null || need="$need iproute2"
	if has inetmail && [ -z "$BIN" ]; then
		need="$need $(bench_build_tools)"
	fi
	# shellcheck disable=SC2086
	bench_install $need
	id postfix >/dev/null 2>&1 || die "no postfix user (postfix install?)"
	id inetmail >/dev/null 2>&1 ||
	    useradd -r -d /nonexistent -s /usr/sbin/nologin inetmail
	bench_fresh_work "$WORK"

	QSEND= QRUN= BENCH_REV=
	if has inetmail; then
		if [ -z "$BIN" ]; then
			bench_build "$INETMAIL_SRC" "$WORK/build" "$WORK/build.log"
			BIN=$WORK/build/src
			BENCH_REV=$(bench_rev "$INETMAIL_SRC")
		fi
		if [ -x "$BIN/qsend/qsend" ]; then
			QSEND=$BIN/qsend/qsend QRUN=$BIN/qrun/qrun
		else
			QSEND=$BIN/qsend QRUN=$BIN/qrun
		fi
		[ -x "$QSEND" ] && [ -x "$QRUN" ] || die "no qsend and qrun in $BIN"
		QSEND=$(readlink -f "$QSEND") QRUN=$(readlink -f "$QRUN")
	fi

	DMA_ETC_MADE=0 DMA_VERSION=
	if has dma; then
		id mail >/dev/null 2>&1 || die "no mail user (dma runs as it)"
		if [ -z "$DMA" ]; then
			# Debian's dma conflicts with postfix (both provide
			# mail-transport-agent): unpack it, do not install it.
			cache=$(dirname "$SELF")/.cache
			mkdir -p "$cache"
			deb=$(find "$cache" -name 'dma_*.deb' | sort | tail -1)
			if [ -z "$deb" ]; then
				say "downloading dma into $cache"
				(cd "$cache" && apt-get download dma >/dev/null 2>&1) ||
				    { apt-get update -qq &&
				      (cd "$cache" && apt-get download dma >/dev/null); } ||
				    die "apt-get download dma failed"
				deb=$(find "$cache" -name 'dma_*.deb' | sort | tail -1)
			fi
			DMA_VERSION=$(dpkg-deb -f "$deb" Version)
			mkdir -p "$WORK/dma/root"
			dpkg -x "$deb" "$WORK/dma/root"
			DMA=$WORK/dma/root/usr/sbin/dma
		fi
		[ -x "$DMA" ] || die "no dma at $DMA"
		DMA=$(readlink -f "$DMA")
		# dma reads /etc/dma/dma.conf, always (no option names
		# another); phase 2 mounts a private directory there in a
		# mount namespace of its own.  The mount point must exist.
		if [ ! -d /etc/dma ]; then
			mkdir /etc/dma
			DMA_ETC_MADE=1
		fi
	fi

	bench_messages "$MSGS" "$SIZE" "$WORK/msgs" "$FROM" "$RCPT" \
	    "remote delivery benchmark message"
	export QSEND QRUN DMA DMA_VERSION DMA_ETC_MADE BENCH_REV MSGS SIZE RUNS \
	    SYSTEMS PAR PF_PARK STALL SINK_PORT SINK_CONN WORK KEEP \
	    QS_CONF_EXTRA BENCH_NETNS
	export BENCH_INNER=1
	ns=
	[ "$BENCH_NETNS" = 1 ] && ns="$ns -n"	# nothing reaches past 127.0.0.1
	has dma && ns="$ns -m"			# dma's private /etc/dma
	if [ -n "$ns" ]; then
		# shellcheck disable=SC2086
		exec unshare $ns -- bash "$SELF" "$@"
	fi
	exec bash "$SELF" "$@"
fi

# ---- phase 2: the systems and the runs --------------------------------------
if [ "$BENCH_NETNS" = 1 ]; then
	ip link set lo up 2>/dev/null || true
fi

PF_MASTER_PID=
SINK_PID=
POLL_PID=
FLUSH_PID=
SUB_PIDS=
DMA_MOUNTED=0
QS=$WORK/inetmail
QS_SPOOL=$QS/spool
QS_CONF=$QS/inetmail.conf
PF=$WORK/postfix
PF_CONF=$PF/etc
PF_QUEUE=$PF/queue
DM=$WORK/dma
DM_SPOOL=$DM/spool
MSGDIR=$WORK/msgs
declare -A PORT=([inetmail]=$SINK_PORT [postfix]=$((SINK_PORT + 1))
    [dma]=$((SINK_PORT + 2)))

cleanup() {
	local rc=$? p s
	set +e
	for p in $POLL_PID $SUB_PIDS $SINK_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pf_stop "$PF_CONF" "$PF_MASTER_PID"
	# a failed run may leave dma's or qrun's delivery processes behind:
	# they are in their cgroup, and only those are ended (by PID)
	for s in inetmail dma; do
		[ -n "${CG[$s]:-}" ] || continue
		for p in $(cat "${CG[$s]}/cgroup.procs" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
	done
	for s in "${!CG[@]}"; do cg_rm "$s"; done
	if [ "$DMA_MOUNTED" = 1 ]; then
		umount /etc/dma
	fi
	if [ "${DMA_ETC_MADE:-0}" = 1 ]; then
		rmdir /etc/dma 2>/dev/null
	fi
	if [ "$KEEP" != 1 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$WORK"
	elif [ -d "$WORK" ]; then
		say "kept $WORK (logs, configs, sink dumps)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "remote_delivery: failed at line $LINENO: $BASH_COMMAND"' ERR

# ---- inetmail -------------------------------------------------------------------
start_inetmail() {
	mkdir -p "$QS"
	chmod 755 "$QS"
	qs_spool "$QS_SPOOL"
	printf 'bench.invalid\n' >"$QS/local-host-names"
	: >"$QS/relay-domains"
	printf 'postmaster: root\n' >"$QS/aliases"
	printf 'rcpt:*:5000:5000::/nonexistent:/bin/sh\n' >"$QS/passwd"
	cat >"$QS_CONF" <<-EOF
	hostname bench.invalid
	spool $QS_SPOOL
	users passwd-file:$QS/passwd
	aliases $QS/aliases
	local_host_names $QS/local-host-names
	relay_domains $QS/relay-domains
	log_file $QS/inetmail.log
	spool_user inetmail
	# no trigger: nothing is delivered until the timed qrun
	trigger none
	# any DNS lookup goes to a dead loopback port (there should be none)
	resolver 127.0.0.1:1
	# all remote mail to the sink, no MX lookup (brackets)
	smarthost [127.0.0.1]:${PORT[inetmail]}
	# qsend leaves remote mail queued; a queue run delivers it
	expensive yes
	hold_expensive yes
	EOF
	if [ -n "$QS_CONF_EXTRA" ]; then
		printf '%b\n' "$QS_CONF_EXTRA" >>"$QS_CONF"
	fi
	cg_make inetmail
}
inetmail_dirs() { echo "$QS_SPOOL/queue:$QS_SPOOL/tmp"; }
inetmail_names() { echo .; }
inetmail_parked() { find "$QS_SPOOL/queue" -type f | wc -l; }
inetmail_busy() { find "$QS_SPOOL/tmp" -type f | wc -l; }
inetmail_flush() { in_cg inetmail "$QRUN" -C "$QS_CONF"; }

# ---- a private Postfix ----------------------------------------------------------
start_postfix() {
	local park
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF/data"
	chmod 755 "$PF"
	chown postfix: "$PF/data"
	case $PF_PARK in
	hold)	# cleanup files every message into the hold queue
		park="header_checks = static:HOLD" ;;
	defer)	# qmgr defers each message (a defer log each) until postqueue -f
		park="defer_transports = smtp" ;;
	*)	die "PF_PARK must be hold or defer" ;;
	esac
	{ pf_main_cf "$PF" "$PF_QUEUE"; cat; } >"$PF_CONF/main.cf" <<-EOF
	myhostname = bench.invalid
	mydomain = invalid
	myorigin = \$myhostname
	mydestination =
	local_recipient_maps =
	alias_maps =
	alias_database =
	# all mail to the sink, no MX lookup (brackets)
	relayhost = [127.0.0.1]:${PORT[postfix]}
	inet_interfaces = loopback-only
	$park
	smtp_host_lookup = native
	EOF
	# no inet service: submission is sendmail -> postdrop -> pickup
	{
		pf_master_cf
		cat <<-EOF
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		EOF
	} >"$PF_CONF/master.cf"
	pf_start "$PF_CONF" "$PF_QUEUE" "$PF/start.log"
	for _ in $(seq 100); do
		[ -S "$PF_QUEUE/public/pickup" ] && break
		sleep 0.1
	done
	cg_make postfix
	# shellcheck disable=SC2046
	cg_add postfix "$PF_MASTER_PID" $(descendants "$PF_MASTER_PID")
}
postfix_dirs() {
	local d
	for d in maildrop incoming active deferred hold; do
		printf '%s:' "$PF_QUEUE/$d"
	done
}
postfix_names() { echo .; }
postfix_parked() {
	find "$PF_QUEUE/$([ "$PF_PARK" = hold ] && echo hold || echo deferred)" \
	    -type f | wc -l
}
postfix_busy() {
	find "$PF_QUEUE"/maildrop "$PF_QUEUE"/incoming "$PF_QUEUE"/active \
	    -type f | wc -l
}
postfix_flush() {
	if [ "$PF_PARK" = hold ]; then
		# released mail goes to deferred/; postqueue -f delivers it
		in_cg postfix sh -c "$POSTSUPER -c $PF_CONF -H ALL 2>/dev/null &&
		    exec $POSTQUEUE -c $PF_CONF -f"
	else
		in_cg postfix "$POSTQUEUE" -c "$PF_CONF" -f
	fi
}

# ---- dma ----------------------------------------------------------------------
start_dma() {
	mkdir -p "$DM/etc" "$DM_SPOOL"
	chmod 755 "$DM" "$DM/etc"
	# dma drops root for the user mail, and is setgid mail
	chown mail:mail "$DM_SPOOL"
	chmod 775 "$DM_SPOOL"
	: >"$DM/aliases"
	cat >"$DM/etc/dma.conf" <<-EOF
	SMARTHOST 127.0.0.1
	PORT ${PORT[dma]}
	ALIASES $DM/aliases
	SPOOLDIR $DM_SPOOL
	MAILNAME bench.invalid
	# queue only; \`dma -q\` delivers
	DEFER
	EOF
	# no SECURETRANSFER, no STARTTLS, no AUTHPATH: plain SMTP
	: >"$DM/etc/auth.conf"
	mount --bind "$DM/etc" /etc/dma
	DMA_MOUNTED=1
	cg_make dma
}
dma_dirs() { echo "$DM_SPOOL"; }
dma_names() { echo '[QM]'; }	# not the "flush" stamp file of dma -q
dma_parked() { find "$DM_SPOOL" -type f -name 'Q*' | wc -l; }
dma_busy() { find "$DM_SPOOL" -type f -name 'tmp*' | wc -l; }
# dma -q forks a delivery process per message and returns at once
dma_flush() { in_cg dma "$DMA" -q; }

# ---- the sink -----------------------------------------------------------------------
# start_sink SYS: a fresh smtp-sink on SYS's port, every message dumped to
# a file of its own in $WORK/sink.SYS/dump, running counters in .../counter.
start_sink() {
	local d=$WORK/sink.$1
	rm -rf "$d"
	mkdir -p "$d/dump"
	chown nobody "$d/dump"
	# PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES, DSN announced (defaults)
	(ulimit -n 8192; exec "$SMTP_SINK" -u nobody -c -d "$d/dump/" \
	    -h sink.invalid -m "$SINK_CONN" "127.0.0.1:${PORT[$1]}" 4096 \
	    >"$d/counter" 2>"$d/stderr") &
	SINK_PID=$!
	wait_listen "${PORT[$1]}" || { cat "$d/stderr" >&2; die "no smtp-sink"; }
}
stop_sink() {
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null || true
	SINK_PID=
}
sink_counter() {	# sink_counter SYS FIELD: sess, quit or mesg, the last
	tr '\r' '\n' <"$WORK/sink.$1/counter" |
	    sed -n "s/.*$2=\([0-9]*\).*/\1/p" | tail -1
}
# verify_sink SYS: MSGS dumps, each X-Bench-Seq 1..MSGS exactly once.
verify_sink() {
	local d=$WORK/sink.$1/dump files seqs uniq
	files=$(find "$d" -type f | wc -l)
	seqs=$(find "$d" -type f -print0 | xargs -0 cat |
	    grep -c '^X-Bench-Seq: ' || true)
	uniq=$(find "$d" -type f -print0 | xargs -0 cat |
	    awk -v n="$MSGS" '/^X-Bench-Seq: / && $2 >= 1 && $2 <= n &&
		!seen[$2]++ { u++ } END { print u + 0 }')
	if [ "$files" -ne "$MSGS" ] || [ "$seqs" -ne "$MSGS" ] ||
	    [ "$uniq" -ne "$MSGS" ]; then
		say "$1: the sink has $files dumps, $seqs messages, $uniq" \
		    "distinct (want $MSGS of each)"
		return 1
	fi
}

# ---- the runs ---------------------------------------------------------------------

# Waits until the sink's counter says WANT messages and the directories
# (":"-separated) hold no file whose name matches the regular expression
# NAMES; prints the time (epoch seconds).  Exits 1
# (printing what it saw) if the count does not grow for STALL seconds.
POLLER='
import os, re, sys, time
counter, want, stall = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
dirs = [d for d in sys.argv[4].split(":") if d]
names = re.compile(sys.argv[5])
def queued():
	n = 0
	for d in dirs:
		for _, _, files in os.walk(d):
			n += sum(1 for f in files if names.match(f))
	return n
f = open(counter, "rb")
buf, mesg, last = b"", 0, time.time()
while True:
	data = f.read()
	if data:
		buf = (buf + data)[-256:]
		for m in re.findall(rb"mesg=(\d+)", buf):
			if int(m) > mesg:
				mesg, last = int(m), time.time()
	if mesg >= want and queued() == 0:
		print("%.6f" % time.time()); sys.exit(0)
	if time.time() - last > stall:
		print("sink %d, queued %d" % (mesg, queued())); sys.exit(1)
	time.sleep(0.005)
'

# fill SYS: submits the MSGS messages with PAR submitters, each a system's
# command-line submission (qsend, Postfix's sendmail, dma), and waits until
# all are parked and the system is idle.  Not timed.
SUBMIT=$WORK/submit.sh
cat >"$SUBMIT" <<SUBMIT_EOF
set -e
case \$1 in
inetmail) cmd=("$QSEND" -C "$QS_CONF") ;;
postfix) cmd=("$PF_SENDMAIL" -C "$PF_CONF") ;;
dma) cmd=("$DMA") ;;
esac
for ((i = \$2; i <= \${MSGS:-$MSGS}; i += \$3)); do
	"\${cmd[@]}" -oi -f "$FROM" "$RCPT" <"$MSGDIR/\$i" ||
	    { echo "submission of message \$i to \$1 failed" >&2; exit 1; }
done
SUBMIT_EOF
fill() {
	local sys=$1 k n
	SUB_PIDS=
	for ((k = 1; k <= PAR; k++)); do
		bash "$SUBMIT" "$sys" "$k" "$PAR" &
		SUB_PIDS="$SUB_PIDS $!"
	done
	for k in $SUB_PIDS; do
		wait "$k" || die "$sys: a submitter failed"
	done
	SUB_PIDS=
	for _ in $(seq 600); do
		n=$("$sys"_parked)
		[ "$n" -eq "$MSGS" ] && [ "$("$sys"_busy)" -eq 0 ] && break
		sleep 0.1
	done
	[ "$n" -eq "$MSGS" ] ||
	    die "$sys: $n of $MSGS messages parked after the submissions"
	sleep 1				# Postfix's qmgr, defer logs settle
	[ "$("$sys"_parked)" -eq "$MSGS" ] ||
	    die "$sys: delivered while it should have held the mail"
}

# CPU of a system so far, in ns: its cgroup (every process of it, living or
# gone); without cgroups only Postfix's daemons (the tree under its master)
# are counted.
sys_ns() {
	if [ -n "${CG[$1]:-}" ]; then
		cg_cpu_ns "$1"
	elif [ "$1" = postfix ]; then
		echo $(( $(tree_ticks "$PF_MASTER_PID") * 1000000000 / HZ ))
	else
		echo 0
	fi
}

# one_run SYS: sets R_SECS, R_NS (the system's CPU), R_ATICKS (the
# machine's), R_CONN (connections the sink saw), R_RC (the flush command's
# exit status).
one_run() {
	local sys=$1 t0 t1 s0 s1 c0 c1 out
	fill "$sys"
	start_sink "$sys"
	$PYTHON -c "$POLLER" "$WORK/sink.$sys/counter" "$MSGS" "$STALL" \
	    "$("$sys"_dirs)" "$("$sys"_names)" >"$WORK/poll.out" &
	POLL_PID=$!
	sync
	sleep 0.3			# the poller is reading
	s0=$(sys_ns "$sys")
	c0=$(cpu_ticks)
	t0=$EPOCHREALTIME
	("$sys"_flush) >>"$WORK/flush.$sys.log" 2>&1 &
	FLUSH_PID=$!
	if ! wait "$POLL_PID"; then
		POLL_PID=
		out=$(cat "$WORK/poll.out")
		die "$sys: stalled for ${STALL}s: $out of $MSGS (see" \
		    "$WORK/flush.$sys.log and the system's log)"
	fi
	POLL_PID=
	t1=$(cat "$WORK/poll.out")
	R_RC=0
	wait "$FLUSH_PID" || R_RC=$?
	FLUSH_PID=
	# the flush's processes end (dma's delivery children, qrun's workers)
	if [ "$sys" != postfix ]; then
		for _ in $(seq 300); do
			[ "$(cg_procs "$sys")" -eq 0 ] && break
			sleep 0.1
		done
	fi
	c1=$(cpu_ticks)
	s1=$(sys_ns "$sys")
	# smtp-sink counts a session when it ends: wait for the clients to
	# close (Postfix keeps a cached connection 2 s), then stop the sink
	for _ in $(seq 100); do
		ss -Htn state established "( sport = :${PORT[$sys]} )" |
		    grep -q . || break
		sleep 0.1
	done
	stop_sink
	R_CONN=$(sink_counter "$sys" sess)
	[ "$(sink_counter "$sys" mesg)" -eq "$MSGS" ] ||
	    die "$sys: the sink counted $(sink_counter "$sys" mesg) messages," \
		"want $MSGS"
	verify_sink "$sys" || die "$sys: the sink's messages are wrong"
	R_SECS=$(calc "$t1 - $t0")
	R_NS=$((s1 - s0))
	R_ATICKS=$((c1 - c0))
}

for s in $SYSTEMS; do
	case $s in
	inetmail) start_inetmail ;;
	postfix) start_postfix ;;
	dma) start_dma ;;
	*) die "unknown system $s" ;;
	esac
done

BG_BEFORE=$(bench_busy)
[ "$BG_BEFORE" -le 10 ] ||
    say "warning: the machine is ${BG_BEFORE}% busy before the runs; numbers will be noisy"

RES=$WORK/results
: >"$RES"
NCPU=$(nproc)
say "$(printf '%-9s %3s %8s %8s %11s %6s %6s %3s' system run seconds msgs/s \
    cpu-ms/msg conns busy% rc)"
for r in $(seq "$RUNS"); do
	for s in $SYSTEMS; do
		one_run "$s"
		rate=$(calc "$MSGS / $R_SECS")
		ms=$(printf '%.2f' "$(calc "$R_NS / 1000000 / $MSGS")")
		[ -n "${CG[$s]:-}" ] || [ "$s" = postfix ] || ms=-
		busy=$(calc "$R_ATICKS * 100 / $HZ / $NCPU / $R_SECS")
		printf '%s %s %.3f %.1f %s %s %.0f %s\n' "$s" "$r" "$R_SECS" \
		    "$rate" "$ms" "$R_CONN" "$busy" "$R_RC" >>"$RES"
		say "$(printf '%-9s %3s %8.3f %8.1f %11s %6s %6.0f %3s' "$s" "$r" \
		    "$R_SECS" "$rate" "$ms" "$R_CONN" "$busy" "$R_RC")"
	done
done
BG_AFTER=$(bench_busy)

# ---- the report -------------------------------------------------------------------
col() {	# col SYSTEM FIELD: the median of that field over the runs
	awk -v s="$1" -v f="$2" '$1==s {print $f}' "$RES" | median
}
pfd() { postconf -c "$PF_CONF" -h "$1" 2>/dev/null || postconf -d -h "$1"; }
echo
echo "Remote delivery: $MSGS queued messages of about $SIZE bytes to one" \
    "smart host (smtp-sink on 127.0.0.1), median of $RUNS runs"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $NCPU CPUs, $(uname -sr)," \
    "$(df -T "$WORK" | awk 'NR==2{print $2}') under $WORK"
echo "other CPU load: ${BG_BEFORE}% busy before the runs, ${BG_AFTER}% after;" \
    "CPU per system from $([ "$CG_KIND" != none ] &&
    echo "cgroup $CG_KIND" || echo "the process tree (Postfix only)")"
has inetmail && echo "inetmail: $QRUN${BENCH_REV:+ (inetmail $BENCH_REV)}," \
    "queue run: qrun -C CONF"
has postfix && echo "Postfix $(postconf -d -h mail_version), park $PF_PARK;" \
    "default_destination_concurrency_limit $(pfd default_destination_concurrency_limit)," \
    "initial_destination_concurrency $(pfd initial_destination_concurrency)," \
    "default_process_limit $(pfd default_process_limit)," \
    "smtp_connection_cache_on_demand $(pfd smtp_connection_cache_on_demand)"
has dma && echo "dma: $DMA${DMA_VERSION:+ (Debian $DMA_VERSION)}," \
    "one delivery process and connection per message"
echo
echo "| system | msgs/s (median) | vs Postfix | seconds | CPU ms/msg | SMTP connections | machine busy % |"
echo "|---|---|---|---|---|---|---|"
p=$(col postfix 4)
for s in $SYSTEMS; do
	q=$(col "$s" 4)
	if [ -n "$p" ] && [ -n "$q" ]; then
		ratio=$(printf '%.2fx' "$(calc "$q / $p")")
	else
		ratio=-
	fi
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$q" "$ratio" \
	    "$(col "$s" 3)" "$(col "$s" 5)" "$(col "$s" 6)" "$(col "$s" 7)"
done
echo
echo "per run (system run seconds msgs/s cpu-ms/msg connections machine-busy-% flush-exit-status):"
cat "$RES"
