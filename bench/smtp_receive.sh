#!/bin/bash
#
# smtp_receive.sh: SMTP receive throughput, inetmail's qsmtpd (under a real
# openbsd-inetd) against Postfix's smtpd, in the same run, on loopback.
#
# Both servers make the same promise: a message is on stable storage (its
# queue file fsync'd) before the client gets 250.  Neither delivers during
# the run (qsmtpd has no delivery yet; Postfix parks the mail, see
# PF_PARK below), so what is measured is receiving and queueing.
#
# Run as root on Debian:  bash bench/smtp_receive.sh
# See bench/README.md for the knobs (environment variables) and the output.
#
set -euo pipefail

# ---- knobs ----------------------------------------------------------------
MSGS=${MSGS:-2000}		# messages per run
SIZE=${SIZE:-4096}		# smtp-source -l: payload bytes per message
SESSIONS=${SESSIONS:-10}	# parallel SMTP sessions
PERCONN=${PERCONN:-100}		# messages per connection in the "reuse" case
RUNS=${RUNS:-3}			# runs per case and server; the median is reported
CASES=${CASES:-"1 $PERCONN"}	# messages per connection, one case per value
SERVERS=${SERVERS:-"qsmtpd postfix"}
QS_PORT=${QS_PORT:-22525}	# qsmtpd (inetd) on 127.0.0.1
PF_PORT=${PF_PORT:-22526}	# Postfix smtpd on 127.0.0.1
PF_PARK=${PF_PARK:-hold}	# hold: HOLD every message (qmgr never sees it)
				# defer: defer_transports (qmgr defers each one)
WORK=${WORK:-/var/tmp/inetmail-bench}	# under /var: Postfix's maillog_file
					# must be (maillog_file_prefixes)
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}	# the inetmail tree
QSMTPD=${QSMTPD:-}		# a built qsmtpd; empty: build a snapshot of SRC
EXTRA=${EXTRA:-}		# more qsmtpd builds to compare, each
				# "label=/path" (inetd nowait, like qsmtpd) or
				# "label=wait:/path" (inetd wait: gets the
				# listening socket); same spool and config
BENCH_NETNS=${BENCH_NETNS:-1}	# 1: run servers and client in a private
				# network namespace with only loopback
KEEP=${KEEP:-0}			# 1: keep $WORK afterwards (logs, configs)
EXPERIMENTS=${EXPERIMENTS:-0}	# 1: also measure qsmtpd linked -static and
				# the bench/experiments/ inetd-wait variants
# ---------------------------------------------------------------------------

SELF=$(readlink -f "$0")
INETD=/usr/sbin/inetd
SMTP_SOURCE=/usr/sbin/smtp-source
POSTFIX=/usr/sbin/postfix
POSTSUPER=/usr/sbin/postsuper
FROM=sender@bench-client.invalid
RCPT=rcpt@bench-remote.invalid

BENCH_NAME=smtp_receive
# shellcheck source=bench/lib.sh
. "$(dirname "$SELF")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run me as root (inetd, Postfix, the spool user)"

# ---- phase 1 (outside the namespace): packages and the build ---------------
if [ "${BENCH_INNER:-0}" != 1 ]; then
	need=
	[ -x "$INETD" ] || need="$need openbsd-inetd"
	{ [ -x "$POSTFIX" ] && [ -x "$SMTP_SOURCE" ]; } || need="$need postfix"
	command -v ss >/dev/null || need="$need iproute2"
	command -v unshare >/dev/null || need="$need util-linux"
	[ -n "$QSMTPD" ] || need="$need $(bench_build_tools)"
	# shellcheck disable=SC2086
	bench_install $need
	id inetmail >/dev/null 2>&1 ||
	    useradd -r -d /nonexistent -s /usr/sbin/nologin inetmail
	id postfix >/dev/null 2>&1 || die "no postfix user (postfix install?)"

	bench_fresh_work "$WORK"
	QSMTPD_GIVEN=$QSMTPD
	if [ -z "$QSMTPD" ]; then
		bench_build "$SRC" "$WORK/build" "$WORK/build.log"
		QSMTPD=$WORK/build/src/qsmtpd/qsmtpd
	fi
	[ -x "$QSMTPD" ] || die "no qsmtpd at $QSMTPD"
	QSMTPD=$(readlink -f "$QSMTPD")
	if [ "$EXPERIMENTS" = 1 ]; then
		# the objects of the tree qsmtpd was built in
		bt=$(cd "$(dirname "$QSMTPD")/../.." && pwd)
		[ -f "$bt/src/lib/libinetmail.a" ] ||
		    die "EXPERIMENTS=1: no built tree around $QSMTPD"
		"$(dirname "$SELF")/experiments/build.sh" "$bt" "$WORK/exp" \
		    >"$WORK/exp.log" 2>&1 ||
		    { cat "$WORK/exp.log" >&2; die "experiments build failed"; }
		EXTRA="$EXTRA static=$WORK/exp/qsmtpd_static"
		EXTRA="$EXTRA fork=wait:$WORK/exp/qsmtpd_fork"
		EXTRA="$EXTRA prefork=wait:$WORK/exp/qsmtpd_prefork"
	fi
	BENCH_REV=
	[ -n "${QSMTPD_GIVEN:-}" ] || BENCH_REV=$(bench_rev "$SRC")
	export QSMTPD MSGS SIZE SESSIONS PERCONN RUNS CASES SERVERS QS_PORT \
	    PF_PORT PF_PARK WORK KEEP EXTRA BENCH_REV
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

INETD_PID=
PF_MASTER_PID=
declare -A PORT
PF_CONF=$WORK/postfix/etc
PF_QUEUE=$WORK/postfix/queue
QS_SPOOL=$WORK/qsmtpd/spool
QS_CONF=$WORK/qsmtpd/inetmail.conf

cleanup() {
	local rc=$? kids
	set +e
	if [ -n "$INETD_PID" ] && kill -0 "$INETD_PID" 2>/dev/null; then
		kids=$(descendants "$INETD_PID")	# sessions, wait-mode servers
		kill "$INETD_PID"
		wait "$INETD_PID" 2>/dev/null
		# shellcheck disable=SC2086
		[ -n "$kids" ] && kill $kids 2>/dev/null
	fi
	pf_stop "$PF_CONF" "$PF_MASTER_PID"
	for d in "${!CG[@]}"; do cg_rm "$d"; done
	if [ "$KEEP" != 1 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$WORK"
	elif [ -d "$WORK" ]; then
		say "kept $WORK (logs, configs)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'say "smtp_receive: failed at line $LINENO: $BASH_COMMAND"' ERR

# ---- qsmtpd under openbsd-inetd --------------------------------------------
start_qsmtpd() {
	local d=$WORK/qsmtpd
	mkdir -p "$d"
	chmod 755 "$d"
	mkdir -p "$QS_SPOOL"/{tmp,queue,state,bad}
	chown -R inetmail: "$QS_SPOOL"
	chmod 750 "$QS_SPOOL"
	chmod 770 "$QS_SPOOL"/*
	printf 'bench-local.invalid\n' >"$d/local-host-names"
	printf '# loopback clients relay anyway\n' >"$d/relay-domains"
	printf 'postmaster: root\n' >"$d/aliases"
	printf 'rcpt:*:5000:5000::/nonexistent:/bin/sh\n' >"$d/passwd"
	cat >"$QS_CONF" <<-EOF
	hostname bench.invalid
	spool $QS_SPOOL
	users passwd-file:$d/passwd
	aliases $d/aliases
	local_host_names $d/local-host-names
	relay_domains $d/relay-domains
	log_file $d/qsmtpd.log
	trigger none
	spool_user inetmail
	# any DNS lookup goes to a dead loopback port (there should be none)
	resolver 127.0.0.1:1
	EOF
	# nowait.N: inetd's default limit is 256 starts a minute
	printf '127.0.0.1:%s stream tcp nowait.1000000 root %s qsmtpd -C %s\n' \
	    "$QS_PORT" "$QSMTPD" "$QS_CONF" >"$d/inetd.conf"
	PORT[qsmtpd]=$QS_PORT
	local e label path mode port=$((QS_PORT + 10))
	for e in $EXTRA; do
		label=${e%%=*} path=${e#*=} mode=nowait.1000000
		case $path in wait:*) path=${path#wait:} mode=wait ;; esac
		[ -x "$path" ] || die "EXTRA $label: no executable $path"
		printf '127.0.0.1:%s stream tcp %s root %s qsmtpd -C %s\n' \
		    "$port" "$mode" "$(readlink -f "$path")" "$QS_CONF" \
		    >>"$d/inetd.conf"
		PORT[$label]=$port
		SERVERS="$SERVERS $label"
		port=$((port + 1))
	done
	$INETD -d -R 1000000 "$d/inetd.conf" >"$d/inetd.log" 2>&1 &
	INETD_PID=$!
	cg_make qsmtpd
	cg_add qsmtpd "$INETD_PID"
	for e in $SERVERS; do
		[ "$e" = postfix ] && continue
		wait_listen "${PORT[$e]}" ||
		    die "inetd does not listen on ${PORT[$e]}"
	done
}

qs_count() { find "$QS_SPOOL/queue" -type f | wc -l; }
qs_clean() { find "$QS_SPOOL"/tmp "$QS_SPOOL"/queue -type f -delete; }

# ---- a private Postfix ------------------------------------------------------
start_postfix() {
	local d=$WORK/postfix park
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$d/data"
	chown postfix: "$d/data"
	case $PF_PARK in
	hold)	# every message goes to the hold queue: qmgr never sees it
		park="smtpd_recipient_restrictions = check_client_access static:HOLD"
		;;
	defer)	# qmgr takes each message and defers it (defer logs, deferred/)
		park="defer_transports = smtp, relay, local, virtual, lmtp, error"
		;;
	*)	die "PF_PARK must be hold or defer" ;;
	esac
	{ pf_main_cf "$d" "$PF_QUEUE"; cat; } >"$PF_CONF/main.cf" <<-EOF
	myhostname = bench.invalid
	mydomain = invalid
	myorigin = \$myhostname
	mydestination =
	local_recipient_maps =
	alias_maps =
	alias_database =
	relayhost =
	inet_interfaces = 127.0.0.1
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	$park
	# only 127.0.0.1 is ever touched
	smtpd_peername_lookup = no
	smtp_host_lookup = native
	# flow control paces arrival to delivery; nothing is delivered here
	in_flow_delay = 0
	EOF
	{
		echo "127.0.0.1:$PF_PORT inet n - n - - smtpd"
		pf_master_cf
		cat <<-EOF
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		lmtp      unix  -       -       n       -       -       lmtp
		EOF
	} >"$PF_CONF/master.cf"
	pf_start "$PF_CONF" "$PF_QUEUE" "$d/start.log"
	wait_listen "$PF_PORT" || die "Postfix does not listen on $PF_PORT"
	PORT[postfix]=$PF_PORT
	cg_make postfix
	# shellcheck disable=SC2046
	cg_add postfix "$PF_MASTER_PID" $(descendants "$PF_MASTER_PID")
}

pf_count() {
	find "$PF_QUEUE"/incoming "$PF_QUEUE"/active "$PF_QUEUE"/hold \
	    "$PF_QUEUE"/deferred -type f | wc -l
}
pf_clean() {
	$POSTSUPER -c "$PF_CONF" -d ALL >/dev/null 2>&1 || true
	find "$PF_QUEUE"/defer -type f -delete 2>/dev/null || true
}

# ---- the runs ----------------------------------------------------------------

# send PORT PERCONN: sends $MSGS messages; prints the wall-clock seconds.
send() {
	local port=$1 per=$2 t0 t1 batches
	t0=$(date +%s.%N)
	if [ "$per" -le 1 ]; then
		$SMTP_SOURCE -4 -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
		    -M bench-client.invalid -f "$FROM" -t "$RCPT" \
		    "127.0.0.1:$port" >/dev/null
	else
		# -d keeps each session's connection for the next message; a run
		# of SESSIONS*per messages gives each connection about per.
		batches=$(( MSGS / (SESSIONS * per) ))
		[ "$batches" -ge 1 ] || batches=1
		for _ in $(seq "$batches"); do
			$SMTP_SOURCE -4 -d -s "$SESSIONS" \
			    -m $(( MSGS / batches )) -l "$SIZE" \
			    -M bench-client.invalid -f "$FROM" -t "$RCPT" \
			    "127.0.0.1:$port" >/dev/null
		done
	fi
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b - a}'
}

# Server CPU so far, in nanoseconds.
server_ns() {
	local cg root
	if is_postfix "$1"; then cg=postfix root=$PF_MASTER_PID
	else cg=qsmtpd root=$INETD_PID; fi
	if [ -n "${CG[$cg]:-}" ]; then
		cg_cpu_ns "$cg"
	else
		echo $(( $(tree_ticks "$root") * 1000000000 / HZ ))
	fi
}


for s in $SERVERS; do
	case $s in
	qsmtpd)	start_qsmtpd ;;
	postfix) start_postfix ;;
	*) die "unknown server $s" ;;
	esac
done

is_postfix() { [ "$1" = postfix ]; }
count_of() { if is_postfix "$1"; then pf_count; else qs_count; fi; }
clean_of() { if is_postfix "$1"; then pf_clean; else qs_clean; fi; }

# Warm-up: a few messages each, then clean (Postfix starts its processes).
for s in $SERVERS; do
	$SMTP_SOURCE -4 -s 2 -m 20 -l "$SIZE" -M bench-client.invalid \
	    -f "$FROM" -t "$RCPT" "127.0.0.1:${PORT[$s]}" >/dev/null
	clean_of "$s"
done

BG_BEFORE=$(bench_busy)
[ "$BG_BEFORE" -le 10 ] ||
    say "warning: the machine is ${BG_BEFORE}% busy before the runs; numbers will be noisy"

RES=$WORK/results
: >"$RES"
say "$(printf '%-9s %-10s %3s %8s %9s %6s %11s %11s' case server run seconds \
    msgs/s queued srv-cpu-ms all-cpu-ms)"
for r in $(seq "$RUNS"); do
	for per in $CASES; do
		for s in $SERVERS; do
			clean_of "$s"
			sync
			s0=$(server_ns "$s")
			c0=$(cpu_ticks)
			secs=$(send "${PORT[$s]}" "$per")
			c1=$(cpu_ticks)
			s1=$(server_ns "$s")
			n=$(count_of "$s")
			[ "$n" -gt 0 ] || die "$s queued nothing"
			rate=$(calc "$n / $secs")
			srvms=$(calc "($s1 - $s0) / 1000000 / $n")
			allms=$(calc "($c1 - $c0) * 1000 / $HZ / $n")
			printf '%s %s %s %.3f %.1f %s %.2f %.2f\n' "$per" "$s" "$r" \
			    "$secs" "$rate" "$n" "$srvms" "$allms" >>"$RES"
			say "$(printf '%-9s %-10s %3s %8.3f %9.1f %6s %11.2f %11.2f' \
			    "$per/conn" "$s" "$r" "$secs" "$rate" "$n" "$srvms" \
			    "$allms")"
			[ "$n" -eq "$MSGS" ] ||
			    die "$s queued $n of $MSGS messages (per=$per run=$r)"
		done
	done
done
for s in $SERVERS; do clean_of "$s"; done
BG_AFTER=$(bench_busy)

# ---- the report ---------------------------------------------------------------
col() {	# col CASE SERVER FIELD: the median of that field over the runs
	awk -v p="$1" -v s="$2" -v f="$3" '$1==p && $2==s {print $f}' "$RES" |
	    median
}
echo
echo "SMTP receive: $MSGS messages of $SIZE bytes, $SESSIONS parallel sessions," \
    "median of $RUNS runs"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)," \
    "Postfix $(postconf -d -h mail_version 2>/dev/null), Postfix park: $PF_PARK"
echo "other CPU load: ${BG_BEFORE}% busy before the runs, ${BG_AFTER}% after;" \
    "server CPU from $([ "$CG_KIND" != none ] && echo "cgroups ($CG_KIND)" ||
    echo "the process trees")"
echo "qsmtpd: $QSMTPD${BENCH_REV:+ (inetmail $BENCH_REV)}"
echo
echo "| msgs/conn | server | msgs/s (median) | vs Postfix | server CPU ms/msg | all CPU ms/msg |"
echo "|---|---|---|---|---|---|"
for per in $CASES; do
	p=$(col "$per" postfix 5)
	for s in $SERVERS; do
		q=$(col "$per" "$s" 5)
		if [ -n "$p" ] && [ -n "$q" ]; then
			ratio=$(printf '%.2fx' "$(calc "$q / $p")")
		else
			ratio=-
		fi
		printf '| %s | %s | %s | %s | %s | %s |\n' "$per" "$s" "$q" \
		    "$ratio" "$(col "$per" "$s" 7)" "$(col "$per" "$s" 8)"
	done
done
echo
echo "per run (msgs/conn server run seconds msgs/s queued server-cpu-ms/msg all-cpu-ms/msg):"
cat "$RES"
