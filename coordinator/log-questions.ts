/**
 * Questions asked of the log about one transaction: a participant's inquiry for the decision,
 * and a client's repeated request (same Idempotency-Key). Each reads the record and lets the
 * core decide the answer (protocol-log.ts), which may be to abort through the register.
 */
import { monotonicMs, sleep } from "../shared/clock.js";
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { ForbiddenError } from "../shared/errors.js";
import { LIMITS } from "../shared/messages.js";
import { TransactionDriver, type DriverIo, type DriverRole } from "./driver.js";
import type { Engine } from "./engine.js";
import { fromLog, unknownTransaction, type Answer } from "./protocol.js";
import { withRedis } from "./redis-errors.js";
import type { AttemptSummary, SeriesResult } from "./series.js";
import { resultFromState, type TransactionResult } from "./transaction-result.js";

/** Neither asks anything of participants, nor leaves phase 2 for later: recovery has it. */
const QUESTION_ROLE: DriverRole = { decisionRetryDelayMs: 0, handOffDelayMs: () => 0 };

/**
 * A participant in doubt asks. The deadline was set on the Redis clock, so it is compared with
 * the Redis clock (read only when the answer depends on it).
 */
export async function decisionFor(
  engine: Engine,
  txid: string,
  asker: string,
): Promise<"commit" | "abort" | "pending"> {
  const { log } = engine.io;
  // An archived transaction's decision is answered from the archive, never presumed anew.
  const record = await log.find(txid);
  const drivenHere = engine.active.has(txid);
  const undecided = record !== undefined && record.decision === undefined && !drivenHere;
  const deadlinePassed = !undecided || (record.deadlineAtMs ?? 0) <= (await log.nowMs());
  const state = record ? fromLog(record, "inquiry") : unknownTransaction(txid, "inquiry");
  const answer = await new Promise<Answer>((resolve) => {
    const driver = new TransactionDriver(state, engine.io, { ...QUESTION_ROLE, answer: resolve });
    driver.dispatch({ type: "inquiry", asker, drivenHere, deadlinePassed });
  });
  if (answer.kind === "not-a-participant") {
    throw new ForbiddenError(`participant ${asker} is not part of transaction ${txid}`);
  }
  return answer.kind === "pending" ? "pending" : answer.decision;
}

/**
 * The answer of an earlier request with the same Idempotency-Key: waits (bounded) until its
 * series of attempts has ended, then answers its last attempt, with every attempt listed.
 */
export async function seriesResultOf(
  engine: Engine,
  scopedKey: string,
  timeoutMs: number,
): Promise<SeriesResult> {
  const { log } = engine.io;
  const waitUntil = monotonicMs() + timeoutMs + 5000;
  let key = await withRedis(() => log.idempotencyState(scopedKey));
  while (!key.done && monotonicMs() < waitUntil) {
    // A first attempt that never began (its coordinator died before the begin record) is not
    // waited for past the request's own deadline.
    const pastDeadline = monotonicMs() > waitUntil - 5000 && !engine.active.has(key.txid);
    const latest = key.txid;
    if (pastDeadline && !(await withRedis(() => log.find(latest)))) break;
    await sleep(50);
    key = await withRedis(() => log.idempotencyState(scopedKey));
  }
  const result = await replayResult(engine, key.txid, waitUntil);
  return { ...result, attempts: await attemptsUpTo(log, key.txid) };
}

/**
 * The result of an earlier run, read from the log. The first request may still be running: its
 * decision is waited for until `waitUntil`, after which the core decides what the replay does.
 */
async function replayResult(
  engine: Engine,
  txid: string,
  waitUntil: number,
): Promise<TransactionResult> {
  for (;;) {
    const record = await withRedis(() => engine.io.log.find(txid));
    const gone = monotonicMs() > waitUntil || (!record && !engine.active.has(txid));
    const answered = await askReplay(engine.io, record, txid, gone);
    if (answered) return answered;
    await sleep(50);
  }
}

function askReplay(
  io: DriverIo,
  record: TxRecord | undefined,
  txid: string,
  gone: boolean,
): Promise<TransactionResult | undefined> {
  const state = record ? fromLog(record, "replay") : unknownTransaction(txid, "replay");
  return new Promise((resolve) => {
    const driver: TransactionDriver = new TransactionDriver(state, io, {
      ...QUESTION_ROLE,
      reply: (outcome, reason) => {
        resolve(resultFromState(driver.state, outcome, reason));
      },
    });
    if (driver.dispatch({ type: "replay", gone }) === 0) resolve(undefined);
  });
}

/** The attempts of a series, first to last, read back from the log by their `previous` links. */
async function attemptsUpTo(log: DurableLog, lastTxid: string): Promise<AttemptSummary[]> {
  const chain: AttemptSummary[] = [];
  let txid: string | undefined = lastTxid;
  for (let i = 0; txid !== undefined && i < LIMITS.maxAttempts; i++) {
    const id: string = txid;
    const record = await withRedis(() => log.find(id));
    const decision = record?.decision;
    const outcome =
      decision === "commit" ? "committed" : decision === "abort" ? "aborted" : "unknown";
    chain.unshift({ txid: id, outcome, ...(record?.reason ? { reason: record.reason } : {}) });
    txid = record?.previous;
  }
  return chain;
}
