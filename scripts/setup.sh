#!/bin/sh
# Installs what parley needs on Debian 12 (as root): build tools, libraries,
# speech engines and models, and the npm packages the tests use. Idempotent.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config libwebsockets-dev libcurl4-openssl-dev libcjson-dev
libyaml-dev libsqlite3-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
flite flite1-dev espeak-ng libespeak-ng-dev libwebrtc-audio-processing-dev libspeexdsp-dev
sox nodejs npm"

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

if [ ! -d tests/node_modules/ws ]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
