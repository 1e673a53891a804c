#!/usr/bin/env bash
# The project's test command (`npm test`). Brings up the real services the tests need
# (deploy/services.sh), then runs every test with vitest (vitest.config.ts).
#   npm test               all tiers: pure cores, in-memory peers, real Postgres/Kafka/toxiproxy/SIPp,
#                          then the coverage summary; fails when line coverage of shared/, hub/ or
#                          site-node/ falls below its floor in vitest.config.ts
#   npm test -- --unit     only the unit tests that sit beside the code (no services; the database
#                          suites among them show as skipped)
#   npm test -- FILE...    only these files (services are brought up; no coverage)
set -euo pipefail
cd "$(dirname "$0")/.."

vitest=(node_modules/.bin/vitest run)

if [ "${1:-}" = "--unit" ]; then
  shift
  exec "${vitest[@]}" --project unit "$@"
fi

bash deploy/services.sh up
# Where services.sh wrote it: $SERVICES_DIR when the caller set one, else .services/.
# shellcheck disable=SC1091
source "${SERVICES_DIR:-.services}/env.sh"
# Database tests beside the code skip without TEST_PG_URL (for --unit); here they must run.
: "${TEST_PG_URL:?deploy/services.sh did not export TEST_PG_URL}"
export TEST_PG_URL

if [ $# -gt 0 ]; then exec "${vitest[@]}" "$@"; fi
exec "${vitest[@]}" --coverage
