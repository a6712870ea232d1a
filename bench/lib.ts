/**
 * The library as its users run it: the compiled `dist/` (`npm run bench`
 * builds it first), not the TypeScript sources through `tsx`, which names
 * every closure it creates (`keepNames`) and adds work a user never runs.
 * `BENCH_FROM_SRC=1` measures the sources instead.
 */
import type * as Core from "../src/index.js"
import type * as LangGraph from "../src/langgraph/index.js"

const fromSrc = process.env["BENCH_FROM_SRC"] === "1"
const load = <A>(src: string, dist: string): Promise<A> =>
  import(fromSrc ? new URL(src, import.meta.url).href : new URL(dist, import.meta.url).href) as Promise<A>

export const core: typeof Core = await load("../src/index.ts", "../dist/src/index.js")
export const langgraph: typeof LangGraph = await load(
  "../src/langgraph/index.ts",
  "../dist/src/langgraph/index.js"
)
/** where the measured code came from, for the rows */
export const source = fromSrc ? "src (tsx)" : "dist"
