/**
 * The operators' actions on one transaction. Neither can make an outcome the decision register
 * does not hold: `abort` writes ABORT through the write-once register (decidedBy "operator") and
 * obeys whatever the register returns, so a transaction someone already committed stays
 * committed; `retry` only sends the register's decision again. There is no commit action. Both
 * then run phase 2 now, exactly as recovery would (recovery.ts finish), and say what each
 * participant answered.
 */
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { NotFoundError } from "../shared/errors.js";
import type { CoordinatorMetrics } from "./coordinator-metrics.js";
import { OperatorRefusal } from "./operator-errors.js";
import type { ActionAnswer } from "./operator-routes.js";
import type { CoreState } from "./protocol.js";
import type { Recovery } from "./recovery.js";
import { withRedis } from "./redis-errors.js";

export interface ActionDeps {
  log: DurableLog;
  recovery: Pick<Recovery, "finish">;
  metrics?: Pick<CoordinatorMetrics, "recoveryActions"> | undefined;
}

/** The reason the register records for an operator's abort. */
export const OPERATOR_ABORT_REASON = "aborted by an operator";

const notFound = (txid: string) =>
  new NotFoundError(
    `no transaction ${txid} in the decision log (never begun here, or expired after the retention period); nothing was changed`,
  );

const ended = (r: TxRecord) =>
  r.state === "committed" || r.state === "aborted" || r.endedAtMs !== undefined;

export async function abortTransaction(deps: ActionDeps, txid: string): Promise<ActionAnswer> {
  const record = await withRedis(() => deps.log.get(txid));
  if (!record) throw notFound(txid);
  if (record.decision === "commit") throw committed(record);
  let alreadyDecided = record.decision === "abort";
  if (!alreadyDecided) {
    // The participant of a one-phase transaction commits or aborts on its own: an ABORT in the
    // register could contradict what it did. Recovery settles it by asking it, after the deadline.
    if (record.onePhase)
      throw new OperatorRefusal(
        "one-phase",
        `transaction ${txid} is one-phase and undecided: only its participant (${record.participants.join(", ")}) decides it, and recovery settles it by asking that participant once its deadline has passed; nothing was changed`,
      );
    const stored = await withRedis(() =>
      deps.log.decideOnce(txid, "abort", { by: "operator", reason: OPERATOR_ABORT_REASON }),
    );
    // Someone decided between our read and our write: the register's answer is the one obeyed.
    if (stored.decision === "commit") throw committed({ ...record, decidedBy: undefined });
    alreadyDecided = !stored.won;
    if (stored.won) deps.metrics?.recoveryActions.inc({ action: "operator-abort" });
  }
  const after = await withRedis(() => deps.log.get(txid));
  if (!after) throw notFound(txid);
  return runPhase2(deps, after, "abort", alreadyDecided);
}

export async function retryTransaction(deps: ActionDeps, txid: string): Promise<ActionAnswer> {
  const record = await withRedis(() => deps.log.get(txid));
  if (!record) throw notFound(txid);
  if (record.decision === undefined)
    throw new OperatorRefusal(
      "undecided",
      `transaction ${txid} has no decision yet (state ${record.state}): there is nothing to send. Abort it (POST /v1/operator/transactions/${txid}/abort), or wait: recovery aborts it once its deadline has passed; nothing was changed`,
    );
  if (ended(record))
    throw new OperatorRefusal(
      "already-finished",
      `transaction ${txid} has ended (${record.state}): every participant that had to hear the decision acknowledged it; there is nothing to do`,
    );
  deps.metrics?.recoveryActions.inc({ action: "operator-retry" });
  return runPhase2(deps, record, "retry", true);
}

function committed(record: TxRecord): OperatorRefusal {
  const by = record.decidedBy ? ` (decided by ${record.decidedBy})` : "";
  return new OperatorRefusal(
    "already-committed",
    `transaction ${record.txid} is committed: the decision register says commit${by}, and a decision is never changed; nothing was changed`,
  );
}

async function runPhase2(
  deps: ActionDeps,
  record: TxRecord,
  action: "abort" | "retry",
  alreadyDecided: boolean,
): Promise<ActionAnswer> {
  const endedBefore = ended(record);
  const { state, failures } = await deps.recovery.finish(record);
  const decision = state.decision ?? record.decision ?? "abort";
  const finished = state.phase === "committed" || state.phase === "aborted";
  const participants = resultsOf(state, failures, endedBefore);
  const acked = participants.filter((p) => p.result === "acknowledged").length;
  const left = participants.filter(
    (p) => p.result === "not-acknowledged" || p.result === "refused",
  );
  const what =
    action === "abort" && !alreadyDecided
      ? "aborted by the operator: the decision register now says abort"
      : `the decision register says ${decision}${record.decidedBy ? ` (decided by ${record.decidedBy})` : ""}${action === "abort" ? "; it was already aborted" : ""}`;
  const how = endedBefore
    ? "the transaction had already ended; nothing was sent"
    : finished
      ? `sent to the participants: ${acked} acknowledged now; the transaction has ended`
      : `sent to the participants: ${acked} acknowledged now, ${left.map((p) => p.name).join(", ")} did not (recovery keeps sending)`;
  return {
    txid: record.txid,
    action,
    decision,
    decidedBy: record.decidedBy ?? null,
    alreadyDecided,
    finished,
    message: `${what}; ${how}`,
    participants,
  };
}

function resultsOf(
  state: CoreState,
  failures: ReadonlyMap<string, string>,
  endedBefore: boolean,
): ActionAnswer["participants"] {
  return state.participants.map((name) => {
    if (state.loggedAcks[name]) return { name, result: "already-acknowledged" };
    if (!state.phase2Targets.includes(name)) return { name, result: "not-needed" };
    if (state.acks[name]) return { name, result: "acknowledged" };
    // An end record means everyone acknowledged, also where the log keeps no ack of its own.
    if (endedBefore) return { name, result: "already-acknowledged" };
    const error = failures.get(name);
    const result = state.refused.includes(name) ? "refused" : "not-acknowledged";
    return { name, result, ...(error !== undefined ? { error } : {}) };
  });
}
