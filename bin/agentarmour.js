#!/usr/bin/env node
// the CLI, compiled to dist/ by `npm run build` (`prepack` builds it into the package; in a clone, build first)
import "../dist/src/cli/main.js"
