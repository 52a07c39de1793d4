#!/usr/bin/env bash
# `npm test`: install the servers the integration tests need (apt, when missing) and the Python
# side (numpy, torch, pytest, the client; pip, when missing), build, lint,
# then every test. The vitest global setup starts nats-server and clickhouse-server itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh install
bash scripts/python-setup.sh
npm run -s build
npm run -s lint
mkdir -p test-output
status=0
npx vitest run --reporter=default --reporter=json --outputFile=test-output/vitest.json "$@" || status=$?
# One plain closing line for tools that read it.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-output/vitest.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' || true
exit "$status"
