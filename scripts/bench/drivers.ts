/**
 * The four ways of running one transfer that the benchmark compares. Every worker has its own
 * account at every bank (`accountOf(worker)`), so no two workers wait on the same row lock and the
 * numbers measure the protocol, not contention. A transfer over k participants debits 1 unit at
 * the first k-1 banks and credits k-1 units at the last one.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import {
  BALANCE_UPDATE_SQL,
  balanceUpdateValues,
  type MoneyOperation,
} from "../../participant/bank/balance-update.js";
import type { DurableLog } from "../../shared/durable-log.js";
import type { KeepAliveJson } from "./http-json.js";

export type RowKind = "ceiling" | "floor" | "concord" | "coordination";

/** Runs one transfer for `worker`; throws when it did not commit. */
export type Transfer = (worker: number) => Promise<void>;

export const accountOf = (worker: number) => `bench-w${worker}`;

/** One bank's part of a transfer: the same debit or credit for every worker, at its own account. */
export interface Leg {
  bank: string;
  op: "debit" | "credit";
  amount: string;
}

export function legs(banks: readonly string[]): Leg[] {
  const k = banks.length;
  if (k < 2) throw new Error(`a transfer needs at least 2 banks, got ${k}`);
  return banks.map((bank, i) =>
    i < k - 1 ? { bank, op: "debit", amount: "1" } : { bank, op: "credit", amount: String(k - 1) },
  );
}

function operationOf(leg: Leg, worker: number): MoneyOperation {
  return { op: leg.op, account: accountOf(worker), amount: leg.amount };
}

/** The coordinator's request body for `worker`'s transfer over `plan`. */
export function transferBody(plan: readonly Leg[], worker: number): object {
  return {
    participants: plan.map((leg) => ({ name: leg.bank, operations: [operationOf(leg, worker)] })),
  };
}

/** The bank's own balance update, as its execute path runs it, with no expected version. */
async function applyDelta(
  client: pg.Pool | pg.PoolClient,
  worker: number,
  txid: string,
  leg: Leg,
): Promise<void> {
  const op = operationOf(leg, worker);
  const { rowCount } = await client.query(BALANCE_UPDATE_SQL, balanceUpdateValues(txid, op));
  if (rowCount !== 1) throw new Error(`account ${op.account} was not updated`);
}

/** (a) The ceiling: one autocommit statement per bank, in parallel, with no atomicity across them. */
export function ceilingTransfer(
  pools: ReadonlyMap<string, pg.Pool>,
  banks: readonly string[],
): Transfer {
  const plan = legs(banks);
  return async (worker) => {
    const txid = randomUUID();
    await Promise.all(plan.map((leg) => applyDelta(poolOf(pools, leg.bank), worker, txid, leg)));
  };
}

/**
 * (b) The protocol floor: what the coordinator and participants do, minus HTTP, participant
 * journals and validation. The gids carry a `bench-` prefix so the participants' recovery,
 * which looks for `concord:<name>:`, never touches them.
 */
export function floorTransfer(
  pools: ReadonlyMap<string, pg.Pool>,
  banks: readonly string[],
  log: DurableLog,
): Transfer {
  const plan = legs(banks);
  const gid = (bank: string, txid: string) => `concord:bench-${bank}:${txid}`;
  return async (worker) => {
    const txid = randomUUID();
    await log.begin(txid, { participants: [...banks], timeoutMs: 5000, onePhase: false });
    const prepared: string[] = [];
    try {
      await Promise.all(
        plan.map(async (leg) => {
          const client = await poolOf(pools, leg.bank).connect();
          try {
            await client.query("BEGIN");
            await client.query("INSERT INTO concord_txn (txid, state) VALUES ($1, 'committed')", [
              txid,
            ]);
            await applyDelta(client, worker, txid, leg);
            await client.query(`PREPARE TRANSACTION '${gid(leg.bank, txid)}'`);
            prepared.push(leg.bank);
          } catch (err) {
            await client.query("ROLLBACK").catch(() => undefined);
            throw err;
          } finally {
            client.release();
          }
        }),
      );
    } catch (err) {
      // A prepared transaction left behind holds its locks and one of the server's few
      // prepared-transaction slots for good: roll back whatever did prepare.
      await log
        .decideOnce(txid, "abort", { by: "engine", reason: "bench-error" })
        .catch(() => undefined);
      await Promise.all(
        prepared.map((bank) =>
          poolOf(pools, bank)
            .query(`ROLLBACK PREPARED '${gid(bank, txid)}'`)
            .catch(() => undefined),
        ),
      );
      throw err;
    }
    await log.decideOnce(txid, "commit", { by: "engine" });
    await Promise.all(
      plan.map((leg) => poolOf(pools, leg.bank).query(`COMMIT PREPARED '${gid(leg.bank, txid)}'`)),
    );
    await log.end(txid, [...banks]);
  };
}

/** (c) and (d): the whole system, through the coordinator's API, as a client (concord/client). */
export function httpTransfer(
  http: KeepAliveJson,
  coordinatorUrl: string,
  banks: readonly string[],
  apiKey: string,
): Transfer {
  const client = http.coordinator(coordinatorUrl, apiKey);
  const plan = legs(banks);
  return async (worker) => {
    const participants = plan.map((leg) => ({
      name: leg.bank,
      operations: [operationOf(leg, worker)],
    }));
    // No Idempotency-Key: the bench measures the protocol's own writes, as it always has.
    const r = await client.run({ participants, idempotent: false });
    if (r.outcome !== "committed")
      throw new Error(
        `coordinator answered ${r.outcome} ${JSON.stringify(r.outcome === "aborted" ? (r.refusedBy ?? r.reason) : r.reason).slice(0, 300)}`,
      );
  };
}

function poolOf(pools: ReadonlyMap<string, pg.Pool>, bank: string): pg.Pool {
  const pool = pools.get(bank);
  if (!pool) throw new Error(`no pool for ${bank}`);
  return pool;
}
