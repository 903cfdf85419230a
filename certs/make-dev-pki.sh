#!/usr/bin/env bash
# Development PKI for IICC Exchange: two independent CAs, KZ and UZ, standing
# in for the national roots. NEVER use these keys or certificates in
# production. See certs/README.md.
#
#   make-dev-pki.sh [DIR]
#   make-dev-pki.sh --issue DIR/<side> NAME SPIFFE_ID [serverAuth|clientAuth|both|signing]
#
# Requires the OpenSSL 3 command line tool.
set -euo pipefail

readonly SIDES=(kz uz)
readonly LEAVES=(gateway ministry-client signing)
readonly CA_DAYS=3650   # 10 years
readonly LEAF_DAYS=825

prog=${0##*/}
script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

usage() {
  cat <<EOF
Usage:
  $prog [DIR]
      Create, or complete, the kz and uz development PKI in DIR
      (default: $script_dir/dev). Files already present are kept.
  $prog --issue DIR/<side> NAME SPIFFE_ID [serverAuth|clientAuth|both|signing]
      Issue DIR/<side>/NAME.crt and NAME.key from that side's CA
      (default: clientAuth; signing: an envelope-signing certificate).
      Replaces an existing NAME.
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

upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }   # bash 3.2 has no ${x^^}

subject() {  # subject SIDE_DIR CN
  local side
  side=$(upper "$(basename -- "$1")")
  printf '/O=IICC Exchange/OU=%s Development/CN=%s' "$side" "$2"
}

# ------------------------------------------------------------------ issuing --

make_ca() {  # make_ca SIDE_DIR
  local sdir=$1 side subj serial
  side=$(upper "$(basename -- "$sdir")")
  subj=$(subject "$sdir" "IICC $side Development CA")
  serial=$(openssl rand -hex 16)
  genkey "$work/ca.key"
  ossl req -x509 -new -config "$work/req.cnf" -extensions v3_ca \
    -key "$work/ca.key" -subj "$subj" \
    -sha256 -days "$CA_DAYS" -set_serial "0x$serial" -out "$work/ca.crt"
  place "$work/ca.key" "$sdir/ca.key" 0600
  place "$work/ca.crt" "$sdir/ca.crt" 0644
}

# issue_leaf SIDE_DIR NAME PROFILE URI
#   PROFILE: serverAuth | clientAuth | both (TLS), or signing (envelopes).
#   Certificates used as TLS servers also name localhost and 127.0.0.1.
issue_leaf() {
  local sdir=$1 name=$2 profile=$3 uri=$4 subj serial
  local ku='critical, digitalSignature' eku='' san="URI:$uri"
  local local_names='DNS:localhost, IP:127.0.0.1'
  case $profile in
    serverAuth) eku='serverAuth';             san="$local_names, $san" ;;
    clientAuth) eku='clientAuth' ;;
    both)       eku='serverAuth, clientAuth'; san="$local_names, $san" ;;
    signing)    ku='critical, digitalSignature, nonRepudiation' ;;
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
  serial=$(openssl rand -hex 16)
  genkey "$work/leaf.key"
  ossl req -new -config "$work/req.cnf" -key "$work/leaf.key" \
    -subj "$subj" -out "$work/leaf.csr"
  ossl x509 -req -in "$work/leaf.csr" -CA "$sdir/ca.crt" -CAkey "$sdir/ca.key" \
    -sha256 -days "$LEAF_DAYS" -set_serial "0x$serial" \
    -extfile "$work/leaf.ext" -extensions leaf -out "$work/leaf.crt"
  place "$work/leaf.key" "$sdir/$name.key" 0600
  place "$work/leaf.crt" "$sdir/$name.crt" 0644
}

# ---------------------------------------------------------------- checking --

warn_if_key_readable() {
  local mode
  mode=$(stat -c %a -- "$1" 2>/dev/null || stat -f %Lp -- "$1")
  if [[ ${mode: -2} != 00 ]]; then
    echo "$prog: warning: $1 has mode $mode, expected 600" >&2
  fi
}

# check_cert SIDE_DIR NAME [URI]: NAME.key is the private key of NAME.crt,
# and NAME.crt carries URI as its one and only URI SAN.
check_cert() {
  local crt="$1/$2.crt" key="$1/$2.key" info pub uris
  warn_if_key_readable "$key"
  info=$(openssl x509 -in "$crt" -noout -pubkey -ext subjectAltName 2>/dev/null) ||
    die "$crt: not a certificate"
  pub=$(openssl pkey -in "$key" -pubout 2>/dev/null) || die "$key: not a private key"
  [[ $info == *"$pub"* ]] || die "$key does not belong to $crt"
  if (($# > 2)); then
    uris=$(grep -o 'URI:[^,[:space:]]*' <<<"$info" || true)
    [[ $uris == "URI:$3" ]] || die "$crt: expected the one URI SAN URI:$3, found: ${uris:-none}"
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
  check_chain "$sdir" sslclient gateway ministry-client
  warn_if_key_readable "$sdir/pseudonym.key"
  [[ $(<"$sdir/pseudonym.key") =~ ^[0-9a-f]{64}$ ]] ||
    die "$sdir/pseudonym.key is not 32 hex-encoded bytes"
}

# -------------------------------------------------------------------- modes --

generate_side() {  # generate_side DIR SIDE
  local sdir="$1/$2" side=$2 name created=() fresh=0
  (umask 022 && mkdir -p -- "$sdir")   # certificates are public
  if [[ ! -s $sdir/ca.crt || ! -s $sdir/ca.key ]]; then
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
        *)               die "internal error: no profile for $name" ;;
      esac
      created+=("$name")
    fi
  done
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

issue_mode() {  # issue_mode SIDE_DIR NAME SPIFFE_ID [PROFILE]
  local sdir=$1 name=$2 uri=$3 profile=${4:-clientAuth}
  local uri_re='^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9._~:/?@!&()*+=%-]+$'
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || bad_usage "bad NAME: $name"
  [[ $name != ca && $name != pseudonym ]] || bad_usage "NAME may not be $name"
  [[ $uri =~ $uri_re ]] || bad_usage "bad SPIFFE_ID: $uri"
  case $profile in
    serverAuth|clientAuth|both|signing) ;;
    *) bad_usage "bad key usage: $profile (serverAuth, clientAuth, both or signing)" ;;
  esac
  [[ -f $sdir/ca.crt && -f $sdir/ca.key ]] ||
    die "no CA in $sdir (run $prog first)"
  setup
  issue_leaf "$sdir" "$name" "$profile" "$uri"
  check_cert "$sdir" "$name" "$uri"
  case $profile in
    serverAuth) check_chain "$sdir" sslserver "$name" ;;
    clientAuth) check_chain "$sdir" sslclient "$name" ;;
    both)       check_chain "$sdir" sslserver "$name"
                check_chain "$sdir" sslclient "$name" ;;
    signing)    check_chain "$sdir" any "$name" ;;
    *)          die "internal error: profile $profile" ;;
  esac
  echo "$(basename -- "$sdir"): issued $name ($profile, $uri) in $sdir"
}

main() {
  case ${1-} in
    -h|--help)
      usage
      exit 0 ;;
    --issue)
      (($# == 4 || $# == 5)) || bad_usage "--issue takes 3 or 4 arguments"
      shift
      issue_mode "$@" ;;
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
