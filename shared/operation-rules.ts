/**
 * What an application declares about each kind of its operations, so that both sides act on one
 * definition: the participant takes its wait-die locks from it, and the coordinator, which knows
 * nothing of any application, applies it to a whole transaction before anything is logged
 * (conserved quantities balance, operator-only kinds). Operations are JSON objects whose
 * `discriminator` field (e.g. `op`) names their kind. Pure data and pure functions: the rules
 * travel to the coordinator inside the participant's descriptor (participant-descriptor.ts).
 */
import { z } from "zod";

const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a field name");

export const operationKindRuleSchema = z
  .object({
    /**
     * The key this kind locks: a template whose `{field}` parts are the operation's string
     * fields, e.g. `accounts:{account}`. Without it the kind takes no framework lock.
     */
    lockKey: z.string().min(1).max(200).optional(),
    /** Written (an exclusive lock) or only read (shared). */
    writes: z.boolean(),
    /** Only an operator (the coordinator's admin secret) may ask for this kind. */
    operatorOnly: z.boolean().optional(),
    /**
     * This kind moves an amount of a quantity that a transaction must conserve across all its
     * participants: the `+` amounts equal the `-` amounts (money moves, never made).
     */
    conserves: z
      .object({
        quantity: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
        /** The field holding the amount: a decimal integer string or a safe integer. */
        amountField: fieldName,
        sign: z.union([z.literal(1), z.literal(-1)]),
      })
      .strict()
      .optional(),
  })
  .strict();
export type OperationKindRule = z.infer<typeof operationKindRuleSchema>;

export const operationRulesSchema = z
  .object({
    discriminator: fieldName,
    kinds: z.record(z.string().min(1).max(64), operationKindRuleSchema),
    /**
     * NO-vote reasons that mean the request itself was wrong, with the HTTP status the client
     * gets for them (e.g. `unknown-account` → 422): the coordinator answers them as the
     * client's fault instead of a plain abort.
     */
    clientFaults: z
      .record(z.string().min(1).max(64), z.number().int().min(400).max(499))
      .optional(),
  })
  .strict();
export type OperationRules = z.infer<typeof operationRulesSchema>;

export interface RuleLockKey {
  key: string;
  exclusive: boolean;
}

type Operation = Readonly<Record<string, unknown>>;

function kindOf(rules: OperationRules, op: unknown): OperationKindRule | undefined {
  if (typeof op !== "object" || op === null) return undefined;
  const kind = (op as Operation)[rules.discriminator];
  return typeof kind === "string" ? rules.kinds[kind] : undefined;
}

/** `accounts:{account}` with the operation's fields filled in; undefined if a field is missing. */
function fillTemplate(template: string, op: Operation): string | undefined {
  const missing: string[] = [];
  const key = template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, field: string) => {
    const value = op[field];
    if (typeof value === "string" || typeof value === "number") return String(value);
    missing.push(field);
    return "";
  });
  return missing.length > 0 ? undefined : key;
}

/** The keys the operations lock, by their kinds' rules (each once is the participant's job). */
export function lockKeysOf(rules: OperationRules, ops: readonly unknown[]): RuleLockKey[] {
  const keys: RuleLockKey[] = [];
  for (const op of ops) {
    const rule = kindOf(rules, op);
    if (rule?.lockKey === undefined) continue;
    const key = fillTemplate(rule.lockKey, op as Operation);
    if (key !== undefined) keys.push({ key, exclusive: rule.writes });
  }
  return keys;
}

/** A rule of the whole transaction that the request breaks. */
export interface TransactionRefusal {
  rule: "unbalanced" | "needs-operator";
  message: string;
  field: string;
}

function amountOf(value: unknown): bigint | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?[0-9]{1,30}$/.test(value)) return BigInt(value);
  return undefined;
}

/**
 * Checks a whole transaction against its participants' rules: operator-only kinds, and every
 * conserved quantity summing to zero over all participants. Returns the first rule broken.
 * `rulesOf` gives a participant's rules (undefined: it declares none).
 */
export function transactionRefusal(
  participants: readonly { name: string; operations: readonly unknown[] }[],
  rulesOf: (name: string) => OperationRules | undefined,
  callerIsOperator: boolean,
): TransactionRefusal | undefined {
  const sums = new Map<string, { plus: bigint; minus: bigint }>();
  for (const [i, p] of participants.entries()) {
    const rules = rulesOf(p.name);
    if (!rules) continue;
    for (const [j, op] of p.operations.entries()) {
      const rule = kindOf(rules, op);
      if (!rule) continue;
      const field = `body.participants.${i}.operations.${j}`;
      if (rule.operatorOnly === true && !callerIsOperator) {
        const kind = String((op as Operation)[rules.discriminator]);
        return {
          rule: "needs-operator",
          message: `${field}: a "${kind}" operation at ${p.name} needs the operator's credential (the coordinator's admin secret); an API key may not ask for it`,
          field,
        };
      }
      if (!rule.conserves) continue;
      const amount = amountOf((op as Operation)[rule.conserves.amountField]) ?? 0n;
      const sum = sums.get(rule.conserves.quantity) ?? { plus: 0n, minus: 0n };
      if (rule.conserves.sign === 1) sum.plus += amount;
      else sum.minus += amount;
      sums.set(rule.conserves.quantity, sum);
    }
  }
  for (const [quantity, { plus, minus }] of sums) {
    if (plus !== minus)
      return {
        rule: "unbalanced",
        message: `the transaction must conserve ${quantity}: what it takes (${minus}) must equal what it gives (${plus}); a transaction moves ${quantity}, it never creates or destroys it`,
        field: "body.participants",
      };
  }
  return undefined;
}
