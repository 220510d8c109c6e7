import { z } from "zod";
import type { OperationRules } from "../../shared/operation-rules.js";

/**
 * The bank's operations. The bank publishes their schema and rules (GET /v1/2pc/operations) and
 * the coordinator checks every request against them before it logs anything, so a malformed
 * request never reaches the log. Money is an integer count of minor units, carried as a decimal string
 * so that no JSON parser rounds it: no floats, exponents, signs or leading zeros.
 */
export const MAX_AMOUNT = 10n ** 15n;
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const accountIdSchema = z
  .string()
  .regex(ACCOUNT_ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -");
export const amountSchema = z
  .string()
  // The bound is in the pattern, not a refinement, so that the published JSON Schema says it too.
  .regex(
    /^([1-9][0-9]{0,14}|1000000000000000)$/,
    `must be a positive integer number of minor units written as a string, at most ${MAX_AMOUNT}, e.g. "1250"`,
  );
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

/** A customer an account may belong to (customer-total.ts): ids as account ids are. */
export const customerIdSchema = z
  .string()
  .regex(ACCOUNT_ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -");

export const openAccountSchema = z
  .object({
    id: accountIdSchema,
    balance: z.union([z.literal("0"), amountSchema]),
    customer: customerIdSchema.optional(),
  })
  .strict();

/**
 * The rules of the bank's operation kinds (shared/operation-rules.ts), published to the
 * coordinator with the schema:
 * - each kind locks its account: written by a debit or credit, read (shared) by a read. Only
 *   that account: a debit of a linked account is also judged by its customer's total over the
 *   customer's other accounts (customer-total.ts), but those are rows the request does not
 *   name, and locking every account of the customer for each debit would serialize all of a
 *   customer's traffic to protect one predicate. The transaction's isolation level is what
 *   protects it: SERIALIZABLE refuses the write skew that READ COMMITTED lets through;
 * - money moves, it is never made: over a whole transaction, at every bank, the debits equal the
 *   credits. Money enters only through a bank's own account opening (its admin secret);
 * - balances are the banks' business: a `read` through a transaction needs the coordinator's
 *   operator credential, never a client's API key (the banks' own read routes need their admin
 *   secret);
 * - a NO vote for an account that does not exist is the client's mistake (422).
 */
export const BANK_RULES: OperationRules = {
  discriminator: "op",
  kinds: {
    debit: {
      lockKey: "accounts:{account}",
      writes: true,
      conserves: { quantity: "money", amountField: "amount", sign: -1 },
    },
    credit: {
      lockKey: "accounts:{account}",
      writes: true,
      conserves: { quantity: "money", amountField: "amount", sign: 1 },
    },
    read: { lockKey: "accounts:{account}", writes: false, operatorOnly: true },
  },
  clientFaults: { "unknown-account": 422 },
};
