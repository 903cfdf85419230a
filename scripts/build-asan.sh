#!/usr/bin/env bash
# Configures and builds the sanitizer build into build-asan/: clang, -O1 -g,
# AddressSanitizer + UndefinedBehaviorSanitizer on everything we compile, and
# the libFuzzer binaries of tests/fuzz beside their replay tests. One build for
# scripts/sanitize.sh (every test) and scripts/fuzz.sh (the fuzzers).
# Installs clang if it is missing. Ninja, ccache when present.
# Usage: scripts/build-asan.sh [TARGET...]   (default: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  echo "build-asan: installing clang"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
if [ ! -f build-asan/build.ninja ]; then
  # Debug keeps assert() and Abseil's debug checks; -O1 keeps it fast enough.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    -DIICC_SANITIZE=ON -DIICC_FUZZ=ON >/dev/null
fi
cmake --build build-asan -j "${IICC_JOBS:-$(nproc)}" ${1:+--target "$@"}
