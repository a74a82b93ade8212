#!/usr/bin/env bash
# The hub's proxy (configurable-http-proxy) from npm, into a project-local node_modules/ that git ignores.
# Needs Node >= 18 (tools/system_deps.sh does not install it; on Debian: apt-get install nodejs npm).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x node_modules/.bin/configurable-http-proxy ]; then exit 0; fi
command -v npm >/dev/null || { echo "未找到 npm：请先安装 Node.js 18 以上（如 apt-get install nodejs npm）" >&2; exit 1; }
npm install --no-save --no-audit --no-fund --loglevel=error configurable-http-proxy@^4
