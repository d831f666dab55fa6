#!/bin/sh
# Runs the README's two commands on a fresh, minimal Debian 12 root, as a new
# user would: for people to run before a release (not part of `make test`).
# Needs root, debootstrap and a Debian mirror. The pristine root is cached.
#
#   sudo sh scripts/fresh-debian-check.sh [--keep] [--no-shared]
#
# --keep       leave the used root in place (its path is printed) to look at
# --no-shared  do not copy ../shared/data in (CI has it; a new user does not)
# --cache-only build the cached pristine root and stop
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              PARLEY_FRESH_CACHE (default /var/cache/parley-fresh-debian).
set -eu
cd "$(dirname "$0")/.."

keep=0 shared=1 cache_only=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --no-shared) shared=0 ;;
    --cache-only) cache_only=1 ;;
    *) echo "usage: sh scripts/fresh-debian-check.sh [--keep] [--no-shared] [--cache-only]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-debian-check: run me as root (debootstrap and chroot need it)" >&2; exit 2; }
command -v debootstrap >/dev/null 2>&1 || {
  echo "fresh-debian-check: debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${PARLEY_FRESH_CACHE:-/var/cache/parley-fresh-debian}
pristine="$cache/bookworm-minbase.tar"
mkdir -p "$cache"

# The pristine root: what the issue's reporter started from (minbase, plus
# ca-certificates, git and sudo), with the suites a Debian install lists.
if [ ! -f "$pristine" ]; then
  echo "== debootstrap bookworm (minbase) from $mirror, cached in $pristine"
  boot="$cache/bootstrap.$$"
  rm -rf "$boot"
  debootstrap --variant=minbase --include=ca-certificates,git,sudo bookworm "$boot" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || { echo "debootstrap failed: see $cache/debootstrap.log" >&2; exit 1; }
  cat >"$boot/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  tar -C "$boot" -cf "$pristine.part" . && mv "$pristine.part" "$pristine"
  rm -rf "$boot"
fi
[ $cache_only = 1 ] && { echo "pristine root cached: $pristine"; exit 0; }

root=$(mktemp -d /var/tmp/parley-fresh.XXXXXX)
mounted=""
# Every process whose root is the chroot (the server, test servers, Chromium).
kill_in_root() {
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -"$1" "${p#/proc/}" 2>/dev/null
  done
  return 0
}
cleanup() {
  kill_in_root KILL
  for m in $mounted; do umount -l "$root$m" 2>/dev/null || true; done
  if [ $keep = 0 ]; then rm -rf "$root"; else echo "root kept at $root"; fi
}
trap cleanup EXIT INT TERM
tar -C "$root" -xf "$pristine"

# The network's own certificate authorities (a proxy that inspects TLS), and
# its name resolution, as the host has them.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ] && [ -n "$(ls -A /usr/local/share/ca-certificates 2>/dev/null)" ]; then
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

# The working tree as git sees it (tracked, and untracked but not ignored),
# as a clone would bring it; ../shared/data beside it as CI has it.
mkdir -p "$root/root/parley"
git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion | tar -C "$root/root/parley" -xf -
if [ $shared = 1 ] && [ -d ../shared/data ]; then
  mkdir -p "$root/root/shared" && cp -r ../shared/data "$root/root/shared/"
fi

for m in /proc /sys /dev /dev/pts /dev/shm; do
  mkdir -p "$root$m"
  case "$m" in
    /proc) mount -t proc proc "$root$m" ;;
    /dev/shm) mount -t tmpfs shm "$root$m" ;;
    *) mount --bind "$m" "$root$m" ;;
  esac
  mounted="$m $mounted"
done

in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "cd /root/parley && $1"; }

# 1. "sh scripts/setup.sh && make run": the server must start and answer.
echo "== 1. sh scripts/setup.sh && make run"
start=$(date +%s)
in_root "sh scripts/setup.sh && make run" >"$cache/run.log" 2>&1 &
runner=$!
up=0 code=000
while kill -0 $runner 2>/dev/null; do
  # The chroot shares the host's network: the host's curl asks it. Any HTTP
  # answer counts (503 too: no Ollama in the root, which /health reports).
  code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health 2>/dev/null || true)
  case "$code" in 2??|5??) up=1; break ;; esac
  sleep 2
done
run_s=$(( $(date +%s) - start ))
kill_in_root TERM
wait $runner 2>/dev/null || true
if [ $up = 1 ]; then r1="PASS: the server answered /health (HTTP $code) after ${run_s} s (install and build included)"
else r1="FAIL: the server never answered (see $cache/run.log)"; tail -20 "$cache/run.log"; fi
echo "$r1"

# 2. "sh scripts/setup.sh --tests && make test": every test passes.
echo "== 2. sh scripts/setup.sh --tests && make test"
start=$(date +%s)
if in_root "sh scripts/setup.sh --tests && make test" >"$cache/test.log" 2>&1; then rc=0; else rc=$?; fi
test_s=$(( $(date +%s) - start ))
grep -E 'tests passed|tests failed|The following tests FAILED|^\s+[0-9]+ - ' "$cache/test.log" || true
if [ $rc = 0 ]; then r2="PASS: make test exited 0 after ${test_s} s"
else r2="FAIL: exit $rc after ${test_s} s (see $cache/test.log)"; tail -30 "$cache/test.log"; fi

echo
echo "fresh Debian 12 ($(chroot "$root" cat /etc/debian_version)):"
echo "  make run:  $r1"
echo "  make test: $r2"
[ $up = 1 ] && [ $rc = 0 ]
