#!/usr/bin/env bash
# The side-by-side benchmark (docs/performance.md): a bare gRPC echo, the
# same behind one nginx mTLS hop, and a KZ->UZ gateway pair end to end, all on
# this machine and in one run, so that their ratios mean something.
#
#   scripts/bench.sh                 build (Release, build-bench/), measure every scenario 3 times
#   scripts/bench.sh --quick         one short run of each (a few minutes in all)
#   scripts/bench.sh --soak SECONDS  steady load at half the measured maximum for SECONDS
#   scripts/bench.sh --backlog N     UZ down, N records queued at KZ (RSS at 10,000 and at N), then the drain
#   options: --no-build  --seconds S (10)  --warmup S (3)  --runs N (3)  --inflight N (256)  --only NAME[,NAME...]
#            --random-ids (request ids scattered over the idempotency index, as random UUIDs would be)
#
# Scenarios: raw-unary raw-stream nginx-1hop iicc-unary iicc-stream.
# Environment: IICC_BENCH_DIR (default /var/tmp): where the gateways' stores
# go; it must be a real disk (an fsync on tmpfs costs nothing).
# IICC_BENCH_BUILD (default build-bench): the Release build directory.
# IICC_BENCH_PRELOAD: a library to LD_PRELOAD into the gateways (an allocator, say).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

runs=3 seconds=10 warmup=3 inflight=256 build=1 only="" soak=0 backlog=0 request_ids=ordered
while (($#)); do
  case $1 in
    --quick) runs=1 seconds=5 warmup=2 ;;
    --soak) soak=$2; shift ;;
    --backlog) backlog=$2; shift ;;
    --no-build) build=0 ;;
    --seconds) seconds=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --runs) runs=$2; shift ;;
    --inflight) inflight=$2; shift ;;
    --only) only=$2; shift ;;
    --random-ids) request_ids=random ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
if ((backlog > 0 && backlog <= 10000)); then
  echo "bench: --backlog needs more than 10000 records (the first 10000 are its RSS baseline)" >&2; exit 2
fi

bin_dir=${IICC_BENCH_BUILD:-build-bench}/bin
if ((build)); then
  scripts/setup.sh
  command -v nginx >/dev/null || { echo "bench: installing nginx"; apt-get install -y -qq nginx-light >/dev/null; }
  cmake -S . -B "${IICC_BENCH_BUILD:-build-bench}" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "${IICC_BENCH_BUILD:-build-bench}" -j "${IICC_JOBS:-$(nproc)}" \
    --target iicc-gateway iicc-loadgen iicc-echo-server iicc-echo-load
fi
for tool in iicc-gateway iicc-loadgen iicc-echo-server iicc-echo-load; do
  [ -x "$bin_dir/$tool" ] || { echo "bench: $bin_dir/$tool is missing: run without --no-build" >&2; exit 2; }
done
((soak > 0 || backlog > 0)) || case ",${only:-nginx-1hop}," in
  *,nginx-1hop,*) command -v nginx >/dev/null || { echo "bench: nginx is not installed: run without --no-build" >&2; exit 2; } ;;
esac

work=$(mktemp -d "${IICC_BENCH_DIR:-/var/tmp}/iicc-bench.XXXXXX")
declare -a started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
pki=$work/pki
certs/make-dev-pki.sh "$pki" >/dev/null

# A free loopback port, not handed out before in this run.
declare -A taken=()
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    [ -z "${taken[$port]:-}" ] || continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    taken[$port]=1
    echo "$port"
    return
  done
}
wait_port() {  # wait_port PORT PID: until something listens, or the process died
  local i
  for i in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
peak_rss_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
written() { awk '/^write_bytes:/ { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }  # bytes the process sent to disk
kib_per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) / 1024 / n }'; }  # kib_per BEFORE AFTER N

# --- the gateway pair ------------------------------------------------------
# The demo's configurations (gateway/config/), on fresh ports and data, with
# the per-identity rate limit lifted: the benchmark looks for the pair's own
# limit, not the configured one.
declare -A gw_pid=() gw_ministry=() gw_peer=() gw_admin=()
gateway_config() {  # gateway_config kz|uz RUN_DIR
  local side=$1 dir=$2 other
  other=$([ "$side" = kz ] && echo uz || echo kz)
  sed -e "s#certs/dev/#$pki/#g" \
      -e "s#build/demo/$side#$dir/$side#" \
      -e "s#gateway/config/#$root/gateway/config/#" \
      -e "s#127.0.0.1:$([ "$side" = kz ] && echo 50051 || echo 50052)\"#127.0.0.1:${gw_ministry[$side]}\"#" \
      -e "s#127.0.0.1:$([ "$side" = kz ] && echo 50061 || echo 50062)\"#127.0.0.1:${gw_peer[$side]}\"#" \
      -e "s#127.0.0.1:$([ "$side" = kz ] && echo 50062 || echo 50061)\"#127.0.0.1:${gw_peer[$other]}\"#" \
      -e "s#127.0.0.1:$([ "$side" = kz ] && echo 9101 || echo 9102)\"#127.0.0.1:${gw_admin[$side]}\"#" \
      -e "s#max_message_bytes: 4194304#max_message_bytes: 4194304\n  rate_limit { requests_per_second: 1000000 burst: 1000000 }#" \
      "gateway/config/$side.textproto" >"$dir/$side.textproto"
}
start_gateway() {  # start_gateway kz|uz RUN_DIR
  local side=$1 dir=$2
  env ${IICC_BENCH_PRELOAD:+LD_PRELOAD=$IICC_BENCH_PRELOAD} "$bin_dir/iicc-gateway" --config "$dir/$side.textproto" 2>>"$dir/$side.log" &
  gw_pid[$side]=$!
  started+=("$!")
  wait_port "${gw_ministry[$side]}" "${gw_pid[$side]}" && wait_port "${gw_peer[$side]}" "${gw_pid[$side]}" || {
    echo "bench: the $side gateway did not start; its log:" >&2
    tail -5 "$dir/$side.log" >&2
    exit 1
  }
}
start_pair() {  # start_pair RUN_DIR: fresh stores, fresh ports
  local side
  mkdir -p "$1"
  for side in kz uz; do
    gw_ministry[$side]=$(free_port) gw_peer[$side]=$(free_port) gw_admin[$side]=$(free_port)
  done
  for side in kz uz; do gateway_config "$side" "$1"; done
  start_gateway uz "$1"
  start_gateway kz "$1"
}
stop_pair() { stop_pid "${gw_pid[kz]}"; stop_pid "${gw_pid[uz]}"; }
loadgen() {  # loadgen ARGS...: KZ's ministry-client submits, UZ's reader receives
  "$bin_dir/iicc-loadgen" \
    --target "127.0.0.1:${gw_ministry[kz]}" --ca "$pki/kz/ca.crt" \
    --cert "$pki/kz/ministry-client.crt" --key "$pki/kz/ministry-client.key" \
    --subscribe-target "127.0.0.1:${gw_ministry[uz]}" --subscribe-ca "$pki/uz/ca.crt" \
    --subscribe-cert "$pki/uz/reader.crt" --subscribe-key "$pki/uz/reader.key" \
    --record tests/bench/typical_cargo.json --request-ids "$request_ids" --cpu-pids "${gw_pid[kz]},${gw_pid[uz]}" "$@"
}

# --- the baselines --------------------------------------------------------
# iicc-echo-server is the backend, as the UZ gateway would be; clients are KZ
# systems (tests/bench/echo/README.md).
echo_pid="" nginx_pid="" echo_port="" nginx_port=""
start_echo() {
  echo_port=$(free_port)
  "$bin_dir/iicc-echo-server" --listen "127.0.0.1:$echo_port" \
    --cert "$pki/uz/gateway.crt" --key "$pki/uz/gateway.key" --ca "$pki/kz/ca.crt" >/dev/null 2>"$work/echo.log" &
  echo_pid=$!
  started+=("$echo_pid")
  wait_port "$echo_port" "$echo_pid" || { echo "bench: iicc-echo-server did not start" >&2; exit 1; }
}
start_nginx() {
  nginx_port=$(free_port)
  local prefix=$work/nginx
  mkdir -p "$prefix"
  sed -e "s#@LISTEN@#127.0.0.1:$nginx_port#g" -e "s#@BACKEND@#127.0.0.1:$echo_port#g" \
      -e "s#@CERT@#$pki/kz/gateway.crt#g" -e "s#@KEY@#$pki/kz/gateway.key#g" -e "s#@CA@#$pki/kz/ca.crt#g" \
      -e "s#@UPSTREAM_CERT@#$pki/kz/gateway.crt#g" -e "s#@UPSTREAM_KEY@#$pki/kz/gateway.key#g" \
      -e "s#@UPSTREAM_CA@#$pki/uz/ca.crt#g" -e "s#@PREFIX@#$prefix#g" \
      tests/bench/echo/nginx.conf.in >"$prefix/nginx.conf"
  nginx -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf" &
  nginx_pid=$!
  started+=("$nginx_pid")
  wait_port "$nginx_port" "$nginx_pid" || { echo "bench: nginx did not start: $(cat "$prefix/error.log")" >&2; exit 1; }
}
# The pids of nginx's master and workers.
nginx_pids() { echo "$nginx_pid" $(pgrep -P "$nginx_pid"); }
cpu_ticks() { local pid total=0; for pid in "$@"; do total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0))); done; echo "$total"; }

# --- one measurement ---------------------------------------------------------
# Each prints one line of fields: rate p50_ms p99_ms [dp50_ms dp99_ms]
# cpu_client cpu_a cpu_b [rss_kz rss_uz], CPU in seconds per 1,000 records.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
cpu_of() { tr ',' '\n' <<<"$2" | sed -n "s/^$1://p"; }  # cpu_of NAME_OR_PID CPU_LIST
hz=$(getconf CLK_TCK)

run_echo() {  # run_echo unary|stream TARGET_PORT CA [PIDS...]: the echo load, directly or through nginx
  local mode=$1 port=$2 ca=$3 out before after
  shift 3
  before=$(cpu_ticks "$@")
  out=$("$bin_dir/iicc-echo-load" --target "127.0.0.1:$port" --mode "$mode" --inflight "$inflight" \
    --seconds "$seconds" --warmup "$warmup" --size 1024 \
    --cert "$pki/kz/ministry-client.crt" --key "$pki/kz/ministry-client.key" --ca "$ca") || {
    echo "bench: iicc-echo-load $mode failed: $out" >&2
    exit 1
  }
  after=$(cpu_ticks "$@")
  # The servers' CPU over the whole run (warm-up included), per 1,000 of
  # the echoes counted in its window scaled to the whole run.
  local count total_s
  count=$(field count "$out")
  echo "rate=$(field rate "$out") p50_ms=$(field p50_ms "$out") p99_ms=$(field p99_ms "$out")" \
    "cpu_server=$(awk -v t=$((after - before)) -v hz="$hz" -v c="$count" -v s="$seconds" -v w="$warmup" \
      'BEGIN { x = (c > 0) ? t / hz * 1000 / (c * (s + w) / s) : -1; printf "%.4f", x }')"
}

run_iicc() {  # run_iicc unary|stream N
  local dir=$work/iicc-$1-$2 out
  start_pair "$dir"
  out=$(loadgen --mode "$1" --inflight "$inflight" --seconds "$seconds" --warmup "$warmup" --run-id "$2") || {
    echo "bench: iicc-$1 run $2 failed: $out" >&2
    tail -3 "$dir/kz.log" "$dir/uz.log" >&2
    exit 1
  }
  local cpu
  cpu=$(field cpu_s_per_1000 "$out")
  echo "rate=$(field rate "$out") p50_ms=$(field ack_p50_ms "$out") p99_ms=$(field ack_p99_ms "$out")" \
    "dp50_ms=$(field delivery_p50_ms "$out") dp99_ms=$(field delivery_p99_ms "$out")" \
    "cpu_client=$(cpu_of self "$cpu") cpu_kz=$(cpu_of "${gw_pid[kz]}" "$cpu") cpu_uz=$(cpu_of "${gw_pid[uz]}" "$cpu")" \
    "rss_kz=$(peak_rss_mib "${gw_pid[kz]}") rss_uz=$(peak_rss_mib "${gw_pid[uz]}")"
  stop_pair
}

# --- the soak -----------------------------------------------------------------
if ((soak > 0)); then
  rate=${IICC_SOAK_RATE:-}
  if [ -z "$rate" ]; then
    echo "soak: measuring the maximum rate (iicc-unary, ${seconds}s)"
    max=$(field rate "$(run_iicc unary 0)")
    rate=$(awk -v m="$max" 'BEGIN { printf "%d", m / 2 }')
    echo "soak: maximum ${max} records/s; the soak runs at half: ${rate} records/s"
  fi
  dir=$work/soak
  start_pair "$dir"
  (
    while kill -0 "${gw_pid[kz]}" 2>/dev/null; do
      echo "$(date +%s) rss_kz=$(rss_mib "${gw_pid[kz]}") rss_uz=$(rss_mib "${gw_pid[uz]}")"
      sleep 10
    done
  ) >"$dir/rss.log" &
  started+=("$!")
  out=$(loadgen --mode unary --inflight 1024 --rate "$rate" --seconds "$soak" --warmup 5 --run-id soak \
    --intervals 60 2>"$dir/loadgen.err") || status=$?
  echo "soak: $out"
  # The delivery latency of each minute's records: a p99 made by a few slow
  # spells shows here, one made by a slow path does not.
  sed -n 's/^interval at=\([0-9]*\) /soak: minute from \1 s: /p' "$dir/loadgen.err"
  grep -v '^interval ' "$dir/loadgen.err" >&2 || true
  # RSS once a minute, then its range after the first minute (the warm-up
  # fills caches and pools; flat means no growth after that).
  awk '{ sub("rss_kz=", "", $2); sub("rss_uz=", "", $3) }
       NR % 6 == 1 { printf "soak: at %4d s: RSS KZ %s MiB, UZ %s MiB\n", (NR - 1) * 10, $2, $3 }
       NR > 6 { if (!n++) { k0 = k1 = $2; u0 = u1 = $3 }
                if ($2 < k0) k0 = $2; if ($2 > k1) k1 = $2; if ($3 < u0) u0 = $3; if ($3 > u1) u1 = $3 }
       END { printf "soak: RSS after the first minute: KZ %s to %s MiB, UZ %s to %s MiB\n", k0, k1, u0, u1 }' \
    "$dir/rss.log"
  stop_pair
  exit "${status:-0}"
fi

# --- the backlog ----------------------------------------------------------------
http_get() {  # http_get PORT PATH: the body of a plain HTTP GET on loopback
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3>&-
}
metric() { http_get "$1" /metrics | awk -v name="$2" '$1 == name { printf "%d", $2 }'; }  # metric ADMIN_PORT NAME
if ((backlog > 0)); then
  ((backlog >= 20000)) || { echo "bench: --backlog takes at least 20000 records" >&2; exit 2; }
  dir=$work/backlog
  start_pair "$dir"
  stop_pid "${gw_pid[uz]}"
  fill() {  # fill N RUN: N more records into KZ's outbox through SubmitStream
    "$bin_dir/iicc-loadgen" --target "127.0.0.1:${gw_ministry[kz]}" --ca "$pki/kz/ca.crt" \
      --cert "$pki/kz/ministry-client.crt" --key "$pki/kz/ministry-client.key" \
      --record tests/bench/typical_cargo.json --request-ids "$request_ids" --mode stream --inflight "$inflight" \
      --count "$1" --run-id "$2"
  }
  echo "backlog: UZ is down; queueing 10000 records at KZ"
  fill 10000 a
  rss_10k=$(rss_mib "${gw_pid[kz]}")
  echo "backlog: queueing $((backlog - 10000)) more"
  kz_written=$(written "${gw_pid[kz]}")
  fill $((backlog - 10000)) b
  rss_n=$(rss_mib "${gw_pid[kz]}")
  echo "backlog: KZ wrote $(kib_per "$kz_written" "$(written "${gw_pid[kz]}")" $((backlog - 10000))) KiB to disk per" \
    "record queued (its store and WAL)"
  depth=$(metric "${gw_admin[kz]}" iicc_outbox_depth)
  echo "backlog: KZ outbox depth $depth; KZ RSS ${rss_10k} MiB at 10000, ${rss_n} MiB at $backlog" \
    "(x$(awk -v a="$rss_n" -v b="$rss_10k" 'BEGIN { printf "%.2f", a / b }')); store $(du -sm "$dir/kz" | cut -f1) MiB"
  kz_written=$(written "${gw_pid[kz]}")
  start_gateway uz "$dir"
  # KZ finds UZ back at its next reconnection attempt, up to its backoff
  # (max_backoff 5 s, +-50% jitter) later: the drain is timed from the first
  # delivery, and the wait for the link is reported on its own.
  returned=$(date +%s.%N) begin="" remaining=$backlog
  while :; do
    depth=$(metric "${gw_admin[kz]}" iicc_outbox_depth)
    [ -z "$begin" ] && [ "${depth:-$backlog}" -lt "$backlog" ] && begin=$(date +%s.%N) remaining=$depth
    [ "${depth:-1}" -eq 0 ] && break
    kill -0 "${gw_pid[kz]}" 2>/dev/null || { echo "bench: the KZ gateway died" >&2; exit 1; }
    sleep 0.2
  done
  end=$(date +%s.%N)
  received=$(metric "${gw_admin[uz]}" iicc_inbox_sequence)
  echo "backlog: per record delivered, KZ wrote $(kib_per "$kz_written" "$(written "${gw_pid[kz]}")" "$backlog") KiB" \
    "and UZ $(kib_per 0 "$(written "${gw_pid[uz]}")" "$backlog") KiB to disk"
  # Timed from the first poll that saw the outbox shrink: the records gone
  # by then are not counted.
  echo "backlog: the link came back $(awk -v b="$returned" -v e="$begin" 'BEGIN { printf "%.1f", e - b }') s after UZ" \
    "started; then drained $remaining records in $(awk -v b="$begin" -v e="$end" 'BEGIN { printf "%.1f", e - b }') s:" \
    "$(awk -v b="$begin" -v e="$end" -v n="$remaining" 'BEGIN { printf "%.0f", n / (e - b) }') records/s" \
    "($(awk -v b="$returned" -v e="$end" -v n="$backlog" 'BEGIN { printf "%.0f", n / (e - b) }') records/s counting the wait);" \
    "UZ inbox sequence $received; peak RSS KZ $(peak_rss_mib "${gw_pid[kz]}") MiB, UZ $(peak_rss_mib "${gw_pid[uz]}") MiB"
  stop_pair
  [ "$received" -eq "$backlog" ] || { echo "bench: UZ received $received of $backlog" >&2; exit 1; }
  exit 0
fi

# --- the side-by-side runs ---------------------------------------------------
wanted() { case ",${only:-raw-unary,raw-stream,nginx-1hop,iicc-unary,iicc-stream}," in *",$1,"*) return 0 ;; esac; return 1; }
declare -A results=()
if wanted raw-unary || wanted raw-stream || wanted nginx-1hop; then
  start_echo
  wanted nginx-1hop && start_nginx
fi
echo "bench: $runs run(s) of ${seconds}s after ${warmup}s of warm-up, $inflight in flight, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for n in $(seq "$runs"); do
  if wanted raw-unary; then results[raw-unary/$n]=$(run_echo unary "$echo_port" "$pki/uz/ca.crt" "$echo_pid"); fi
  if wanted raw-stream; then results[raw-stream/$n]=$(run_echo stream "$echo_port" "$pki/uz/ca.crt" "$echo_pid"); fi
  if wanted nginx-1hop; then
    # shellcheck disable=SC2046
    results[nginx-1hop/$n]=$(run_echo unary "$nginx_port" "$pki/kz/ca.crt" "$echo_pid" $(nginx_pids))
  fi
  if wanted iicc-unary; then results[iicc-unary/$n]=$(run_iicc unary "$n"); fi
  if wanted iicc-stream; then results[iicc-stream/$n]=$(run_iicc stream "$n"); fi
  for name in raw-unary raw-stream nginx-1hop iicc-unary iicc-stream; do
    [ -n "${results[$name/$n]:-}" ] && echo "bench: $name run $n: ${results[$name/$n]}" >&2
  done
done

# median [min-max] of one field over the runs of a scenario
stat() {  # stat SCENARIO FIELD
  local n values=()
  for n in $(seq "$runs"); do values+=("$(field "$2" "${results[$1/$n]}")"); done
  printf '%s\n' "${values[@]}" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (NR == 1) printf "%s", m; else printf "%s [%s-%s]", m, v[1], v[NR] }'
}
median() { stat "$1" "$2" | cut -d' ' -f1; }

printf '\n| scenario | records/s | p50 ms | p99 ms | delivery p50 ms | delivery p99 ms | CPU s/1000: client | server or KZ | UZ | peak RSS MiB KZ / UZ |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for name in raw-unary raw-stream nginx-1hop iicc-unary iicc-stream; do
  wanted "$name" || continue
  case $name in
    iicc-*)
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$name" "$(stat "$name" rate)" \
        "$(median "$name" p50_ms)" "$(median "$name" p99_ms)" "$(median "$name" dp50_ms)" "$(median "$name" dp99_ms)" \
        "$(median "$name" cpu_client)" "$(median "$name" cpu_kz)" "$(median "$name" cpu_uz)" \
        "$(median "$name" rss_kz)" "$(median "$name" rss_uz)" ;;
    *)
      printf '| %s | %s | %s | %s | | | | %s | | |\n' "$name" "$(stat "$name" rate)" \
        "$(median "$name" p50_ms)" "$(median "$name" p99_ms)" "$(median "$name" cpu_server)" ;;
  esac
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
iu=$(wanted iicc-unary && median iicc-unary rate || true)
is=$(wanted iicc-stream && median iicc-stream rate || true)
ng=$(wanted nginx-1hop && median nginx-1hop rate || true)
rs=$(wanted raw-stream && median raw-stream rate || true)
echo
echo "ratios iicc_unary/nginx_1hop=$(ratio "$iu" "$ng") iicc_stream/raw_stream=$(ratio "$is" "$rs")"
