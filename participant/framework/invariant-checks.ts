/**
 * Running an application's invariant checks: in one read-only REPEATABLE READ snapshot, which
 * the framework opens, so that every check of one call sees the same database state (a ledger
 * and the balances it explains, say) without each application writing its own BEGIN.
 */
import type { Pool, PoolClient } from "pg";
import type { Application, InvariantCheck } from "./application.js";

/** Violations named in a check's detail; the rest are counted. */
const MAX_NAMED = 10;

/** A check's result: holds when `problems` is empty; otherwise the first ones are named. */
export function verdict(
  name: string,
  checked: string,
  problems: readonly string[],
): InvariantCheck {
  const more = problems.length > MAX_NAMED ? `; and ${problems.length - MAX_NAMED} more` : "";
  return {
    name,
    holds: problems.length === 0,
    detail: problems.length === 0 ? checked : `${problems.slice(0, MAX_NAMED).join("; ")}${more}`,
  };
}

export async function runInvariants<Ops>(
  pool: Pool,
  application: Application<Ops>,
): Promise<InvariantCheck[]> {
  if (!application.invariants) return [];
  const client: PoolClient = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const checks = await application.invariants(client);
    await client.query("COMMIT");
    return checks;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
