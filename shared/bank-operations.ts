import { z } from "zod";

/**
 * The bank's operations: the participant executes them, and the coordinator checks them with the
 * same schema before it logs anything (CONCORD_OPERATIONS=bank), so a malformed request never
 * reaches the log. Money is an integer count of minor units, carried as a decimal string
 * so that no JSON parser rounds it: no floats, exponents, signs or leading zeros.
 */
export const MAX_AMOUNT = 10n ** 15n;
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const accountIdSchema = z
  .string()
  .regex(ACCOUNT_ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -");
export const amountSchema = z
  .string()
  .regex(
    /^[1-9][0-9]{0,15}$/,
    'must be a positive integer number of minor units written as a string, e.g. "1250"',
  )
  // zod runs refinements even after the regex failed; BigInt must only see digits.
  .refine((s) => /^[0-9]+$/.test(s) && BigInt(s) <= MAX_AMOUNT, `must be at most ${MAX_AMOUNT}`);
const versionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const moneyOp = (op: "debit" | "credit") =>
  z
    .object({
      op: z.literal(op),
      account: accountIdSchema,
      amount: amountSchema,
      expectedVersion: versionSchema.optional(),
    })
    .strict();

export const bankOperationSchema = z.discriminatedUnion("op", [
  moneyOp("debit"),
  moneyOp("credit"),
  /**
   * Reads a balance under a FOR SHARE lock. With `hold`, the participant prepares instead of
   * voting read-only, so the lock lasts until the decision: a consistent read across banks.
   */
  z
    .object({ op: z.literal("read"), account: accountIdSchema, hold: z.boolean().optional() })
    .strict(),
]);
export type BankOperation = z.infer<typeof bankOperationSchema>;

export const bankOperationsSchema = z.array(bankOperationSchema).min(1).max(64);

export const openAccountSchema = z
  .object({ id: accountIdSchema, balance: z.union([z.literal("0"), amountSchema]) })
  .strict();

/**
 * The lock keys of the bank's operations (participant/framework concord_lock_keys): the account
 * each touches, written by a debit or credit, read (shared) by a read. The coordinator knows them
 * too, to start a request on a recently contended account in ordered mode.
 */
export function bankLockKeys(ops: readonly BankOperation[]): { key: string; exclusive: boolean }[] {
  return ops.map((op) => ({ key: `accounts:${op.account}`, exclusive: op.op !== "read" }));
}

/**
 * What a caller may ask of the banks in one transaction, checked by the coordinator before
 * anything is logged (the participants cannot check it: each sees only its own operations).
 *
 * - Money moves, it is never made: the debits of a transaction equal its credits. Money enters
 *   only through a bank's own account opening, which needs that bank's admin secret.
 * - Balances are the banks' business: their own read routes need their admin secret, and a
 *   `read` through a transaction needs the coordinator's (an operator's), never a client's key.
 *
 * Returns undefined when the transaction is allowed, or the rule it breaks.
 */
export function bankTransactionRefusal(
  participants: readonly { name: string; operations: readonly BankOperation[] }[],
  callerIsOperator: boolean,
): { rule: "unbalanced" | "reads-need-operator"; message: string; field: string } | undefined {
  let debits = 0n;
  let credits = 0n;
  for (const [i, p] of participants.entries()) {
    for (const [j, op] of p.operations.entries()) {
      if (op.op === "debit") debits += BigInt(op.amount);
      else if (op.op === "credit") credits += BigInt(op.amount);
      else if (!callerIsOperator) {
        return {
          rule: "reads-need-operator",
          message: `body.participants.${i}.operations.${j}: reading a balance needs the operator's credential (the coordinator's admin secret), as the banks' own read routes need theirs; an API key may only move money`,
          field: `body.participants.${i}.operations.${j}`,
        };
      }
    }
  }
  if (debits !== credits) {
    return {
      rule: "unbalanced",
      message: `the transaction's debits (${debits}) and credits (${credits}) must be equal: money moves between accounts and is never created or destroyed by a transaction (opening an account is how money enters, with the bank's admin secret)`,
      field: "body.participants",
    };
  }
  return undefined;
}
