/**
 * The coordinator's answer to POST /v1/transactions as the scripts read it. Every field is
 * optional and the body may be missing: the scripts also read refusals, errors and timeouts,
 * which carry only some of these.
 */
export type TransactionAnswer =
  | {
      txid?: string;
      outcome?: string;
      reason?: string;
      error?: { code?: string };
      participants?: { reason?: string; isolation?: string; results?: { balance: string }[] }[];
      attempts?: unknown[];
    }
  | undefined;
