/**
 * The CLI's runtime failure.
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"

/**
 * A failure the CLI reports as one line on stderr, with exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}
