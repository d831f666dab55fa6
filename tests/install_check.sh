#!/bin/sh
# make install's result, staged with DESTDIR: every file in place, the
# installed binary serves the installed web client, parley(1) renders with
# every configuration key, the example configuration is kept on a second
# install, and systemd-analyze verifies the unit.
# Usage: install_check.sh BUILD_DIR PREFIX SYSCONFDIR
set -eu
build=$1 prefix=$2 sysconf=$3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "install_check: $*" >&2; exit 1; }

DESTDIR=$root cmake --install "$build" >/dev/null
bin=$root$prefix/bin/parley
for f in "$bin" "$root$prefix/share/parley/web/index.html" "$root$prefix/share/parley/web/audio/opus.js" \
         "$root$prefix/share/man/man1/parley.1" "$root$prefix/lib/systemd/system/parley.service" \
         "$root$prefix/lib/sysusers.d/parley.conf" "$root$sysconf/parley/parley.yaml"; do
  [ -e "$f" ] || fail "missing: $f"
done
"$bin" --version | grep -q '^parley ' || fail "the installed binary does not run"
"$bin" --help-config | grep -A1 '^  web_root' | grep -q "$root$prefix/bin/../share/parley/web" ||
  fail "the installed binary does not serve the installed web client"

# The man page: every key of --help-config is in it, and it renders.
page=$root$prefix/share/man/man1/parley.1
for key in $("$bin" --help-config | sed -n 's/^  \([a-z_.]*\) .*/\1/p'); do
  grep -q "^  $key " "$page" || fail "parley(1) lacks $key"
done
MANWIDTH=100 man -l "$page" 2>/dev/null | grep -q 'CONFIGURATION' || fail "parley(1) does not render"

# The administrator's configuration survives a reinstall.
echo "# edited" >> "$root$sysconf/parley/parley.yaml"
DESTDIR=$root cmake --install "$build" >/dev/null
grep -q '^# edited' "$root$sysconf/parley/parley.yaml" || fail "a reinstall overwrote parley.yaml"

# The unit, with ExecStart pointing into the staging root (verify checks the
# binary is there); any warning fails.
unit=$root/parley.service
sed "s#^ExecStart=$prefix#ExecStart=$root$prefix#" "$root$prefix/lib/systemd/system/parley.service" > "$unit"
grep -q "^ExecStart=$root$prefix/bin/parley serve --config $sysconf/parley/parley.yaml" "$unit" || fail "unexpected ExecStart"
for want in 'User=parley' 'StateDirectory=parley' 'PARLEY_DATA_DIR=%S/parley' 'ProtectSystem=strict' 'NoNewPrivileges=yes'; do
  grep -q "$want" "$unit" || fail "the unit lacks $want"
done
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
echo "1 passed, 0 failed"
