#!/usr/bin/env bash
# Optional: the third-party integration that installs on a development machine, so that
# tests/mqtt/test_integrations.py runs the docs/integrations.md Node-RED recipe in a real
# Node-RED instead of skipping it. Installs into .integrations/ (git-ignored); needs Node.js
# >= 18 and npm. Home Assistant, Telegraf, InfluxDB and Grafana are not installed: their
# recipes are checked against the schemas only.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_RED_VERSION=${NODE_RED_VERSION:-4.1.8}   # 5.x needs Node.js >= 22.9
if ! command -v npm >/dev/null; then
    # Not fatal: the Node-RED test skips with this reason, the rest of make test runs.
    echo "setup-integrations.sh: npm not found, Node-RED recipe test will skip (apt-get install nodejs npm)" >&2
    exit 0
fi
installed=$(node -p "require('./.integrations/node_modules/node-red/package.json').version" 2>/dev/null || true)
if [ "$installed" = "$NODE_RED_VERSION" ]; then
    exit 0  # idempotent: make test calls this on every run
fi
mkdir -p .integrations
npm install --prefix .integrations --no-audit --no-fund --omit=dev --silent \
    "node-red@${NODE_RED_VERSION}"
.integrations/node_modules/.bin/node-red --help >/dev/null
echo "setup-integrations.sh: Node-RED ${NODE_RED_VERSION} in .integrations/"
