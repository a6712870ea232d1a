/**
 * How values are stored in the ledger's columns: times as ISO-8601 UTC text,
 * counts as numbers (Postgres returns BIGINT as text).
 *
 * @internal
 */

/** a time, as stored */
export const iso = (d: Date): string => d.toISOString()

/** a stored time */
export const date = (s: unknown): Date => new Date(String(s))

/** a stored count (`null` is 0) */
export const num = (n: unknown): number => (n === null || n === undefined ? 0 : Number(n))

/** one row to insert */
export type Row = Record<string, string | number | null>
