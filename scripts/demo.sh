#!/usr/bin/env bash
# The demo: builds, makes the dev PKI, starts the KZ and UZ gateways on
# loopback (gateway/config/*.textproto), sends records of each type each way
# with iicc-cli, prints what each side received and the final statuses, and
# stops both gateways.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh
certs/make-dev-pki.sh >/dev/null

demo_dir=build/demo
rm -rf "$demo_dir"
mkdir -p "$demo_dir"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cli() {  # cli kz|uz ARGS...
  local side=$1
  shift
  local port=50051
  [ "$side" = uz ] && port=50052
  build/bin/iicc-cli --target "127.0.0.1:$port" --ca "certs/dev/$side/ca.crt" \
    --cert "certs/dev/$side/ministry-client.crt" --key "certs/dev/$side/ministry-client.key" "$@"
}

say "Starting the KZ gateway (ministry :50051, peer :50061) and the UZ gateway (ministry :50052, peer :50062)"
for side in kz uz; do
  build/bin/iicc-gateway --config "gateway/config/$side.textproto" 2>"$demo_dir/$side.log" &
  pids+=($!)
done
for side in kz uz; do
  for _ in $(seq 100); do
    cli "$side" health >/dev/null 2>&1 && break
    sleep 0.1
  done
  cli "$side" health >/dev/null || { echo "the $side gateway did not start:"; cat "$demo_dir/$side.log"; exit 1; }
done
echo "both gateways serve"

declare -A record_ids
send() {  # send FROM EXAMPLE
  local from=$1 example=$2 out
  out=$(cli "$from" submit "clients/examples/$example.json")
  record_ids["$from-$example"]=$(sed -n 's/.*"record_id":"\([^"]*\)".*/\1/p' <<<"$out")
  printf '  %-3s %-11s -> record %s  %s\n' "${from^^}" "$example" "${record_ids[$from-$example]}" \
    "$(sed -n 's/.*"state":"\([^"]*\)".*/\1/p' <<<"$out")"
}

say "KZ ministry submits an enterprise, a cargo and an investment record"
for example in enterprise cargo investment; do send kz "$example"; done
say "UZ ministry submits the same three kinds"
for example in enterprise cargo investment; do send uz "$example"; done

say "Waiting for both sides' receipts"
for key in "${!record_ids[@]}"; do
  from=${key%%-*}
  for _ in $(seq 100); do
    cli "$from" status "${record_ids[$key]}" | grep -q DELIVERY_STATE_QUEUED || break
    sleep 0.1
  done
done

for side in uz kz; do
  say "What the ${side^^} ministry received (iicc-cli subscribe)"
  cli "$side" subscribe | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    kind, rec = next(iter(r["record"].items()))
    what = rec.get("consignment_id") or rec.get("project_id") or rec.get("name")
    origin = r["origin"].replace("JURISDICTION_", "")
    print("  #%3s  from %s  %-10s  %s  (record %s)" % (r["sequence"], origin, kind, what, r["record_id"]))
    person = rec.get("driver") or rec.get("director") or rec.get("contact") or {}
    if person:
        print("        person: name %s, id %s" % (person.get("full_name"), person.get("national_id", {}).get("value")))
    if kind == "cargo":
        print("        vehicle %s, goods %s" % (rec["vehicle"]["plate"], ", ".join(g["hs6"] for g in rec["goods"])))
    if kind == "enterprise":
        print("        contact phone %s" % rec.get("contact_phone", "(not sent: contact data stays home)"))
'
done

say "Final statuses (iicc-cli status)"
failed=0
for from in kz uz; do
  for example in enterprise cargo investment; do
    state=$(cli "$from" status "${record_ids[$from-$example]}" | sed -n 's/.*"state":"\([^"]*\)".*/\1/p')
    printf '  %-3s %-11s %s\n' "${from^^}" "$example" "$state"
    [ "$state" = DELIVERY_STATE_DELIVERED ] || failed=1
  done
done

say "What operators see (the admin face: /readyz and a few lines of /metrics)"
for side in kz uz; do
  port=9101
  [ "$side" = uz ] && port=9102
  python3 - "$side" "$port" <<'PY'
import sys, urllib.request, urllib.error
side, port = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s" % port
try:
    ready = urllib.request.urlopen(base + "/readyz", timeout=5).read().decode().strip()
except urllib.error.HTTPError as e:
    ready = "%d %s" % (e.code, e.read().decode().strip())
print("  %s %s/readyz: %s" % (side.upper(), base, ready))
for line in urllib.request.urlopen(base + "/metrics", timeout=5).read().decode().splitlines():
    if line.startswith(("iicc_records_delivered_total", "iicc_records_received_total", "iicc_peer_link_up",
                        "iicc_outbox_depth")) and not line.endswith(" 0"):
        print("    " + line)
PY
done

say "Stopping both gateways (SIGTERM)"
cleanup
pids=()
echo "logs: $demo_dir/kz.log $demo_dir/uz.log"
echo
echo "Each side's outbound policy pseudonymised the persons (ps:<key>:...), dropped contact data and birth"
echo "dates, and kept plates, goods and company ids: gateway/config/*.policy.textproto, docs/policy.md."
echo "Each record crossed signed, with a signed receipt: build/bin/iicc-cli export / verify (docs/security.md)."
echo "Runbook for operators: docs/operations.md."
exit "$failed"
