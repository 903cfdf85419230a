#!/usr/bin/env bash
# The demo: a guided scenario between the KZ and UZ gateways on loopback.
# Builds (unless --no-build), makes the dev PKI, starts both gateways
# (gateway/config/*.textproto) and tells, step by step, what happens to an
# enterprise, a cargo, an investment project, a forbidden cargo and records
# sent during a peer outage; then proves a receipt with only the CA
# certificates and checks both audit chains. Every step checks its outcome:
# the demo exits 1 if the story did not happen as told.
#
#   scripts/demo.sh             set up, build, run
#   scripts/demo.sh --no-build  run with the binaries already built
# IICC_BIN_DIR names the binaries' directory (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IICC_BIN_DIR:-build/bin}
# The demo's systems connect with their connection files only: settings left
# in this shell's environment (the README exports some) would win over them.
unset IICC_TARGET IICC_CA IICC_CERT IICC_KEY IICC_CONFIG

if [ "${1:-}" != --no-build ]; then
  scripts/setup.sh
  scripts/build.sh
fi
certs/make-dev-pki.sh >/dev/null

demo_dir=build/demo
rm -rf "$demo_dir"
mkdir -p "$demo_dir"
declare -A pids
stop() {  # stop kz|uz: SIGTERM, and wait for the exit
  local pid=${pids[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pids[$1]=""
}
trap 'stop kz; stop uz' EXIT

bold=$'\033[1m' dim=$'\033[2m' plain=$'\033[0m'
[ -t 1 ] || bold="" dim="" plain=""
step=0
chapter() { step=$((step + 1)); printf '\n%sStep %d. %s%s\n' "$bold" "$step" "$*" "$plain"; }
tell() { echo "$*" | fold -s -w 100 | sed 's/ *$//'; }  # tell TEXT...: one paragraph
show() { printf '%s  $ %s%s\n' "$dim" "$*" "$plain"; }
failed=0
check() {  # check DESCRIPTION COMMAND...: runs the command, prints ok or FAILED
  local what=$1
  shift
  if "$@"; then
    printf '  ok: %s\n' "$what"
  else
    printf '  FAILED: %s\n' "$what"
    failed=1
  fi
}

cli() {  # cli kz|uz ARGS...: iicc-cli as that side's ministry system
  local side=$1
  shift
  "$bin"/iicc-cli --config "clients/cli/$side-demo.conf" "$@"
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }  # field NAME < one JSON line

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }  # listening PORT
start() {  # start kz|uz: start the gateway and wait until it serves
  local port
  for port in $([ "$1" = kz ] && echo 50051 50061 9101 || echo 50052 50062 9102); do
    if listening "$port"; then
      echo "port $port is in use: is a gateway from an earlier run still up? (ss -ltnp | grep $port)"
      exit 1
    fi
  done
  "$bin"/iicc-gateway --config "gateway/config/$1.textproto" 2>>"$demo_dir/$1.log" &
  pids[$1]=$!
  for _ in $(seq 100); do
    if cli "$1" health >/dev/null 2>&1; then
      kill -0 "${pids[$1]}" 2>/dev/null && return 0
      break
    fi
    sleep 0.1
  done
  echo "the $1 gateway did not start; its log ($demo_dir/$1.log) ends:"
  tail -5 "$demo_dir/$1.log"
  exit 1
}

submit() {  # submit kz|uz FILE: prints the record id
  local out
  out=$(cli "$1" submit "$2") || { echo "submit $2 from $1 failed" >&2; exit 1; }
  field record_id <<<"$out"
}

wait_done() {  # wait_done kz|uz RECORD_ID: until it leaves QUEUED; prints the final status line
  local out
  for _ in $(seq 150); do
    out=$(cli "$1" status "$2")
    grep -q DELIVERY_STATE_QUEUED <<<"$out" || break
    sleep 0.1
  done
  printf '%s\n' "$out"
}

# Prints the inbound records of a side after a sequence number, as a reader
# would want to see them.
received() {  # received kz|uz AFTER
  cli "$1" subscribe --after "$2" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    kind, rec = next(iter(r["record"].items()))
    what = rec.get("name") or rec.get("consignment_id") or "project %s, %s" % (rec.get("project_id"), rec.get("sector"))
    print("  #%s %s from %s: %s" % (r["sequence"], kind, r["origin"].replace("JURISDICTION_", ""), what))
    person = rec.get("driver") or rec.get("director") or rec.get("contact")
    if person:
        role = "driver" if "driver" in rec else "director" if "director" in rec else "contact"
        print("     %s: name %s" % (role, person.get("full_name")))
        print("     %s: id %s" % (role, person.get("national_id", {}).get("value")))
        print("     %s: birth date %s, address %s" % (role, person.get("birth_date", "(not sent)"),
                                                     person.get("address", "(not sent)")))
    if kind == "cargo":
        print("     vehicle %s; goods %s" % (rec["vehicle"]["plate"], ", ".join(g["hs6"] for g in rec["goods"])))
    if kind == "enterprise":
        print("     contact phone %s, email %s" % (rec.get("contact_phone", "(not sent)"),
                                                rec.get("contact_email", "(not sent)")))
'
}
last_sequence() {  # last_sequence kz|uz: the inbox's last sequence number, 0 when empty
  local last
  last=$(cli "$1" subscribe | tail -1 | sed -n 's/.*"sequence":"\{0,1\}\([0-9]*\).*/\1/p')
  echo "${last:-0}"
}

printf '%sIICC Exchange: two gateways, one at each end of the Kazakhstan-Uzbekistan border%s\n' "$bold" "$plain"
tell "KZ's gateway serves its ministry on 127.0.0.1:50051 and UZ's on 127.0.0.1:50052; they talk to each other on" \
  ":50061 and :50062, both with mutual TLS. Each ministry system here is iicc-cli with a connection file" \
  "(clients/cli/kz-demo.conf, uz-demo.conf). The records are in clients/examples/."
start kz
start uz
echo "  both gateways serve (logs: $demo_dir/kz.log, $demo_dir/uz.log)"

# --- 1 ---
chapter "An enterprise registered in the UZ section"
tell "UZ's ministry registers Gulistan Textile Cluster LLC (clients/examples/enterprise.json) and shares it with KZ."
show "iicc-cli --config clients/cli/uz-demo.conf submit clients/examples/enterprise.json"
enterprise_id=$(submit uz clients/examples/enterprise.json)
echo "  accepted by UZ's gateway as record $enterprise_id; waiting for KZ's receipt"
status=$(wait_done uz "$enterprise_id")
check "delivered to KZ, with KZ's signed receipt" grep -q DELIVERY_STATE_DELIVERED <<<"$status"
tell "What KZ's ministry received (iicc-cli subscribe): UZ's policy pseudonymised the director and kept the" \
  "company's identity; contact data stayed in Uzbekistan."
kz_received=$(received kz 0)
printf '%s\n' "$kz_received"
check "the director arrived pseudonymised, name and PINFL" \
  test "$(grep -c 'director: \(name\|id\) ps:uz-' <<<"$kz_received")" = 2
check "no contact phone or e-mail crossed" grep -q "contact phone (not sent), email (not sent)" <<<"$kz_received"
kz_cursor=$(last_sequence kz)

# --- 2 ---
chapter "A cargo from KZ to UZ through Atameken"
tell "A truck of wheat leaves for Uzbekistan (clients/examples/cargo.json). KZ's customs declare it with its driver."
cargo_id=$(submit kz clients/examples/cargo.json)
status=$(wait_done kz "$cargo_id")
check "delivered to UZ" grep -q DELIVERY_STATE_DELIVERED <<<"$status"
tell "At the Gulistan side, UZ sees the vehicle and the goods it must control, and a driver it can follow from one" \
  "crossing to the next without learning who he is: his name and IIN arrive as keyed pseudonyms (ps:<key>:...)," \
  "his birth date and address not at all."
uz_received=$(received uz 0)
printf '%s\n' "$uz_received"
check "the driver arrived pseudonymised, name and IIN" \
  test "$(grep -c 'driver: \(name\|id\) ps:kz-' <<<"$uz_received")" = 2
check "no birth date or address crossed" grep -q "driver: birth date (not sent), address (not sent)" <<<"$uz_received"
check "the plate and the goods crossed for control" grep -q "vehicle 123ABC02; goods 100190" <<<"$uz_received"
uz_cursor=$(last_sequence uz)

# --- 3 ---
chapter "An investment project"
tell "UZ shares a Kazakh company's spinning and knitting project in the UZ section (clients/examples/investment-uz.json)."
investment_id=$(submit uz clients/examples/investment-uz.json)
status=$(wait_done uz "$investment_id")
check "delivered to KZ" grep -q DELIVERY_STATE_DELIVERED <<<"$status"
received kz "$kz_cursor"
kz_cursor=$(last_sequence kz)

# --- 4 ---
chapter "A forbidden cargo, refused by the receiving side"
tell "A consignment of hunting shotguns (HS 930320, clients/examples/refused/cargo-arms.json) is declared at" \
  "Atameken. Kazakhstan's outbound policy lets it leave, so KZ's gateway accepts it; Uzbekistan's inbound policy" \
  "refuses HS chapter 93 without a licence exchange, and UZ's gateway says so in a signed receipt."
arms_id=$(submit kz clients/examples/refused/cargo-arms.json)
status=$(wait_done kz "$arms_id")
check "rejected by UZ" grep -q DELIVERY_STATE_REJECTED <<<"$status"
echo "  reason given by UZ: $(field reason <<<"$status")"
check "for the reason of its policy" grep -q "HS chapter 93 requires a licence exchange" <<<"$(field reason <<<"$status")"
check "nothing reached UZ's ministry" test "$(last_sequence uz)" = "$uz_cursor"

# --- 5 ---
chapter "A peer outage: records queue, then drain"
tell "UZ's gateway stops (SIGTERM, as for maintenance). KZ's ministry keeps working: its gateway stores each" \
  "record durably, answers at once, and keeps it until UZ signs for it."
uz_pid=${pids[uz]}
stop uz
check "UZ's gateway has stopped" bash -c '! kill -0 "$1" 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/50062) 2>/dev/null' \
  _ "$uz_pid"
queued=()
for file in clients/examples/enterprise-kz.json clients/examples/investment.json; do
  id=$(submit kz "$file")
  queued+=("$id")
  state=$(cli kz status "$id" | field state)
  printf '  %-36s -> %s %s\n' "$file" "$id" "$state"
  check "accepted and queued while UZ is down" test "$state" = DELIVERY_STATE_QUEUED
done
sleep 1.5  # the link's state and the outbox age are sampled every 200 ms to 2 s
check "KZ's /status shows the link down and the backlog" python3 - <<'PY'
import json, sys, urllib.request
status = json.load(urllib.request.urlopen("http://127.0.0.1:9101/status", timeout=5))
link_up = status.get("peer", {}).get("link_up", False)
depth = int(status["outbox"]["depth"])
print("  KZ's /status: peer link %s, outbox depth %d, oldest undelivered record %.1f s old" % (
    "up" if link_up else "down", depth, status["outbox"].get("oldest_undelivered_age_seconds", 0)))
sys.exit(0 if not link_up and depth >= 2 else 1)
PY
tell "UZ's gateway comes back; KZ's forwarder sends the backlog in order."
start uz
for id in "${queued[@]}"; do
  check "record $id delivered after the outage" grep -q DELIVERY_STATE_DELIVERED <<<"$(wait_done kz "$id")"
done
received uz "$uz_cursor"

# --- 6 ---
chapter "A receipt verified with nothing but the two CA certificates"
tell "Anyone can check that the cargo of step 2 left Kazakhstan as signed and that Uzbekistan's gateway received" \
  "it: export its evidence (the signed envelope and the signed receipt) from KZ's database, and verify it."
show "iicc-cli export $cargo_id --db $demo_dir/kz/gateway.db --out $demo_dir/cargo-evidence.json"
"$bin"/iicc-cli export "$cargo_id" --db "$demo_dir/kz/gateway.db" --out "$demo_dir/cargo-evidence.json" 2>&1 |
  sed 's/^/  /'
show "iicc-cli verify $demo_dir/cargo-evidence.json --ca kz.iicc=certs/dev/kz/ca.crt --ca uz.iicc=certs/dev/uz/ca.crt"
if "$bin"/iicc-cli verify "$demo_dir/cargo-evidence.json" --ca kz.iicc=certs/dev/kz/ca.crt \
  --ca uz.iicc=certs/dev/uz/ca.crt | sed 's/^/  /'; then
  printf '  ok: %s\n' "the receipt is proven"
else
  printf '  FAILED: %s\n' "the receipt did not verify"
  failed=1
fi

# --- 7 ---
chapter "The audit chains, checked"
tell "Each gateway writes every decision into a hash chain; editing any entry breaks every link after it."
stop kz
stop uz
for side in kz uz; do
  show "iicc-cli audit verify $demo_dir/$side/gateway.db"
  if out=$("$bin"/iicc-cli audit verify "$demo_dir/$side/gateway.db"); then
    printf '  ok: %s: %s\n' "${side^^}" "$out"
  else
    printf '  FAILED: %s: %s\n' "${side^^}" "$out"
    failed=1
  fi
done

echo
if [ "$failed" = 0 ]; then
  printf '%sThe story happened as told.%s\n' "$bold" "$plain"
else
  printf '%sSome steps did not happen as told: see FAILED above and the logs in %s.%s\n' "$bold" "$demo_dir" "$plain"
fi
tell "Next: the policies (gateway/config/*.policy.textproto, docs/policy.md), connecting a ministry system" \
  "(docs/integration.md, clients/python/), running a gateway (docs/operations.md)."
exit "$failed"
