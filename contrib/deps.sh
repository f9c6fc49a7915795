#!/bin/sh
# Installs what building, testing and the demo need on Debian (run as root).
set -e
pkgs="build-essential autoconf automake libtool pkg-config check zlib1g-dev
 libcrypt-dev libtls-dev libssl-dev openbsd-inetd swaks curl dnsmasq-base python3 mandoc
 fetchmail mpop openssl strace s-nail postfix"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	# postfix is only the remote peer of the tests (smtp-sink) and the
	# benchmarks' yardstick: never configured as this host's mailer
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# the spool user the programs drop to when started as root
id inetmail >/dev/null 2>&1 ||
    useradd -r -M -d /nonexistent -s /usr/sbin/nologin inetmail
