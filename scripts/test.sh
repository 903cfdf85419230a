#!/usr/bin/env bash
# The test command: sets up, builds, lints the contract, and runs every test.
# Usage: scripts/test.sh [ctest arguments, e.g. -R LinkTest or -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

echo "== buf lint (proto/)"
.tools/node_modules/.bin/buf lint
echo "buf lint: clean"

echo "== ctest"
cd build
ctest -j "${IICC_TEST_JOBS:-2}" --output-on-failure --timeout 300 "$@"
