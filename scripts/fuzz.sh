#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, each for a bounded time. The fuzzers are
# built in the sanitizer build, build-asan/ (scripts/build-asan.sh), as
# build-asan/fuzz/<target>_libfuzzer.
# Usage: scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]
# New interesting inputs go to build-asan/corpus/<target>/ (copy the useful
# ones into tests/fuzz/corpus/<target>/); crashes to build-asan/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy_loader_fuzz record_validation_fuzz envelope_receiver_fuzz config_loader_fuzz cli_record_json_fuzz)

scripts/setup.sh
scripts/build-asan.sh "${targets[@]/%/_libfuzzer}"

# The sanitizer run's settings (scripts/sanitize.sh), with reports on stderr.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
mkdir -p build-asan/crashes
status=0
for target in "${targets[@]}"; do
  mkdir -p "build-asan/corpus/$target"
  echo "== $target for ${seconds}s"
  if ! "build-asan/fuzz/${target}_libfuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build-asan/crashes/$target-" "build-asan/corpus/$target" "tests/fuzz/corpus/$target"; then
    echo "$target: FOUND A CRASH (build-asan/crashes/)"
    status=1
  fi
done
exit "$status"
