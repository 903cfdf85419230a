#!/usr/bin/env bash
# Configures and builds IICC Exchange into build/ (Ninja, ccache when present).
# Usage: scripts/build.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${IICC_JOBS:-$(nproc)}"
if [ ! -f build/build.ninja ] || [ $# -gt 0 ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${IICC_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
fi
cmake --build build -j "$jobs"
