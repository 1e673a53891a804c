#!/usr/bin/env bash
# Generate TypeScript from proto/*.proto with ts-proto into proto/gen/ (committed).
#   bash proto/generate.sh           regenerate proto/gen/   (npm run proto)
#   bash proto/generate.sh --check   regenerate into a temp dir and fail, naming the files,
#                                    if proto/gen/ differs   (npm run proto:check)
# Needs protoc (Debian protobuf-compiler) and node_modules/.bin/protoc-gen-ts_proto.
set -euo pipefail
cd "$(dirname "$0")/.."

PLUGIN="node_modules/.bin/protoc-gen-ts_proto"
[ -x "$PLUGIN" ] || { echo "generate.sh: $PLUGIN not found (npm install first)" >&2; exit 1; }
command -v protoc >/dev/null || { echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

# ts-proto 2.x options, chosen for strict ESM/NodeNext TypeScript:
#   outputServices=grpc-js   grpc-js service definitions + client classes
#   esModuleInterop=true     default-import protobufjs/minimal
#   importSuffix=.js         relative imports end in .js (NodeNext)
#   forceLong=number         int64 as number (all ours are ms or small counts, < 2^53)
#   useOptionals=messages    sub-messages are optional properties
#   env=node                 Buffer for bytes
#   oneof=unions-value       oneof as a discriminated union { $case, value }
#   useDate=false            no Timestamp mapping needed (we use int64 *_ms)
OPTS="outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,forceLong=number,useOptionals=messages,env=node,oneof=unions-value,useDate=false"

generate() {
  local out="$1"
  mkdir -p "$out"
  # shellcheck disable=SC2046
  protoc \
    --plugin="protoc-gen-ts_proto=$PLUGIN" \
    --ts_proto_out="$out" \
    --ts_proto_opt="$OPTS" \
    -I proto \
    $(cd proto && ls ./*.proto | sed 's|^\./||' | sort)
}

if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -r -q "$tmp" proto/gen >"$tmp.diff" 2>&1; then
    echo "proto/gen is out of date with proto/*.proto; run: npm run proto" >&2
    sed -e "s|$tmp|<fresh>|g" "$tmp.diff" >&2
    rm -f "$tmp.diff"
    exit 1
  fi
  rm -f "$tmp.diff"
  echo "proto/gen is up to date"
else
  rm -rf proto/gen
  generate proto/gen
  echo "generated: $(cd proto/gen && find . -name '*.ts' | sort | tr '\n' ' ')"
fi
