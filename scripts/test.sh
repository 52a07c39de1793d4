#!/usr/bin/env bash
# `npm test`: install the servers the integration tests need (apt, when missing), build, lint,
# then every test. The vitest global setup starts nats-server and clickhouse-server itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh install
npm run -s build
npm run -s lint
npx vitest run "$@"
