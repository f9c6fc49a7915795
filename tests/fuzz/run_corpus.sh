#!/bin/sh
# Runs a fuzz target over its regression corpus: ./fuzz_NAME over every file
# in $srcdir/corpus/NAME.  The standalone build (no libFuzzer) also runs
# FUZZ_MUTATIONS (default 200) deterministic mutations of each file.
#
# $srcdir/known-bugs lists inputs that fail because of a bug still open in
# src/, as "NAME/FILE ID description".  Their invariants (by ID, through
# FUZZ_IGNORE) are not held against the other inputs and mutations; each
# listed file is then run alone to say whether its bug is still there.  None
# of that fails the test, unless FUZZ_STRICT=1.
prog=$1
name=$(basename "$prog")
name=${name%.exe}
name=${name#fuzz_}
srcdir=${srcdir:-.}
dir=$srcdir/corpus/$name
known=$srcdir/known-bugs

if [ ! -d "$dir" ]; then
	echo "$0: no corpus directory $dir" >&2
	exit 99
fi
set --
for f in "$dir"/*; do
	[ -f "$f" ] && set -- "$@" "$f"
done
if [ $# -eq 0 ]; then
	echo "$0: corpus $dir is empty" >&2
	exit 99
fi

bugs=
if [ -f "$known" ]; then
	bugs=$(sed -n "s|^$name/\([^ 	]*\)[ 	]*\([^ 	]*\).*|\1:\2|p" "$known")
fi
if [ "$FUZZ_STRICT" != 1 ]; then
	for b in $bugs; do
		FUZZ_IGNORE=${FUZZ_IGNORE:+$FUZZ_IGNORE,}${b#*:}
	done
	export FUZZ_IGNORE
fi

# fuzz_smtp makes a scratch spool under TMPDIR; one that crashes leaves it
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_corpus.XXXXXX") || exit 99
trap 'rm -rf "$scratch"' EXIT
TMPDIR=$scratch
export TMPDIR

if [ "$FUZZ_ENGINE" = libfuzzer ]; then
	"$prog" "$@" || exit 1
else
	"$prog" -m "${FUZZ_MUTATIONS:-200}" "$@" || exit 1
fi

# One input alone, without FUZZ_IGNORE, in $scratch (a crash file goes there)
abs=$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog")
run_alone() {
	(f=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") &&
	    cd "$scratch" && FUZZ_IGNORE= "$abs" "$f") >/dev/null 2>&1
}

status=0
for b in $bugs; do
	f=$dir/${b%%:*}
	if [ ! -f "$f" ]; then
		echo "known-bugs names $f, which is not there" >&2
		status=1
	elif run_alone "$f"; then
		if grep "^$name/${b%%:*}[ 	]" "$known" | grep -q UBSan; then
			echo "NOTE: $f passes: bug ${b#*:} shows only" \
			    "with -fsanitize=undefined"
		else
			echo "NOTE: $f passes now: if bug ${b#*:} is fixed," \
			    "remove its line from tests/fuzz/known-bugs"
		fi
	else
		echo "KNOWN BUG ${b#*:} still there: $f"
	fi
done
exit $status
