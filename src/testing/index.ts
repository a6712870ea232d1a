/**
 * Testing: `agentarmour/testing`. Loads `@langchain/core` (an optional peer).
 *
 * @since 0.3.0
 */

/**
 * @since 0.3.0
 */
export * as AgentMock from "./AgentMock.js"
