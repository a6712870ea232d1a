/**
 * The option schemas ToolGuard and `guardedToolNode` share.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/** a cap: a whole number of at least 1 */
export const Limit = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)).annotations({
  message: () => "Expected an integer of at least 1"
})

/** what a tool may do without asking */
export const PermissionSchema = Schema.Literal("allow", "ask", "deny")
