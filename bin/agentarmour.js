#!/usr/bin/env node
// the CLI, compiled to dist/ by `npm run build` (also run before `npm test` and `npm pack`)
import "../dist/src/cli/main.js"
