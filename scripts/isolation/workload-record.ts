/**
 * How the isolation workload turns the coordinator's answer into a history transaction: each
 * participant's results name the account and give its balance and version, after the write for
 * a debit or credit, as read for a read; the request's operations say which was which and by how
 * much a write moved the balance.
 */
import type { ClusterFile } from "../cluster/cluster-file.js";
import { adminSecretOf } from "../cluster/cluster-file.js";
import type { HistoryTxn, ReadEffect, WriteEffect } from "./history.js";

export interface Operation {
  op: string;
  account: string;
  amount?: string;
  hold?: boolean;
}

export interface Part {
  name: string;
  operations: Operation[];
}

export interface RunReply {
  txid?: string;
  outcome?: "committed" | "aborted" | "unknown";
  participants?: {
    name: string;
    results?: { account: string; balance: string; version: number }[];
  }[];
  error?: { code: string; message: string };
}

export function recordOf(
  label: string,
  parts: readonly Part[],
  status: number,
  reply: RunReply,
): HistoryTxn {
  const id = reply.txid ?? `refused-${label}-${Math.random().toString(36).slice(2)}`;
  // A refusal (4xx) ran nothing; a 503 without an outcome began nothing.
  const outcome = reply.outcome ?? "aborted";
  if (outcome !== "committed" || status !== 200)
    return { id, label, outcome, writes: [], reads: [] };
  const writes: WriteEffect[] = [];
  const reads: ReadEffect[] = [];
  for (const part of parts) {
    const results = reply.participants?.find((p) => p.name === part.name)?.results ?? [];
    // The bank answers in account order; an account's operations keep their own order.
    const pending = new Map<string, Operation[]>();
    for (const op of part.operations)
      pending.set(op.account, [...(pending.get(op.account) ?? []), op]);
    for (const r of results) {
      const op = pending.get(r.account)?.shift();
      if (!op)
        throw new Error(
          `${id}: a result for ${part.name}/${r.account} that no operation asked for`,
        );
      const ref = { participant: part.name, account: r.account };
      if (op.op === "read") reads.push({ ...ref, balance: r.balance, version: r.version });
      else
        writes.push({
          ...ref,
          delta: op.op === "debit" ? `-${op.amount ?? "0"}` : (op.amount ?? "0"),
          version: r.version,
          balance: r.balance,
        });
    }
  }
  return { id, label, outcome, writes, reads };
}

/**
 * Transactions whose answer was `unknown` (the decision not yet known to the client), asked
 * again once settled: an abort is certain and recorded; a commit without the participants'
 * results stays `unknown`, which the checker reports as indeterminate rather than guess.
 */
export async function resolveUnknown(cluster: ClusterFile, txns: HistoryTxn[]): Promise<void> {
  const operator = adminSecretOf(cluster, "coordinator");
  for (const t of txns) {
    if (t.outcome !== "unknown") continue;
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${cluster.coordinator.url}/v1/transactions/${t.id}`, {
        headers: { authorization: `Bearer ${operator}` },
      });
      const state = res.status === 200 ? ((await res.json()) as { state: string }).state : "";
      if (state === "aborted") {
        t.outcome = "aborted";
        break;
      }
      if (state === "committed") break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
