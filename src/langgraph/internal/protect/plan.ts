/**
 * What `protectNode` decides once, when the graph is built: the options
 * checked (a bad one throws its `ParseError`, naming the option), the
 * fallback strategy, the guard's keys, and the breaker and budget, made on
 * first use inside the bridge's runtime.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"

import { type BreakerOptions, decode as decodeBreaker } from "../../../BreakerConfig.js"
import { BreakerRegistry } from "../../../BreakerRegistry.js"
import * as Budget from "../../../Budget.js"
import type * as CascadeGuard from "../../../CascadeGuard.js"
import * as CircuitBreaker from "../../../CircuitBreaker.js"
import { Lazy } from "../../../internal/lazy.js"
import type * as Ledger from "../../../Ledger.js"
import * as LG from "../langgraph.js"
import * as Strategies from "../strategies.js"
import { decodePricing, type Pricing } from "../usage.js"
import type { RunNode } from "./attempt.js"
import type { GuardPlan } from "./guard.js"

/** what every call of the node needs, made once */
export interface Resources {
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly budget: Budget.Budget | undefined
}

export interface Plan<S> {
  /** the breaker's name */
  readonly name: string
  readonly run: RunNode<S>
  readonly strategy: Strategies.Strategy<S>
  readonly guard: GuardPlan<S> | undefined
  readonly pricing: Pricing | undefined
  readonly resources: Lazy<Resources, never, BreakerRegistry | Ledger.Ledger>
}

/** the options a plan is made of (`ProtectOptions`, without the callbacks) */
export interface PlanOptions<S> {
  readonly breaker: BreakerOptions | string
  readonly fallback?: Strategies.FallbackOption<S, any> | undefined
  readonly guard?: CascadeGuard.NodeSpec<S> | undefined
  readonly budget?: Budget.BudgetOptions | Budget.Budget | undefined
  readonly pricing?: Pricing | undefined
}

/** the value, or the ParseError itself thrown (options are checked when the graph is built) */
const orThrow = <A>(decoded: Either.Either<A, ParseResult.ParseError>): A => {
  if (Either.isLeft(decoded)) throw decoded.left
  return decoded.right
}

/** a decoding of options: pure and synchronous (no service, no async schema) */
const decodeNow = <A>(decoding: Effect.Effect<A, ParseResult.ParseError>): Either.Either<A, ParseResult.ParseError> =>
  Effect.runSync(Effect.either(decoding))

const breakerOf = (
  option: BreakerOptions | string
): Effect.Effect<CircuitBreaker.CircuitBreaker, never, BreakerRegistry | Ledger.Ledger> => {
  if (typeof option === "string") return Effect.flatMap(BreakerRegistry, (registry) => registry.get(option))
  const config = orThrow(decodeNow(decodeBreaker(option)))
  return Effect.orDie(CircuitBreaker.make(config))
}

const budgetOf = (
  option: Budget.BudgetOptions | Budget.Budget | undefined
): Effect.Effect<Budget.Budget | undefined, never, Ledger.Ledger> => {
  if (option === undefined) return Effect.succeed(undefined)
  if (Budget.isBudget(option)) return Effect.succeed(option)
  const { store: _, ...limits } = option
  orThrow(decodeNow(Budget.decode(limits)))
  return Effect.orDie(Budget.make(option))
}

/** checks the options and plans the node's calls; throws a `ParseError` naming a bad option */
export const make = <S>(node: RunNode<S> | LG.Subgraph<unknown>, options: PlanOptions<S>): Plan<S> => {
  const name = typeof options.breaker === "string" ? options.breaker : options.breaker.name
  const breaker = breakerOf(options.breaker)
  const budget = budgetOf(options.budget)
  const pricing = options.pricing === undefined ? undefined : orThrow(decodeNow(decodePricing(options.pricing)))
  const spec = options.guard
  return {
    name,
    run: LG.isSubgraph(node) ? (state, config) => node.invoke(state, config) : node,
    strategy: Strategies.select<S>(options.fallback ?? "cache", name),
    guard: spec === undefined ? undefined : {
      name,
      spec,
      writes: spec.quarantineOnFailure ?? [],
      reads: spec.readsFrom ?? []
    },
    pricing,
    // made together, once: concurrent first calls share them
    resources: new Lazy(Effect.zipWith(breaker, budget, (breaker, budget) => ({ breaker, budget })))
  }
}
