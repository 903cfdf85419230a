#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz with clang's libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer, each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]
# New interesting inputs go to build-fuzz/corpus/<target>/ (copy the useful
# ones into tests/fuzz/corpus/<target>/); crashes to build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy_loader_fuzz record_validation_fuzz envelope_receiver_fuzz config_loader_fuzz cli_record_json_fuzz)

scripts/setup.sh
command -v clang++ >/dev/null || { apt-get install -y -qq clang >/dev/null; }
sanitizers="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIICC_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="$sanitizers" -DCMAKE_C_FLAGS="$sanitizers" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build build-fuzz -j "${IICC_JOBS:-$(nproc)}" --target "${targets[@]}"

mkdir -p build-fuzz/crashes
status=0
for target in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$target"
  echo "== $target for ${seconds}s"
  if ! "build-fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="build-fuzz/crashes/$target-" "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target"; then
    echo "$target: FOUND A CRASH (build-fuzz/crashes/)"
    status=1
  fi
done
exit "$status"
