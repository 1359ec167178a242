#!/bin/sh
# Installs the Debian 12 packages otas-fcgi needs, only when one is
# missing, so a second `make test` costs nothing here.
#
#   install-deps.sh run    what `make run` needs: the build, PostgreSQL,
#                          lighttpd, python3 and curl (about 60 MB);
#   install-deps.sh test   that and the test toolchain (`make test`,
#                          `make deps`): the other web servers, PgBouncer,
#                          clang, valgrind, Django, lintian... (~400 MB).
#
# Web servers are installed with service start-up suppressed: the tests start
# their own private instances on loopback ports, never the system ones
# (prometheus too: the metrics tests start their own server and promtool).
set -eu

RUN_PKGS="build-essential pkg-config libfcgi-dev libjson-c-dev libjwt-dev
libpq-dev libssl-dev postgresql-15 lighttpd python3 procps curl"
TEST_PKGS="libcmocka-dev libjansson-dev xz-utils apache2 libapache2-mod-fcgid
apache2-suexec-custom
nginx spawn-fcgi multiwatch pgbouncer wrk python3-pytest python3-jwt
python3-psycopg2 python3-django clang-14 libclang-rt-14-dev valgrind
debhelper dpkg-dev lintian strace prometheus
postgresql-15-auto-failover pg-auto-failover-cli"

case ${1:-test} in
run) PKGS=$RUN_PKGS ;;
test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
*) echo "usage: install-deps.sh [run|test]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "install-deps: installing:$missing" >&2

# Keep apt from starting apache2/nginx/lighttpd on port 80.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
# An if, not `&&`: dash exits with the trap's status, and a false test
# there failed the first `make test` on images that ship policy-rc.d.
cleanup() {
	if [ "$made_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
