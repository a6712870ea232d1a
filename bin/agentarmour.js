#!/usr/bin/env node
// the CLI, compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`)
import "../dist/src/cli/main.js"
