#!/usr/bin/env bash
# Development PKI for IICC Exchange: two independent CAs, KZ and UZ, standing
# in for the national roots. NEVER use these keys or certificates in
# production. See certs/README.md.
#
#   make-dev-pki.sh [DIR]
#   make-dev-pki.sh --issue DIR/<side> NAME SPIFFE_ID [PROFILE [NOT_BEFORE NOT_AFTER]]
#   make-dev-pki.sh --revoke DIR/<side> NAME [CRL_SECONDS]
#   make-dev-pki.sh --crl DIR/<side> [CRL_SECONDS]
#
# Requires the OpenSSL 3 command line tool.
set -euo pipefail

readonly SIDES=(kz uz)
readonly LEAVES=(gateway ministry-client signing checkpoint reader revoked-client)
readonly CA_DAYS=3650   # 10 years
readonly LEAF_DAYS=825
readonly CRL_SECONDS=$((30 * 24 * 3600))   # ca.crl's nextUpdate: 30 days
# expired-client's validity, in the past (openssl ca -startdate/-enddate).
readonly EXPIRED_FROM=20200101000000Z
readonly EXPIRED_UNTIL=20210101000000Z

prog=${0##*/}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

usage() {
  cat <<EOF
Usage:
  $prog [DIR]
      Create, or complete, the kz and uz development PKI in DIR
      (default: $script_dir/dev). Files already present are kept.
  $prog --issue DIR/<side> NAME SPIFFE_ID [PROFILE [NOT_BEFORE NOT_AFTER]]
      Issue DIR/<side>/NAME.crt and NAME.key from that side's CA.
      PROFILE: serverAuth, clientAuth (the default), both, signing (an
      envelope-signing certificate) or noEKU (no extended key usage).
      NOT_BEFORE NOT_AFTER (YYYYMMDDHHMMSSZ, UTC) date it, e.g. in the past
      or the future. SPIFFE_ID may list several URIs separated by commas
      (for tests of refusals). Replaces an existing NAME.
  $prog --revoke DIR/<side> NAME [CRL_SECONDS]
      Revoke DIR/<side>/NAME.crt and write that side's ca.crl again.
  $prog --crl DIR/<side> [CRL_SECONDS]
      Write DIR/<side>/ca.crl again, valid for CRL_SECONDS (default: 30 days).
  $prog --help
EOF
}

hint=''   # appended to errors, e.g. how to recover
die() { echo "$prog: $*${hint:+ $hint}" >&2; exit 1; }
bad_usage() { echo "$prog: $*" >&2; usage >&2; exit 2; }

# ---------------------------------------------------------------- plumbing --

umask 077   # keys, and every temporary file, are created 0600

work=''
staged=()
issued_now=' '   # " DIR/NAME.crt ... ": the key pairs this run made
cleanup() {
  if ((${#staged[@]})); then rm -f -- "${staged[@]}"; fi
  if [[ -n $work ]]; then rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup() {
  command -v openssl >/dev/null || die "openssl not found (OpenSSL 3 is required)"
  local version
  version=$(openssl version)
  [[ $version =~ ^OpenSSL\ ([3-9]|[1-9][0-9]+)\. ]] ||
    die "OpenSSL 3 or later is required, found: $version"
  work=$(mktemp -d "${TMPDIR:-/tmp}/iicc-pki.XXXXXX")
  # Self-contained configuration for `openssl req`: the system openssl.cnf
  # plays no part in what is issued.
  cat >"$work/req.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
}

# Run openssl quietly; on failure show what it said and stop.
ossl() {
  if ! openssl "$@" >"$work/openssl.log" 2>&1; then
    echo "$prog: openssl $1 failed${hint:+ $hint}:" >&2
    sed 's/^/  /' "$work/openssl.log" >&2
    exit 1
  fi
}

# place SRC DEST MODE: install SRC as DEST by a rename inside DEST's
# directory, so that DEST is never seen half-written.
place() {
  local tmp
  tmp=$(mktemp "$(dirname -- "$2")/.${2##*/}.XXXXXX")
  staged+=("$tmp")
  cat -- "$1" >"$tmp"
  chmod "$3" "$tmp"
  mv -f -- "$tmp" "$2"
}

genkey() {
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# 16 random bytes in hex, a certificate serial number.
random_hex() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }   # bash 3.2 has no ${x^^}

subject() {  # subject SIDE_DIR CN
  local side
  side=$(upper "$(basename -- "$1")")
  printf '/O=IICC Exchange/OU=%s Development/CN=%s' "$side" "$2"
}

# ------------------------------------------------------------------ issuing --

# The CA database `openssl ca` keeps in SIDE_DIR/ca-db (for ca.crl and for
# dated certificates): created if missing. Writes $work/ca.cnf for the side.
ca_database() {  # ca_database SIDE_DIR
  local sdir=$1 db="$1/ca-db"
  if [[ ! -f $db/index.txt ]]; then
    mkdir -p -- "$db/certs"
    : >"$db/index.txt"
    random_hex >"$db/serial"
    echo 1000 >"$db/crlnumber"
  fi
  cat >"$work/ca.cnf" <<EOF
[ ca ]
default_ca = dev_ca
[ dev_ca ]
database = $db/index.txt
new_certs_dir = $db/certs
serial = $db/serial
crlnumber = $db/crlnumber
certificate = $sdir/ca.crt
private_key = $sdir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}

# write_crl SIDE_DIR [SECONDS]: the side's ca.crl (PEM), listing every
# certificate its CA database holds as revoked.
write_crl() {
  local sdir=$1 seconds=${2:-$CRL_SECONDS}
  ca_database "$sdir"
  ossl ca -batch -config "$work/ca.cnf" -gencrl -crlexts crl_ext -crlsec "$seconds" -out "$work/ca.crl"
  place "$work/ca.crl" "$sdir/ca.crl" 0644
}

# revoke SIDE_DIR NAME: NAME.crt is revoked in the side's CA database (the
# caller writes ca.crl afterwards).
revoke() {
  ca_database "$1"
  ossl ca -batch -config "$work/ca.cnf" -revoke "$1/$2.crt" -crl_reason keyCompromise
}

# is_revoked SIDE_DIR NAME: the CA database lists NAME.crt as revoked.
is_revoked() {
  local serial
  [[ -f $1/ca-db/index.txt ]] || return 1
  serial=$(openssl x509 -in "$1/$2.crt" -noout -serial 2>/dev/null) || return 1
  serial=${serial#serial=}
  awk -F'\t' -v s="$serial" '$1 == "R" && toupper($4) == toupper(s) { found = 1 } END { exit !found }' \
    "$1/ca-db/index.txt"
}

make_ca() {  # make_ca SIDE_DIR
  local sdir=$1 side subj serial
  side=$(upper "$(basename -- "$sdir")")
  subj=$(subject "$sdir" "IICC $side Development CA")
  serial=$(random_hex)
  genkey "$work/ca.key"
  ossl req -x509 -new -config "$work/req.cnf" -extensions v3_ca \
    -key "$work/ca.key" -subj "$subj" \
    -sha256 -days "$CA_DAYS" -set_serial "0x$serial" -out "$work/ca.crt"
  place "$work/ca.key" "$sdir/ca.key" 0600
  place "$work/ca.crt" "$sdir/ca.crt" 0644
}

# issue_leaf SIDE_DIR NAME PROFILE URI[,URI...] [NOT_BEFORE NOT_AFTER]
#   PROFILE: serverAuth | clientAuth | both (TLS), signing (envelopes), or
#   noEKU (TLS key usage without any extended key usage: refused by the
#   gateways). Certificates used as TLS servers also name localhost and
#   127.0.0.1. With dates, `openssl ca` issues it (recorded in the CA
#   database) valid from NOT_BEFORE to NOT_AFTER.
issue_leaf() {
  local sdir=$1 name=$2 profile=$3 uris=$4 not_before=${5-} not_after=${6-} subj serial
  local ku='critical, digitalSignature' eku='' san="URI:${uris//,/, URI:}"
  local local_names='DNS:localhost, IP:127.0.0.1'
  case $profile in
    serverAuth) eku='serverAuth';             san="$local_names, $san" ;;
    clientAuth) eku='clientAuth' ;;
    both)       eku='serverAuth, clientAuth'; san="$local_names, $san" ;;
    signing)    ku='critical, digitalSignature, nonRepudiation' ;;
    noEKU)      ;;
    *) die "unknown certificate profile: $profile" ;;
  esac
  {
    echo '[ leaf ]'
    echo 'basicConstraints = CA:FALSE'
    echo "keyUsage = $ku"
    if [[ -n $eku ]]; then echo "extendedKeyUsage = $eku"; fi
    echo "subjectAltName = $san"
    echo 'subjectKeyIdentifier = hash'
    echo 'authorityKeyIdentifier = keyid:always'
  } >"$work/leaf.ext"
  subj=$(subject "$sdir" "$name")
  # One openssl run per certificate where possible: tests make a PKI each.
  local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/leaf.key")
  if [[ -n $not_before ]]; then
    ossl req -new -config "$work/req.cnf" "${newkey[@]}" -subj "$subj" -out "$work/leaf.csr"
    ca_database "$sdir"
    ossl ca -batch -config "$work/ca.cnf" -in "$work/leaf.csr" -notext -preserveDN \
      -startdate "$not_before" -enddate "$not_after" \
      -extfile "$work/leaf.ext" -extensions leaf -out "$work/leaf.crt"
  else
    serial=$(random_hex)
    cat "$work/req.cnf" "$work/leaf.ext" >"$work/leaf.cnf"
    ossl req -x509 -new -config "$work/leaf.cnf" -extensions leaf "${newkey[@]}" -subj "$subj" \
      -CA "$sdir/ca.crt" -CAkey "$sdir/ca.key" \
      -sha256 -days "$LEAF_DAYS" -set_serial "0x$serial" -out "$work/leaf.crt"
  fi
  place "$work/leaf.key" "$sdir/$name.key" 0600
  place "$work/leaf.crt" "$sdir/$name.crt" 0644
  issued_now+="$sdir/$name.crt "
}

# ---------------------------------------------------------------- checking --

warn_if_key_readable() {
  local mode
  mode=$(stat -c %a -- "$1" 2>/dev/null || stat -f %Lp -- "$1")
  if [[ ${mode: -2} != 00 ]]; then
    echo "$prog: warning: $1 has mode $mode, expected 600" >&2
  fi
}

# check_cert SIDE_DIR NAME [URI[,URI...]]: NAME.key is the private key of
# NAME.crt, and NAME.crt carries exactly these URI SANs (normally one).
check_cert() {
  local crt="$1/$2.crt" key="$1/$2.key" info pub uris expected
  warn_if_key_readable "$key"
  info=$(openssl x509 -in "$crt" -noout -pubkey -ext subjectAltName 2>/dev/null) ||
    die "$crt: not a certificate"
  # A pair this run made together needs no comparison (and tests make a PKI
  # each: every openssl run counts).
  if [[ $issued_now != *" $crt "* ]]; then
    pub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || die "$key: not a private key"
    [[ $info == *"$pub"* ]] || die "$key does not belong to $crt"
  fi
  if (($# > 2)); then
    uris=$(grep -o 'URI:[^,[:space:]]*' <<<"$info" | tr '\n' ' ' || true)
    expected="URI:${3//,/ URI:} "
    [[ $uris == "$expected" ]] || die "$crt: expected the URI SAN ${expected% }, found: ${uris:-none}"
  fi
}

# check_crl SIDE_DIR: ca.crl is signed by the side's CA and current, lists
# revoked-client and not the gateway.
check_crl() {
  local sdir=$1 out
  ossl verify -crl_check -CAfile "$sdir/ca.crt" -CRLfile "$sdir/ca.crl" "$sdir/gateway.crt"
  if out=$(openssl verify -crl_check -CAfile "$sdir/ca.crt" -CRLfile "$sdir/ca.crl" \
      "$sdir/revoked-client.crt" 2>&1) || [[ $out != *"certificate revoked"* ]]; then
    die "$sdir/ca.crl does not list revoked-client.crt as revoked"
  fi
}

# check_chain SIDE_DIR PURPOSE NAME...: each NAME.crt chains to the side's
# CA and is good for PURPOSE (any, sslserver, sslclient).
check_chain() {
  local sdir=$1 purpose=$2 name crts=()
  shift 2
  for name in "$@"; do crts+=("$sdir/$name.crt"); done
  ossl verify -x509_strict -purpose "$purpose" -CAfile "$sdir/ca.crt" "${crts[@]}"
}

check_side() {  # check_side SIDE_DIR SIDE
  local sdir=$1 side=$2
  check_cert "$sdir" ca
  check_cert "$sdir" gateway "spiffe://$side.iicc/gateway"
  check_cert "$sdir" ministry-client "spiffe://$side.iicc/ministry/ministry-client"
  check_cert "$sdir" signing "spiffe://$side.iicc/gateway"
  check_chain "$sdir" any signing
  check_chain "$sdir" sslserver gateway
  check_cert "$sdir" checkpoint "spiffe://$side.iicc/ministry/checkpoint"
  check_cert "$sdir" reader "spiffe://$side.iicc/ministry/reader"
  check_cert "$sdir" revoked-client "spiffe://$side.iicc/ministry/revoked-client"
  check_cert "$sdir" expired-client "spiffe://$side.iicc/ministry/expired-client"
  check_chain "$sdir" sslclient gateway ministry-client checkpoint reader revoked-client
  check_crl "$sdir"
  warn_if_key_readable "$sdir/pseudonym.key"
  [[ $(<"$sdir/pseudonym.key") =~ ^[0-9a-f]{64}$ ]] ||
    die "$sdir/pseudonym.key is not 32 hex-encoded bytes"
}

# -------------------------------------------------------------------- modes --

generate_side() {  # generate_side DIR SIDE
  local sdir="$1/$2" side=$2 name created=() fresh=0 crl=0
  (umask 022 && mkdir -p -- "$sdir")   # certificates are public
  if [[ ! -s $sdir/ca.crt || ! -s $sdir/ca.key ]]; then
    rm -rf -- "$sdir/ca-db"   # The old CA's database.
    make_ca "$sdir"
    created+=(CA)
    fresh=1
  fi
  for name in "${LEAVES[@]}"; do
    if ((fresh)) || [[ ! -s $sdir/$name.crt || ! -s $sdir/$name.key ]]; then
      case $name in
        gateway)         issue_leaf "$sdir" "$name" both "spiffe://$side.iicc/gateway" ;;
        ministry-client) issue_leaf "$sdir" "$name" clientAuth "spiffe://$side.iicc/ministry/$name" ;;
        signing)         issue_leaf "$sdir" "$name" signing "spiffe://$side.iicc/gateway" ;;
        checkpoint|reader|revoked-client)
                         issue_leaf "$sdir" "$name" clientAuth "spiffe://$side.iicc/ministry/$name" ;;
        *)               die "internal error: no profile for $name" ;;
      esac
      created+=("$name")
    fi
  done
  if ((fresh)) || [[ ! -s $sdir/expired-client.crt || ! -s $sdir/expired-client.key ]]; then
    issue_leaf "$sdir" expired-client clientAuth "spiffe://$side.iicc/ministry/expired-client" \
      "$EXPIRED_FROM" "$EXPIRED_UNTIL"
    created+=(expired-client)
  fi
  if ! is_revoked "$sdir" revoked-client; then
    revoke "$sdir" revoked-client
    crl=1
  fi
  # A missing ca.crl is written; so is one that no longer verifies (expired).
  if ((crl)) || [[ ! -s $sdir/ca.crl ]] ||
      ! openssl verify -crl_check -CAfile "$sdir/ca.crt" -CRLfile "$sdir/ca.crl" "$sdir/gateway.crt" \
        >/dev/null 2>&1; then
    write_crl "$sdir"
    created+=(ca.crl)
  fi
  if ((fresh)) || [[ ! -s $sdir/pseudonym.key ]]; then
    ossl rand -hex -out "$work/pseudonym.key" 32
    place "$work/pseudonym.key" "$sdir/pseudonym.key" 0600
    created+=(pseudonym)
  fi
  hint="(delete $sdir to regenerate this side)"
  check_side "$sdir" "$side"
  hint=''
  if ((${#created[@]})); then
    echo "$side: issued ${created[*]} in $sdir"
  else
    echo "$side: present in $sdir"
  fi
}

issue_mode() {  # issue_mode SIDE_DIR NAME SPIFFE_ID [PROFILE [NOT_BEFORE NOT_AFTER]]
  local sdir=$1 name=$2 uris=$3 profile=${4:-clientAuth} not_before=${5-} not_after=${6-} uri
  local uri_re='^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9._~:/?@!&()*+=%-]+$'
  local date_re='^[0-9]{14}Z$'
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || bad_usage "bad NAME: $name"
  [[ $name != ca && $name != pseudonym ]] || bad_usage "NAME may not be $name"
  IFS=, read -r -a uri_list <<<"$uris"
  ((${#uri_list[@]})) || bad_usage "bad SPIFFE_ID: $uris"
  for uri in "${uri_list[@]}"; do
    [[ $uri =~ $uri_re ]] || bad_usage "bad SPIFFE_ID: $uri"
  done
  case $profile in
    serverAuth|clientAuth|both|signing|noEKU) ;;
    *) bad_usage "bad key usage: $profile (serverAuth, clientAuth, both, signing or noEKU)" ;;
  esac
  if [[ -n $not_before ]]; then
    [[ $not_before =~ $date_re && $not_after =~ $date_re ]] ||
      bad_usage "NOT_BEFORE and NOT_AFTER are YYYYMMDDHHMMSSZ"
  fi
  [[ -f $sdir/ca.crt && -f $sdir/ca.key ]] ||
    die "no CA in $sdir (run $prog first)"
  setup
  issue_leaf "$sdir" "$name" "$profile" "$uris" "$not_before" "$not_after"
  check_cert "$sdir" "$name" "$uris"
  if [[ -n $not_before ]]; then   # Dated: maybe not valid now.
    echo "$(basename -- "$sdir"): issued $name ($profile, $uris, $not_before to $not_after) in $sdir"
    return
  fi
  case $profile in
    serverAuth) check_chain "$sdir" sslserver "$name" ;;
    clientAuth) check_chain "$sdir" sslclient "$name" ;;
    both)       check_chain "$sdir" sslserver "$name"
                check_chain "$sdir" sslclient "$name" ;;
    signing|noEKU) check_chain "$sdir" any "$name" ;;
    *)          die "internal error: profile $profile" ;;
  esac
  echo "$(basename -- "$sdir"): issued $name ($profile, $uris) in $sdir"
}

crl_mode() {  # crl_mode SIDE_DIR [SECONDS] [NAME_TO_REVOKE]
  local sdir=$1 seconds=${2:-$CRL_SECONDS} name=${3-}
  [[ $seconds =~ ^[1-9][0-9]{0,9}$ ]] || bad_usage "bad CRL_SECONDS: $seconds"
  [[ -f $sdir/ca.crt && -f $sdir/ca.key ]] ||
    die "no CA in $sdir (run $prog first)"
  setup
  if [[ -n $name ]]; then
    [[ -f $sdir/$name.crt ]] || die "no certificate $sdir/$name.crt"
    is_revoked "$sdir" "$name" || revoke "$sdir" "$name"
  fi
  write_crl "$sdir" "$seconds"
  echo "$(basename -- "$sdir"): wrote ca.crl${name:+ revoking $name}, valid for $seconds s, in $sdir"
}

main() {
  case ${1-} in
    -h|--help)
      usage
      exit 0 ;;
    --issue)
      (($# == 4 || $# == 5 || $# == 7)) || bad_usage "--issue takes 3, 4 or 6 arguments"
      shift
      issue_mode "$@" ;;
    --revoke)
      (($# == 3 || $# == 4)) || bad_usage "--revoke takes 2 or 3 arguments"
      crl_mode "$2" "${4-}" "$3" ;;
    --crl)
      (($# == 2 || $# == 3)) || bad_usage "--crl takes 1 or 2 arguments"
      crl_mode "$2" "${3-}" ;;
    -*)
      bad_usage "unknown option: $1" ;;
    *)
      (($# <= 1)) || bad_usage "too many arguments"
      local dir=${1-$script_dir/dev} side
      [[ -n $dir ]] || bad_usage "DIR may not be empty"
      [[ $dir == /* ]] || dir="$PWD/$dir"
      setup
      for side in "${SIDES[@]}"; do
        generate_side "$dir" "$side"
      done ;;
  esac
}

main "$@"
