#!/usr/bin/env bash
# The sanitizer run: builds build-asan/ (scripts/build-asan.sh: clang,
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test there.
# Any report from any process (the test binaries and the gateways and CLIs
# they spawn, which inherit the options below) fails the run, and is printed.
# Usage: scripts/sanitize.sh [ctest arguments, e.g. -R LinkTest or -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-asan.sh

# Every process writes its reports to build-asan/sanitizer-reports/report.<exe>.<pid>
# as well as failing: a gateway's stderr goes to a log in a test directory that
# is deleted after the test, so the report would otherwise be lost.
reports="$PWD/build-asan/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/report:log_exe_name=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="log_path=$reports/report:log_exe_name=1:print_stacktrace=1:halt_on_error=1"
# Sanitized processes run 2 to 3 times slower: tests wait that much longer
# for things to happen (tests/testing/test_env.h, TestTimeScale).
export IICC_TEST_TIME_SCALE="${IICC_TEST_TIME_SCALE:-3}"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"

echo "== ctest (build-asan/, sanitized)"
status=0
(cd build-asan && ctest -j "${IICC_TEST_JOBS:-2}" --output-on-failure --timeout 900 "$@") || status=$?

if compgen -G "$reports/report.*" >/dev/null; then
  for report in "$reports"/report.*; do
    echo "== sanitizer report: ${report#"$PWD"/}"
    cat "$report"
  done
  echo "sanitize: sanitizer reports above"
  status=1
fi
[ "$status" -eq 0 ] && echo "sanitize: clean"
exit "$status"
