#!/usr/bin/env bash
# The provincial PKI for the federation's mTLS (issue 3). openssl only.
#
#   deploy/pki.sh <dir> ca                          create the provincial CA (once; never overwritten)
#   deploy/pki.sh [--force] <dir> node <kind> <id>  issue a node certificate signed by the CA
#   deploy/pki.sh <dir> list                        show the CA and every node certificate in <dir>
#
# <kind> is hub, site, gateway, admin or agent (an agent desk client, id = the agent id); <id> matches ^[a-z][a-z0-9-]{1,31}$.
# A node certificate has subject CN=<id>, O=<kind>, the URI SAN spiffe://province/<kind>/<id>
# (the identity the hub trusts, see shared/grpc/identity.ts), DNS:localhost and IP:127.0.0.1
# for loopback use, extendedKeyUsage serverAuth+clientAuth, and is valid for 2 years.
# An agent certificate names no site (spiffe://province/agent/<id>) and cannot be revoked: a
# site accepts it only with cti.auth.agentCertificates: true, as that agent only (never a
# supervisor), so agent ids must be unique in the province first (docs/operations.md §2).
# The CA is EC P-256, self-signed, 10 years, CA:true, keyUsage keyCertSign+cRLSign.
#
# Files: <dir>/ca.crt, <dir>/ca.key (0600), <dir>/<kind>-<id>.crt, <dir>/<kind>-<id>.key (0600).
# Idempotent: re-running `ca` keeps the existing CA; re-running `node` reuses the existing
# certificate (after checking it still verifies against the CA) unless --force is given.
set -euo pipefail

readonly KINDS='hub site gateway admin agent'
readonly ID_RE='^[a-z][a-z0-9-]{1,31}$'
readonly CA_DAYS=3650
readonly NODE_DAYS=730

usage() {
  cat >&2 <<'EOF'
usage: pki.sh <dir> ca
       pki.sh [--force] <dir> node <kind> <id>     kind: hub | site | gateway | admin | agent
       pki.sh <dir> list
EOF
}

die() {
  echo "pki.sh: error: $*" >&2
  exit 2
}

say() {
  echo "pki.sh: $*"
}

command -v openssl >/dev/null 2>&1 || die "openssl is not installed"

force=0
args=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage
      die "unknown option '$a'"
      ;;
    *) args+=("$a") ;;
  esac
done

if [ "${#args[@]}" -lt 2 ]; then
  usage
  die "expected <dir> and a command (ca, node or list)"
fi

dir="${args[0]}"
cmd="${args[1]}"
[ -n "$dir" ] || die "<dir> must not be empty"

ca_crt="$dir/ca.crt"
ca_key="$dir/ca.key"

# Files are generated in a private scratch directory inside <dir> (same filesystem), then
# renamed into place, so a failed run never leaves a half-written key or certificate.
work=""
cleanup() {
  if [ -n "$work" ]; then rm -rf -- "$work"; fi
}
trap cleanup EXIT

make_work() {
  mkdir -p -- "$dir"
  work="$(mktemp -d "$dir/.pki.XXXXXX")"
  chmod 700 "$work"
}

random_serial() {
  printf '0x%s\n' "$(openssl rand -hex 16)"
}

make_ca() {
  [ "${#args[@]}" -eq 2 ] || die "'ca' takes no further arguments (got: ${args[*]:2})"
  mkdir -p -- "$dir"
  if [ -e "$ca_crt" ] || [ -e "$ca_key" ]; then
    [ -f "$ca_crt" ] || die "$ca_key exists but $ca_crt is missing; refusing to overwrite a CA key"
    [ -f "$ca_key" ] || die "$ca_crt exists but $ca_key is missing; the CA cannot sign without its key"
    say "CA already exists, keeping it: $ca_crt ($(openssl x509 -in "$ca_crt" -noout -subject))"
    return 0
  fi
  [ "$force" -eq 0 ] || say "note: --force never replaces a CA; creating a new one since none exists"
  make_work
  local key="$work/ca.key" crt="$work/ca.crt"
  say "creating the provincial CA in $dir (EC P-256, ${CA_DAYS} days)"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null)
  chmod 600 "$key"
  openssl req -x509 -new -key "$key" -sha256 -days "$CA_DAYS" -set_serial "$(random_serial)" \
    -subj "/O=province/CN=Provincial Contact Center CA" \
    -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$crt"
  chmod 644 "$crt"
  # Key first, then certificate: a crash in between leaves a key without a cert, which is
  # refused above rather than silently replaced.
  mv -f -- "$key" "$ca_key"
  mv -f -- "$crt" "$ca_crt"
  say "wrote $ca_crt and $ca_key (0600)"
}

valid_kind() {
  local k
  for k in $KINDS; do [ "$1" = "$k" ] && return 0; done
  return 1
}

make_node() {
  [ "${#args[@]}" -eq 4 ] || die "'node' needs <kind> <id> (e.g. node site chongqing)"
  local kind="${args[2]}" id="${args[3]}"
  valid_kind "$kind" || die "bad kind '$kind': expected one of: $KINDS"
  [[ "$id" =~ $ID_RE ]] || die "bad id '$id': must match $ID_RE (lowercase letter, then 1-31 of a-z 0-9 -)"
  if [ ! -f "$ca_crt" ] || [ ! -f "$ca_key" ]; then die "no CA in $dir (missing ca.crt or ca.key): run 'pki.sh $dir ca' first"; fi

  local name="$kind-$id"
  local out_crt="$dir/$name.crt" out_key="$dir/$name.key"
  local uri="spiffe://province/$kind/$id"

  if [ "$force" -eq 0 ] && [ -f "$out_crt" ] && [ -f "$out_key" ]; then
    if openssl verify -CAfile "$ca_crt" "$out_crt" >/dev/null 2>&1; then
      say "reusing existing $out_crt ($uri); pass --force to reissue"
      return 0
    fi
    die "$out_crt exists but does not verify against $ca_crt (expired or from another CA); pass --force to reissue"
  fi

  make_work
  local key="$work/node.key" csr="$work/node.csr" crt="$work/node.crt" ext="$work/node.ext"
  cat >"$ext" <<EOF
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:$uri,DNS:localhost,IP:127.0.0.1
EOF
  say "issuing $name: CN=$id, O=$kind, $uri (${NODE_DAYS} days)"
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null)
  chmod 600 "$key"
  openssl req -new -key "$key" -subj "/O=$kind/CN=$id" -out "$csr"
  openssl x509 -req -in "$csr" -CA "$ca_crt" -CAkey "$ca_key" -set_serial "$(random_serial)" \
    -sha256 -days "$NODE_DAYS" -extfile "$ext" -out "$crt" 2>/dev/null
  chmod 644 "$crt"
  mv -f -- "$key" "$out_key"
  mv -f -- "$crt" "$out_crt"
  say "wrote $out_crt and $out_key (0600)"
}

list_certs() {
  [ "${#args[@]}" -eq 2 ] || die "'list' takes no further arguments"
  [ -d "$dir" ] || die "no such directory: $dir"
  local f found=0
  for f in "$dir"/*.crt; do
    [ -f "$f" ] || continue
    found=1
    local subject end san
    subject="$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
    end="$(openssl x509 -in "$f" -noout -enddate | sed 's/^notAfter=//')"
    san="$(openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | sed -n '2p' | sed 's/^ *//')"
    printf '%s\n  subject:  %s\n  expires:  %s\n' "$(basename "$f")" "$subject" "$end"
    [ -z "$san" ] || printf '  san:      %s\n' "$san"
  done
  [ "$found" -eq 1 ] || say "no certificates in $dir"
}

case "$cmd" in
  ca) make_ca ;;
  node) make_node ;;
  list) list_certs ;;
  *)
    usage
    die "unknown command '$cmd' (expected ca, node or list)"
    ;;
esac
