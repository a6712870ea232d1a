/**
 * Errors shaped like the providers' SDK errors (OpenAI, Anthropic): an
 * `APIError` with `status`, `headers`, `error.type`, and LangChain's
 * `lc_error_code`, so retries, breakers and `isFailure` predicates see what
 * they would see in production.
 *
 * @internal
 */

/** @internal */
export type ProviderFailure = "rate_limit" | "server_error" | "timeout"

/** @internal */
export interface ProviderError extends Error {
  readonly status: number | undefined
  readonly headers: Record<string, string>
  readonly error: { readonly type: string; readonly message: string } | undefined
  readonly code: string | undefined
  readonly lc_error_code: string | undefined
}

const make = (
  name: string,
  message: string,
  fields: Omit<ProviderError, keyof Error>
): ProviderError => Object.assign(new Error(message), { name }, fields)

/** @internal */
export const providerError = (failure: ProviderFailure, model: string): ProviderError => {
  switch (failure) {
    case "rate_limit": {
      const message = `Rate limit reached for ${model}: please try again in 1s.`
      return make("RateLimitError", `429 ${message}`, {
        status: 429,
        headers: { "retry-after": "1", "x-ratelimit-remaining-requests": "0" },
        error: { type: "rate_limit_error", message },
        code: "rate_limit_exceeded",
        lc_error_code: "MODEL_RATE_LIMIT"
      })
    }
    case "server_error": {
      const message = "The server had an error while processing your request."
      return make("InternalServerError", `500 ${message}`, {
        status: 500,
        headers: {},
        error: { type: "server_error", message },
        code: undefined,
        lc_error_code: undefined
      })
    }
    case "timeout":
      return make("APIConnectionTimeoutError", "Request timed out.", {
        status: undefined,
        headers: {},
        error: undefined,
        code: "ETIMEDOUT",
        lc_error_code: undefined
      })
  }
}
