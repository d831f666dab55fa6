#!/bin/sh
# Installs what parley needs on Debian 12 (as root): build tools, libraries,
# speech engines and models; with --tests also Node.js, sox and the npm
# packages the end-to-end tests use. Idempotent: installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential cmake pkg-config libwebsockets-dev libcurl4-openssl-dev libcjson-dev
libyaml-dev libsqlite3-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
flite flite1-dev espeak-ng libespeak-ng-dev libwebrtc-audio-processing-dev libspeexdsp-dev nodejs npm"
TESTS=0
[ "${1:-}" = "--tests" ] && TESTS=1
[ $TESTS = 1 ] && PKGS="$PKGS sox chromium"

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

# whisper.cpp 1.9.1 (Whisper ASR, Silero VAD): its source ships in the npm
# package nodejs-whisper 0.3.1. Fetched with npm pack, checked against the
# tarball's SHA-1, built with CMake into a prefix outside the source tree.
# A whisper.cpp that pkg-config finds is used instead; without either,
# parley builds without those engines (and says so at start-up).
WHISPER_NPM=nodejs-whisper@0.3.1
WHISPER_SHA1=10caee39336d36663fc5dbaf696343350236c5c8
WHISPER_PREFIX=${PARLEY_WHISPER_PREFIX:-/opt/parley/whisper-1.9.1}
if ! pkg-config --exists whisper 2>/dev/null && [ ! -f "$WHISPER_PREFIX/lib/libwhisper.a" ]; then
  echo "setup: building whisper.cpp 1.9.1 into $WHISPER_PREFIX (about a minute)"
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack "$WHISPER_NPM" --silent >/dev/null 2>&1) &&
     echo "$WHISPER_SHA1  $tmp/nodejs-whisper-0.3.1.tgz" | sha1sum -c --quiet -; then
    tar -xzf "$tmp/nodejs-whisper-0.3.1.tgz" -C "$tmp" package/cpp/whisper.cpp
    cmake -S "$tmp/package/cpp/whisper.cpp" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=OFF -DWHISPER_BUILD_EXAMPLES=OFF -DWHISPER_BUILD_TESTS=OFF \
      -DWHISPER_BUILD_SERVER=OFF -DGGML_OPENMP=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DCMAKE_INSTALL_PREFIX="$WHISPER_PREFIX" >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/build" -j "$(nproc)" >"$tmp/build.log" 2>&1 &&
    cmake --install "$tmp/build" >"$tmp/install.log" 2>&1 ||
      echo "setup: whisper.cpp did not build (see $tmp/*.log); parley builds without it"
  else
    echo "setup: cannot fetch or verify $WHISPER_NPM; parley builds without Whisper and Silero"
  fi
fi
