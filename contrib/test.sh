#!/bin/sh
# Builds inetmail and passes every test: warnings are errors, the unit,
# protocol and end-to-end tests, `make distcheck`, then the whole suite
# again under AddressSanitizer and UndefinedBehaviorSanitizer.
# Run as root on Debian from the top of the source tree.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] && sh contrib/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

[ -f Makefile ] && make distclean >/dev/null 2>&1 || true
autoreconf -fi
rm -rf _build && mkdir -p _build/plain _build/asan

echo "== build and check (-Werror)"
(cd _build/plain && ../../configure -q --enable-werror &&
    make -j"$jobs" && make -j"$jobs" check VERBOSE=1)

echo "== distcheck (the end-to-end tests ran above)"
(cd _build/plain && INETMAIL_SKIP_E2E=1 make -j"$jobs" distcheck \
    DISTCHECK_CONFIGURE_FLAGS=--enable-werror)

# The crash tests' full counts (200 and more kills) ran above; under the
# sanitizers (several times slower) a fraction of them looks for memory
# errors in the same paths.
echo "== check under ASan and UBSan"
(cd _build/asan && ../../configure -q --enable-werror --enable-sanitizers &&
    make -j"$jobs" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    INETMAIL_CRASH_ITER=75 INETMAIL_DELIVER_KILLS=20 POP3_CRASH_RUNS=50 \
    INETMAIL_REMOTE_KILLS=30 \
    make -j"$jobs" check VERBOSE=1)

echo "== all tests passed"
