import { fileURLToPath } from "node:url"

const src = fileURLToPath(new URL("./src/", import.meta.url))

/** tests import the package by its public name, resolved to the sources */
export const alias = [
  { find: /^agentarmour$/, replacement: `${src}index.ts` },
  { find: /^agentarmour\/(.*)$/, replacement: `${src}$1/index.ts` }
]
