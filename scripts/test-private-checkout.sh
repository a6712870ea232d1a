#!/usr/bin/env bash
# Runs the Postgres tests from a private checkout: a clone in a `mktemp -d`
# directory (mode 0700), as many CI runners and users have. As root, the
# embedded server runs as a `postgres` user who cannot enter that directory,
# so this proves test/support/postgres.ts serves it binaries it can reach.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
chmod 0700 "$dir"
git clone -q --no-hardlinks "$repo" "$dir/checkout"
# the working tree's test sources, uncommitted changes included
cp -r test src vitest.config.ts vitest.shared.ts tsconfig.json "$dir/checkout/"
# hard links: instant, and every path stays inside the private directory
cp -al node_modules "$dir/checkout/node_modules"
rm -rf /tmp/agentarmour-embedded-pg-*
cd "$dir/checkout"
echo "private checkout: $dir/checkout (mode $(stat -c %a "$dir"))"
npx vitest run test/PgLedger.test.ts "$@"
