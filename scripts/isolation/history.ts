/**
 * An isolation workload's history: the accounts before and after a run, and what each client
 * transaction wrote and read, as the participants reported it. The anomaly checker reads only
 * this (anomalies.ts); the zod schemas let a history saved as JSON be read back and checked again.
 * Money is a decimal string on the wire and a bigint in the checker: minor units never round.
 */
import { z } from "zod";

export interface AccountRef {
  participant: string;
  account: string;
}

export interface AccountState extends AccountRef {
  balance: string;
  version: number;
  /** The customer whose linked accounts at this bank must together stay >= 0. */
  customer?: string | null;
}

export interface WriteEffect extends AccountRef {
  delta: string;
  /** The account's version after this write. */
  version: number;
  /** The account's balance after this write. */
  balance: string;
}

export interface ReadEffect extends AccountRef {
  balance: string;
  version: number;
}

export type TxnOutcome = "committed" | "aborted" | "unknown";

export interface HistoryTxn {
  /** The client's request id (the final attempt's txid). */
  id: string;
  /** The workload's label: "transfer", "read", "hold-read", "linked-debit", ... */
  label: string;
  outcome: TxnOutcome;
  isolation?: string;
  /** Empty unless committed. */
  writes: WriteEffect[];
  /** In the order the operations listed them; empty unless committed. */
  reads: ReadEffect[];
  /** Client-side real time. */
  startMs?: number;
  endMs?: number;
}

/** Accounts money only moves between: any consistent read of all of them sums to `total`. */
export interface ConservedSet {
  name: string;
  accounts: AccountRef[];
  total: string;
}

export interface History {
  initial: AccountState[];
  final: AccountState[];
  txns: HistoryTxn[];
  conservedSets?: ConservedSet[];
}

const integerString = z.string().regex(/^-?\d+$/, "an integer in decimal");
const version = z.number().int().nonnegative();
const accountRefShape = { participant: z.string().min(1), account: z.string().min(1) };

export const accountRefSchema = z.object(accountRefShape);
export const accountStateSchema = z.object({
  ...accountRefShape,
  balance: integerString,
  version,
  customer: z.string().nullable().optional(),
});
export const writeEffectSchema = z.object({
  ...accountRefShape,
  delta: integerString,
  version,
  balance: integerString,
});
export const readEffectSchema = z.object({ ...accountRefShape, balance: integerString, version });
export const historyTxnSchema = z.object({
  id: z.string().min(1),
  label: z.string(),
  outcome: z.enum(["committed", "aborted", "unknown"]),
  isolation: z.string().optional(),
  writes: z.array(writeEffectSchema),
  reads: z.array(readEffectSchema),
  startMs: z.number().optional(),
  endMs: z.number().optional(),
});
export const conservedSetSchema = z.object({
  name: z.string(),
  accounts: z.array(accountRefSchema).min(1),
  total: integerString,
});
export const historySchema = z.object({
  initial: z.array(accountStateSchema),
  final: z.array(accountStateSchema),
  txns: z.array(historyTxnSchema),
  conservedSets: z.array(conservedSetSchema).optional(),
});

/**
 * Reads a history from parsed JSON; throws a ZodError naming the first bad field. The cast only
 * narrows zod's `?: T | undefined` to `?: T`: zod leaves an absent optional key absent, and JSON
 * has no undefined to put there.
 */
export function parseHistory(value: unknown): History {
  return historySchema.parse(value) as History;
}

/** One string per account, for maps: JSON keeps any participant or account name unambiguous. */
export function accountKey(ref: AccountRef): string {
  return JSON.stringify([ref.participant, ref.account]);
}

/** How an account is named in messages. */
export function accountName(ref: AccountRef): string {
  return `${ref.participant}:${ref.account}`;
}
