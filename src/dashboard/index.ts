/**
 * The live dashboard: `agentarmour/dashboard`.
 *
 * @since 0.1.0
 */
export * as Dashboard from "./Dashboard.js"
