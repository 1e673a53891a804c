#!/usr/bin/env bash
# The project's test command (`npm test`). Brings up the real services the tests need
# (deploy/services.sh), then runs every test file with Node's test runner.
#   npm test               all tiers: pure cores, in-memory peers, real Postgres/Kafka/toxiproxy/SIPp
#   npm test -- --unit     only the unit tests that sit beside the code (no services)
#   npm test -- FILE...    only these files (services are brought up)
set -euo pipefail
cd "$(dirname "$0")/.."

unit_files() { find shared hub site-node access-gateway proto deploy -name '*.test.ts' -not -path '*/gen/*' | sort; }
all_files() { unit_files; find test -name '*.test.ts' | sort; }

if [ "${1:-}" = "--unit" ]; then
  mapfile -t files < <(unit_files)
else
  bash deploy/services.sh up
  # Where services.sh wrote it: $SERVICES_DIR when the caller set one, else .services/.
  # shellcheck disable=SC1091
  source "${SERVICES_DIR:-.services}/env.sh"
  # Database tests beside the code skip without TEST_PG_URL (for --unit); here they must run.
  : "${TEST_PG_URL:?deploy/services.sh did not export TEST_PG_URL}"
  export TEST_PG_URL
  if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(all_files); fi
fi

echo "running ${#files[@]} test files"
exec node --import tsx --test --test-reporter=spec "${files[@]}"
