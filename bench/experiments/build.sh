#!/bin/bash
# Builds the experiments against a built inetmail tree:
#   bench/experiments/build.sh BUILT_TREE [OUTDIR]
# Gives qsmtpd_static (the tree's qsmtpd, relinked -static), qsmtpd_fork
# (inetd wait, fork per connection, no exec) and qsmtpd_prefork (inetd
# wait, 10 pre-forked workers of 100 connections each), the last two also
# as *_static.  Links exactly what the tree's Makefile links into qsmtpd.
set -euo pipefail
B=$(readlink -f "${1:?usage: build.sh BUILT_TREE [OUTDIR]}")
OUT=$(mkdir -p "${2:-.}" && readlink -f "${2:-.}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
[ -f "$B/src/Makefile" ] || { echo "build.sh: $B is not a built tree" >&2; exit 1; }

# qsmtpd's objects and libraries, as src/Makefile links them
mkvar() {
	# shellcheck disable=SC2016  # $(...) is make's, not ours
	printf 'bench-print:\n\t@echo $(%s)\n' "$1" |
	    make -s -C "$B/src" -f Makefile -f - bench-print
}
objs=$(mkvar qsmtpd_qsmtpd_OBJECTS)
libs="$(mkvar qsmtpd_qsmtpd_LDADD) $(mkvar LIBS)"
[ -n "$objs" ] || { echo "build.sh: no qsmtpd objects in $B/src/Makefile" >&2; exit 1; }
session_objs=$(for o in $objs; do case $o in */main.o) ;; *) echo "$o" ;; esac; done)

quiet() { grep -v -e 'getpwnam' -e 'in function' || true; }
cd "$B/src"
# shellcheck disable=SC2086
gcc -static -o "$OUT/qsmtpd_static" $objs $libs 2>&1 | quiet
inc="-I$B -I$B/src/lib -I$B/src/qsmtpd -I$SRC/src/lib -I$SRC/src/qsmtpd"
for w in 0 10; do
	name=$([ $w = 0 ] && echo qsmtpd_fork || echo qsmtpd_prefork)
	# shellcheck disable=SC2086
	gcc -O2 -g -DNWORKERS=$w $inc -o "$OUT/$name" "$HERE/qsmtpd_wait.c" \
	    $session_objs $libs
	# shellcheck disable=SC2086
	gcc -static -O2 -g -DNWORKERS=$w $inc -o "$OUT/${name}_static" \
	    "$HERE/qsmtpd_wait.c" $session_objs $libs 2>&1 | quiet
done
ls -l "$OUT"/qsmtpd_static "$OUT"/qsmtpd_fork* "$OUT"/qsmtpd_prefork*
