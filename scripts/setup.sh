#!/bin/sh
# Installs what parley needs on Debian 12 (as root): build tools, libraries,
# speech engines and models; with --tests also Node.js, sox and the npm
# packages the end-to-end tests use. Idempotent: installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config libwebsockets-dev libcurl4-openssl-dev libcjson-dev
libyaml-dev libsqlite3-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
flite flite1-dev espeak-ng libespeak-ng-dev libwebrtc-audio-processing-dev libspeexdsp-dev"
TESTS=0
[ "${1:-}" = "--tests" ] && TESTS=1
[ $TESTS = 1 ] && PKGS="$PKGS sox chromium nodejs npm"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# nodejs may come from elsewhere (a newer build); accept any node on PATH.
if command -v node >/dev/null 2>&1; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
  echo "setup: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

if [ $TESTS = 1 ] && { [ ! -d tests/node_modules/ws ] || [ ! -d tests/node_modules/playwright-core ] ||
  [ ! -d tests/node_modules/@modelcontextprotocol/server-everything ]; }; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
