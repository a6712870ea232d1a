/**
 * Optional peer dependencies: an entry point that needs one says so by name
 * when it is missing, instead of Node's "Cannot find package".
 *
 * @internal
 */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

/** is `name` resolvable from this package? */
export const hasPeer = (name: string): boolean => {
  try {
    require.resolve(name)
    return true
  } catch (e) {
    // a package without a main entry or without "." in its exports is still installed
    return (e as { code?: string }).code !== "MODULE_NOT_FOUND"
  }
}

/** the message for a missing optional peer dependency */
export const missingPeer = (name: string, entry: string): string =>
  `${entry} needs the optional peer dependency ${name}, which is not installed: npm install ${name}`

/** throws an Error naming `name` when it is not installed (at import of `entry`) */
export const requirePeer = (name: string, entry: string): void => {
  if (!hasPeer(name)) throw new Error(missingPeer(name, entry))
}
