# bench/lib.sh: helpers shared by the benchmark scripts (sourced, not run).
#
# Set BENCH_NAME (for messages) before sourcing.  Nothing here starts a
# process that outlives the caller; each script keeps its own cleanup.

say() { printf '%s\n' "$*" >&2; }
die() { say "${BENCH_NAME:-bench}: $*"; exit 1; }

# ---- phase 1 helpers: packages, scratch, the build -------------------------

# bench_install PKG...: apt-get installs what is listed (Postfix, if among
# them, with debconf's "No configuration": no system instance is set up).
bench_install() {
	[ $# -gt 0 ] || return 0
	say "installing: $*"
	echo 'postfix postfix/main_mailer_type select No configuration' |
	    debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -q "$@" >/dev/null
}

# bench_build_tools: prints the packages a build needs that are missing.
bench_build_tools() {
	local t
	for t in autoreconf make gcc; do
		command -v $t >/dev/null && continue
		echo "autoconf automake make gcc"
		return 0
	done
}

# bench_fresh_work DIR: empties DIR (a directory of its own) and makes it.
bench_fresh_work() {
	case $(readlink -m "$1") in
	/|/var|/tmp|/var/tmp|/home|/root|/usr|/etc)
		die "WORK=$1: give a directory of its own (it is emptied)" ;;
	esac
	rm -rf "$1"
	mkdir -p "$1"
	chmod 755 "$1"
}

# bench_build SRC DEST LOG: builds a snapshot of the inetmail tree SRC
# (tracked and untracked, not ignored files) in DEST, so that a tree others
# are editing is neither touched nor half-read.  SRC is only read.
bench_build() {
	local src=$1 dest=$2 log=$3
	say "building inetmail from $src"
	mkdir -p "$dest"
	if git -C "$src" rev-parse >/dev/null 2>&1; then
		git -C "$src" ls-files -co --exclude-standard -z |
		    (cd "$src" && tar --null -T - -cf - 2>/dev/null) |
		    tar -C "$dest" -xf -
	else
		cp -a "$src"/. "$dest"/
	fi
	(cd "$dest" && { [ -f Makefile ] && make distclean || true; } &&
	    autoreconf -fi && ./configure -q && make -j2) >"$log" 2>&1 ||
	    { tail -30 "$log" >&2; die "build failed (see $log)"; }
}

# bench_rev SRC: the git revision of SRC, and whether src/ has changes.
bench_rev() {
	local rev
	git -C "$1" rev-parse >/dev/null 2>&1 || return 0
	rev=$(git -C "$1" rev-parse --short HEAD)
	[ -z "$(git -C "$1" status --porcelain -- src 2>/dev/null)" ] ||
	    rev="$rev + uncommitted src/ changes"
	echo "$rev"
}

# bench_messages N SIZE DIR FROM TO SUBJECT: N reproducible messages (a
# fixed LCG) DIR/1 .. DIR/N of about SIZE bytes: a unique X-Bench-Seq and
# Message-ID, a body of 72-column [a-z0-9] lines (none starts "From " or
# ".", so neither quoting nor dot-stuffing differs between systems).
bench_messages() {
	mkdir -p "$3"
	awk -v n="$1" -v size="$2" -v dir="$3" -v from="$4" -v to="$5" \
	    -v subj="$6" 'BEGIN {
		alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
		seed = 12345
		for (i = 1; i <= n; i++) {
			f = dir "/" i
			h = sprintf("From: Bench Sender <%s>\nTo: <%s>\n" \
			    "Subject: %s %d\n" \
			    "Date: Thu, 01 Jan 2026 00:00:00 +0000\n" \
			    "Message-ID: <bench-%d@bench-client.invalid>\n" \
			    "X-Bench-Seq: %d\n\n", from, to, subj, i, i, i)
			printf "%s", h > f
			len = length(h)
			while (len < size - 1) {
				w = size - 1 - len
				if (w > 72) w = 72
				line = ""
				for (k = 0; k < w; k++) {
					seed = (seed * 1103515245 + 12345) % 2147483648
					line = line substr(alpha, int(seed / 65536) % 36 + 1, 1)
				}
				printf "%s\n", line > f
				len += w + 1
			}
			close(f)
		}
	}'
	chmod -R a+rX "$3"
}

# ---- numbers -----------------------------------------------------------------

calc() { awk "BEGIN{printf \"%.6f\", $1}"; }
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
HZ=$(getconf CLK_TCK)

# All CPU time of the machine so far, in clock ticks.
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

# bench_busy: how busy the machine is (percent, over 2 s) without us.
bench_busy() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	sleep 2
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ")
	    busy = y[1] - x[1]; idle = y[2] - x[2]
	    printf "%.0f", (busy + idle > 0) ? 100 * busy / (busy + idle) : 0 }'
}

# /proc/PID/stat of every process, one a line (some may be gone meanwhile).
proc_stats() {
	local f
	for f in /proc/[0-9]*/stat; do
		{ cat "$f" && echo; } 2>/dev/null || true
	done
}

# The PIDs of the descendants of process $1.
descendants() {
	proc_stats | awk -v root="$1" '
	NF { pid = $1; rest = $0; sub(/^.*\) /, "", rest); split(rest, v, " ")
	     ppid[pid] = v[2] }
	END { in_tree[root] = 1; grew = 1
	      while (grew) { grew = 0
		for (p in ppid) if (!(p in in_tree) && (ppid[p] in in_tree)) {
			in_tree[p] = 1; grew = 1; print p } } }'
}

# CPU time of process $1 and all its descendants, living or reaped, in
# ticks: utime+stime of each, plus cutime+cstime (the children it reaped).
tree_ticks() {
	proc_stats | awk -v root="$1" '
	NF {
		pid = $1; rest = $0
		sub(/^.*\) /, "", rest)	# past "(comm) ", comm may hold spaces
		split(rest, v, " ")
		ppid[pid] = v[2]
		t[pid] = v[12] + v[13] + v[14] + v[15]
	}
	END {
		in_tree[root] = 1; grew = 1
		while (grew) {
			grew = 0
			for (p in ppid)
				if (!(p in in_tree) && (ppid[p] in in_tree)) {
					in_tree[p] = 1; grew = 1
				}
		}
		for (p in in_tree) sum += t[p]
		print sum + 0
	}'
}

# ---- CPU accounting by cgroup ------------------------------------------------
# A cgroup per contender counts the CPU of every process in it, living or
# gone, in ns: cgroup v2's cpu.stat, else v1's cpuacct; CG_KIND=none when
# neither can be used (the callers then fall back to tree_ticks).
declare -A CG=()
CG_KIND=none
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	CG_KIND=v2 CG_BASE=/sys/fs/cgroup
elif [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	CG_KIND=v1 CG_BASE=/sys/fs/cgroup/cpuacct
fi
cg_make() {	# cg_make NAME: makes the cgroup; CG[NAME] is its path, or empty
	CG[$1]=
	[ "$CG_KIND" != none ] || return 0
	local d=$CG_BASE/${CG_PREFIX:-${BENCH_NAME:-bench}}-$1-$$
	mkdir "$d" 2>/dev/null && CG[$1]=$d
	return 0
}
cg_add() {	# cg_add NAME PID...: moves the PIDs into it (children follow)
	local d=${CG[$1]:-} p
	shift
	[ -n "$d" ] || return 0
	for p in "$@"; do
		echo "$p" >"$d/cgroup.procs" 2>/dev/null || true
	done
}
cg_cpu_ns() {	# cg_cpu_ns NAME: the CPU time of its cgroup so far, in ns
	case $CG_KIND in
	v2) awk '$1 == "usage_usec" { printf "%.0f", $2 * 1000 }' "${CG[$1]}/cpu.stat" ;;
	v1) cat "${CG[$1]}/cpuacct.usage" ;;
	esac
}
cg_procs() {	# cg_procs NAME: how many processes are in it
	local d=${CG[$1]:-}
	[ -n "$d" ] || { echo 0; return 0; }
	wc -l <"$d/cgroup.procs"
}
cg_rm() {	# cg_rm NAME: removes it (after its processes are gone)
	local d=${CG[$1]:-}
	[ -n "$d" ] && [ -d "$d" ] || return 0
	for _ in $(seq 50); do
		rmdir "$d" 2>/dev/null && return 0
		sleep 0.1
	done
	say "warning: cannot remove cgroup $d"
}
# in_cg NAME CMD...: execs CMD in NAME's cgroup (when there is one); run
# it as "in_cg ... &" or "(in_cg ...)": the PID stays CMD's.
in_cg() {
	local d=${CG[$1]:-}
	shift
	if [ -n "$d" ]; then
		exec sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$d" "$@"
	else
		exec "$@"
	fi
}

# ---- servers -------------------------------------------------------------------

# wait_listen PORT: waits until something listens on 127.0.0.1:PORT.
wait_listen() {
	for _ in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# qs_spool DIR: an inetmail spool as an installation makes it
# (tests/inetmail_test.py prepare_spool): root:inetmail 0750, the
# subdirectories inetmail 0770.
qs_spool() {
	mkdir -p "$1"/{tmp,queue,state,bad,lock}
	chown root:inetmail "$1"
	chmod 750 "$1"
	chown inetmail:inetmail "$1"/*
	chmod 770 "$1"/*
}

# pf_main_cf PFDIR QUEUEDIR: the main.cf lines every private Postfix here
# shares (own queue and data directories, IPv4 only, no DNS, postlogd to
# PFDIR/maillog since there is no syslog daemon); the callers add theirs.
pf_main_cf() {
	cat <<-EOF
	compatibility_level = 3.6
	queue_directory = $2
	data_directory = $1/data
	mail_owner = postfix
	setgid_group = postdrop
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	# only 127.0.0.1 is ever touched
	smtp_dns_support_level = disabled
	lmtp_dns_support_level = disabled
	biff = no
	append_dot_mydomain = no
	maillog_file = $1/maillog
	EOF
}

# pf_master_cf: the daemons of a private Postfix without inet services,
# no chroot (master.cf lines); the callers add smtpd, smtp or local.
pf_master_cf() {
	cat <<-EOF
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
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

# pf_start CONFDIR QUEUEDIR LOG: `postfix -c CONFDIR start`; sets
# PF_MASTER_PID.
pf_start() {
	/usr/sbin/postfix -c "$1" start >"$3" 2>&1 ||
	    { cat "$3" >&2; die "postfix start failed"; }
	for _ in $(seq 100); do
		[ -s "$2/pid/master.pid" ] && break
		sleep 0.1
	done
	PF_MASTER_PID=$(tr -dc 0-9 <"$2/pid/master.pid")
	[ -n "$PF_MASTER_PID" ] || die "no Postfix master pid"
}

# pf_stop CONFDIR PID: `postfix stop`, then the master by its PID.
pf_stop() {
	[ -n "$2" ] || return 0
	/usr/sbin/postfix -c "$1" stop >/dev/null 2>&1
	for _ in $(seq 50); do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -0 "$2" 2>/dev/null && kill -9 "$2"
	return 0
}
