#!/usr/bin/env bash
# Runs the LangGraph adapter's tests against the LOWEST versions of the peer range declared in
# package.json for @langchain/langgraph and @langchain/core (override with LANGGRAPH_VERSION /
# LANGCHAIN_CORE_VERSION). The two packages are installed into a temporary directory; the sources
# and the LangGraph tests are copied next to them, and every other package is linked from this
# project's node_modules, so only LangGraph and LangChain core change.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lowest() { node -e 'const r = require(process.argv[1]).peerDependencies[process.argv[2]]; console.log(r.match(/\d+\.\d+\.\d+/)[0])' "$root/package.json" "$1"; }
langgraph="${LANGGRAPH_VERSION:-$(lowest @langchain/langgraph)}"
core="${LANGCHAIN_CORE_VERSION:-$(lowest @langchain/core)}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "installing @langchain/langgraph@$langgraph and @langchain/core@$core into $tmp"
cd "$tmp"
echo '{ "name": "agentarmour-langgraph-min", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --loglevel=error "@langchain/langgraph@$langgraph" "@langchain/core@$core" >/dev/null

# everything else comes from the project (effect, vitest, @effect/*, OpenTelemetry, ...)
for entry in "$root"/node_modules/* "$root"/node_modules/@*/*; do
  rel="${entry#"$root"/node_modules/}"
  case "$rel" in @*/*) ;; @*) continue ;; esac
  case "$rel" in .bin|.package-lock.json) continue ;; esac
  if [ ! -e "node_modules/$rel" ]; then
    mkdir -p "node_modules/$(dirname "$rel")"
    ln -s "$entry" "node_modules/$rel"
  fi
done

mkdir test
cp -R "$root/src" .
cp -R "$root/examples" .
cp "$root"/test/LangGraph*.test.ts test/
cp "$root/vitest.shared.ts" "$root/tsconfig.json" .
cat > vitest.config.ts <<'CONFIG'
import { defineConfig } from "vitest/config"
import { alias } from "./vitest.shared.js"
export default defineConfig({ resolve: { alias }, test: { include: ["test/**/*.test.ts"], testTimeout: 30_000 } })
CONFIG

node -e 'for (const p of ["@langchain/langgraph", "@langchain/core"]) console.log(`${p} ${require(`./node_modules/${p}/package.json`).version}`)'
node "$root/node_modules/vitest/vitest.mjs" run "$@"
