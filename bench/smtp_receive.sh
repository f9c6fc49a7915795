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
BENCH_NETNS=${BENCH_NETNS:-1}	# 1: run servers and client in a private
				# network namespace with only loopback
KEEP=${KEEP:-0}			# 1: keep $WORK afterwards (logs, configs)
# ---------------------------------------------------------------------------

SELF=$(readlink -f "$0")
INETD=/usr/sbin/inetd
SMTP_SOURCE=/usr/sbin/smtp-source
POSTFIX=/usr/sbin/postfix
POSTSUPER=/usr/sbin/postsuper
FROM=sender@bench-client.invalid
RCPT=rcpt@bench-remote.invalid

say() { printf '%s\n' "$*" >&2; }
die() { say "smtp_receive: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (inetd, Postfix, the spool user)"

# ---- phase 1 (outside the namespace): packages and the build ---------------
if [ "${BENCH_INNER:-0}" != 1 ]; then
	need=
	[ -x "$INETD" ] || need="$need openbsd-inetd"
	{ [ -x "$POSTFIX" ] && [ -x "$SMTP_SOURCE" ]; } || need="$need postfix"
	command -v ss >/dev/null || need="$need iproute2"
	command -v unshare >/dev/null || need="$need util-linux"
	if [ -z "$QSMTPD" ]; then
		for t in autoreconf make gcc; do
			command -v $t >/dev/null && continue
			need="$need autoconf automake make gcc"
			break
		done
	fi
	if [ -n "$need" ]; then
		say "installing:$need"
		echo 'postfix postfix/main_mailer_type select No configuration' |
		    debconf-set-selections
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -q $need >/dev/null
	fi
	id inetmail >/dev/null 2>&1 ||
	    useradd -r -d /nonexistent -s /usr/sbin/nologin inetmail
	id postfix >/dev/null 2>&1 || die "no postfix user (postfix install?)"

	rm -rf "$WORK"
	mkdir -p "$WORK"
	chmod 755 "$WORK"
	if [ -z "$QSMTPD" ]; then
		# Build a snapshot of the working tree (tracked and untracked,
		# not ignored), so a tree that others are editing is not touched.
		say "building qsmtpd from $SRC"
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
		QSMTPD=$WORK/build/src/qsmtpd/qsmtpd
	fi
	[ -x "$QSMTPD" ] || die "no qsmtpd at $QSMTPD"
	QSMTPD=$(readlink -f "$QSMTPD")
	export QSMTPD MSGS SIZE SESSIONS PERCONN RUNS CASES SERVERS QS_PORT \
	    PF_PORT PF_PARK WORK KEEP
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

INETD_PID=
PF_MASTER_PID=
PF_CONF=$WORK/postfix/etc
PF_QUEUE=$WORK/postfix/queue
QS_SPOOL=$WORK/qsmtpd/spool
QS_CONF=$WORK/qsmtpd/inetmail.conf

cleanup() {
	local rc=$?
	set +e
	if [ -n "$INETD_PID" ] && kill -0 "$INETD_PID" 2>/dev/null; then
		kill "$INETD_PID"
		wait "$INETD_PID" 2>/dev/null
	fi
	if [ -n "$PF_MASTER_PID" ]; then
		$POSTFIX -c "$PF_CONF" stop >/dev/null 2>&1
		for _ in $(seq 50); do
			kill -0 "$PF_MASTER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$PF_MASTER_PID" 2>/dev/null && kill -9 "$PF_MASTER_PID"
	fi
	if [ "$KEEP" != 1 ] && [ "$rc" -eq 0 ]; then
		rm -rf "$WORK"
	elif [ -d "$WORK" ]; then
		say "kept $WORK (logs, configs)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until something listens on 127.0.0.1:$1.
wait_listen() {
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

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
	$INETD -d -R 1000000 "$d/inetd.conf" >"$d/inetd.log" 2>&1 &
	INETD_PID=$!
	wait_listen "$QS_PORT" || die "inetd does not listen on $QS_PORT"
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
	cat >"$PF_CONF/main.cf" <<-EOF
	compatibility_level = 3.6
	queue_directory = $PF_QUEUE
	data_directory = $d/data
	mail_owner = postfix
	setgid_group = postdrop
	myhostname = bench.invalid
	mydomain = invalid
	myorigin = \$myhostname
	mydestination =
	local_recipient_maps =
	alias_maps =
	alias_database =
	relayhost =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	$park
	# only 127.0.0.1 is ever touched
	smtpd_peername_lookup = no
	smtp_dns_support_level = disabled
	lmtp_dns_support_level = disabled
	smtp_host_lookup = native
	# flow control paces arrival to delivery; nothing is delivered here
	in_flow_delay = 0
	biff = no
	append_dot_mydomain = no
	maillog_file = $d/maillog
	EOF
	cat >"$PF_CONF/master.cf" <<-EOF
	127.0.0.1:$PF_PORT inet n - n - - smtpd
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	proxywrite unix -       -       n       -       1       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	local     unix  -       n       n       -       -       local
	virtual   unix  -       n       n       -       -       virtual
	lmtp      unix  -       -       n       -       -       lmtp
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	$POSTFIX -c "$PF_CONF" start >"$d/start.log" 2>&1 ||
	    { cat "$d/start.log" >&2; die "postfix start failed"; }
	for _ in $(seq 100); do
		[ -s "$PF_QUEUE/pid/master.pid" ] && break
		sleep 0.1
	done
	PF_MASTER_PID=$(tr -dc 0-9 <"$PF_QUEUE/pid/master.pid")
	[ -n "$PF_MASTER_PID" ] || die "no Postfix master pid"
	wait_listen "$PF_PORT" || die "Postfix does not listen on $PF_PORT"
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
	local port=$1 per=$2 t0 t1 i batches
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
		for i in $(seq "$batches"); do
			$SMTP_SOURCE -4 -d -s "$SESSIONS" \
			    -m $(( MSGS / batches )) -l "$SIZE" \
			    -M bench-client.invalid -f "$FROM" -t "$RCPT" \
			    "127.0.0.1:$port" >/dev/null
		done
	fi
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b - a}' 
}

calc() { awk "BEGIN{printf \"%.6f\", $1}"; }

cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

for s in $SERVERS; do
	case $s in
	qsmtpd)	start_qsmtpd ;;
	postfix) start_postfix ;;
	*) die "unknown server $s" ;;
	esac
done

port_of() { [ "$1" = qsmtpd ] && echo "$QS_PORT" || echo "$PF_PORT"; }
count_of() { [ "$1" = qsmtpd ] && qs_count || pf_count; }
clean_of() { [ "$1" = qsmtpd ] && qs_clean || pf_clean; }

# Warm-up: a few messages each, then clean (Postfix starts its processes).
for s in $SERVERS; do
	$SMTP_SOURCE -4 -s 2 -m 20 -l "$SIZE" -M bench-client.invalid \
	    -f "$FROM" -t "$RCPT" "127.0.0.1:$(port_of "$s")" >/dev/null
	clean_of "$s"
done

RES=$WORK/results
: >"$RES"
HZ=$(getconf CLK_TCK)
say "$(printf '%-8s %-8s %4s %8s %9s %6s %10s' case server run seconds msgs/s queued cpu-ms/msg)"
for r in $(seq "$RUNS"); do
	for per in $CASES; do
		for s in $SERVERS; do
			clean_of "$s"
			sync
			c0=$(cpu_ticks)
			secs=$(send "$(port_of "$s")" "$per")
			c1=$(cpu_ticks)
			n=$(count_of "$s")
			rate=$(calc "$n / $secs")
			cpums=$(calc "($c1 - $c0) * 1000 / $HZ / ($n ? $n : 1)")
			printf '%s %s %s %.3f %.1f %s %.3f\n' "$per" "$s" "$r" \
			    "$secs" "$rate" "$n" "$cpums" >>"$RES"
			say "$(printf '%-8s %-8s %4s %8.3f %9.1f %6s %10.3f' \
			    "$per/conn" "$s" "$r" "$secs" "$rate" "$n" "$cpums")"
			[ "$n" -eq "$MSGS" ] ||
			    die "$s queued $n of $MSGS messages (per=$per run=$r)"
		done
	done
done
for s in $SERVERS; do clean_of "$s"; done

# ---- the report ---------------------------------------------------------------
echo
echo "SMTP receive: $MSGS messages of $SIZE bytes, $SESSIONS parallel sessions," \
    "median of $RUNS runs"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)," \
    "Postfix $(postconf -d -h mail_version 2>/dev/null), Postfix park: $PF_PARK"
echo
printf '| %-14s | %-14s | %-14s | %-15s |\n' "msgs/conn" "qsmtpd msg/s" \
    "Postfix msg/s" "qsmtpd/Postfix"
printf '|%s|%s|%s|%s|\n' "----------------" "----------------" \
    "----------------" "-----------------"
for per in $CASES; do
	q=$(awk -v p="$per" '$1==p && $2=="qsmtpd"{print $5}' "$RES" | median)
	p=$(awk -v p="$per" '$1==p && $2=="postfix"{print $5}' "$RES" | median)
	if [ -n "$q" ] && [ -n "$p" ]; then
		ratio=$(printf '%.2fx' "$(calc "$q / $p")")
	else
		ratio=-
	fi
	printf '| %-14s | %-14s | %-14s | %-15s |\n' "$per" "${q:--}" "${p:--}" \
	    "$ratio"
done
echo
echo "per run (case server run seconds msgs/s queued cpu-ms/msg):"
cat "$RES"
