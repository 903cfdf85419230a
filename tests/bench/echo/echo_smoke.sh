#!/usr/bin/env bash
# echo_bench_smoke (ctest, label bench): the benchmark baseline still works.
# Makes a dev PKI, starts iicc-echo-server on a free port, and runs
# iicc-echo-load for a second in each mode; each run must exit 0 having
# counted echoes and no error. When nginx is installed, the same through
# nginx with nginx.conf.in (checked with `nginx -t` first); otherwise that
# part is skipped. Everything started is stopped on exit.
#
#   echo_smoke.sh BIN_DIR      (run from the source tree's root)
set -euo pipefail

bin=${1:?usage: echo_smoke.sh BIN_DIR}
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd -- "$here/../../.." && pwd -P)

work=$(mktemp -d "${TMPDIR:-/tmp}/iicc-echo-smoke.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "echo_smoke: FAILED: $*" >&2
  exit 1
}

# The pairing README.md documents: the backend is the UZ gateway and trusts
# the KZ CA's clients; clients trust the CA of whoever they talk to.
"$root/certs/make-dev-pki.sh" "$work/pki" >/dev/null
pki=$work/pki

"$bin/iicc-echo-server" --listen 127.0.0.1:0 \
  --cert "$pki/uz/gateway.crt" --key "$pki/uz/gateway.key" --ca "$pki/kz/ca.crt" \
  >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
port=''
for _ in $(seq 100); do
  port=$(sed -n 's/^iicc-echo-server: listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
  [[ -n $port ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || fail "iicc-echo-server exited: $(cat "$work/server.err")"
  sleep 0.1
done
[[ -n $port ]] || fail "iicc-echo-server did not say where it listens"

# load NAME TARGET CERT KEY CA MODE: one second of load; it must succeed.
load() {
  local name=$1 target=$2 cert=$3 key=$4 ca=$5 mode=$6 out status=0
  out=$("$bin/iicc-echo-load" --target "$target" --cert "$cert" --key "$key" --ca "$ca" \
    --mode "$mode" --seconds 1 --warmup 0.2 --inflight 8 --size 1024 2>"$work/load.err") || status=$?
  echo "$name $mode: $out"
  ((status == 0)) || fail "$name $mode: iicc-echo-load exited with $status: $(cat "$work/load.err")"
  [[ $out =~ ^rate=[0-9]+\.[0-9]\ p50_ms=[0-9]+\.[0-9]{3}\ p99_ms=[0-9]+\.[0-9]{3}\ count=([0-9]+)\ errors=0$ ]] ||
    fail "$name $mode: unexpected output: $out"
  ((BASH_REMATCH[1] > 0)) || fail "$name $mode: no echo counted"
}

for mode in unary stream; do
  load direct "127.0.0.1:$port" "$pki/kz/ministry-client.crt" "$pki/kz/ministry-client.key" "$pki/uz/ca.crt" "$mode"
done

if ! command -v nginx >/dev/null; then
  echo "echo_smoke: nginx is not installed: skipped the runs through nginx"
  exit 0
fi

# nginx, seen by clients as the KZ gateway (KZ CA both ways), presents the KZ
# gateway's certificate to the backend as its client certificate. It cannot
# listen on port 0: take a port the kernel hands out free, and try another if
# someone takes it first.
prefix=$work/nginx
mkdir -p -- "$prefix"
nginx_port=''
for _ in 1 2 3; do
  candidate=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed -e "s|@LISTEN@|127.0.0.1:$candidate|g" -e "s|@BACKEND@|127.0.0.1:$port|g" \
    -e "s|@CERT@|$pki/kz/gateway.crt|g" -e "s|@KEY@|$pki/kz/gateway.key|g" -e "s|@CA@|$pki/kz/ca.crt|g" \
    -e "s|@UPSTREAM_CERT@|$pki/kz/gateway.crt|g" -e "s|@UPSTREAM_KEY@|$pki/kz/gateway.key|g" \
    -e "s|@UPSTREAM_CA@|$pki/uz/ca.crt|g" -e "s|@PREFIX@|$prefix|g" \
    "$here/nginx.conf.in" >"$prefix/nginx.conf"
  grep -v '^ *#' "$prefix/nginx.conf" | grep -q '@[A-Z_]*@' && fail "a placeholder of nginx.conf.in is not replaced"
  nginx -t -q -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf" ||
    fail "nginx -t refused the configuration"
  nginx -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf" 2>>"$prefix/error.log" &
  nginx_pid=$!
  for _ in $(seq 50); do
    [[ -s $prefix/nginx.pid ]] && break
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$nginx_pid" 2>/dev/null; then
    pids+=("$nginx_pid")
    nginx_port=$candidate
    break
  fi
  grep -q 'Address already in use' "$prefix/error.log" || fail "nginx did not start: $(cat "$prefix/error.log")"
done
[[ -n $nginx_port ]] || fail "nginx found no free port"

for mode in unary stream; do
  load nginx "127.0.0.1:$nginx_port" "$pki/kz/ministry-client.crt" "$pki/kz/ministry-client.key" "$pki/kz/ca.crt" \
    "$mode"
done
