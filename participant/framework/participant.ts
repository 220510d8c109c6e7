/**
 * A 2PC participant on PostgreSQL. PREPARE executes the application's operations in a local
 * transaction and ends it with PREPARE TRANSACTION; COMMIT and ABORT finish it. PostgreSQL is the
 * truth about what is prepared or committed; the journal (Redis) records each vote and decision
 * before the participant acts on it. Every message is idempotent by txid.
 */
import pg from "pg";
import { monotonicMs } from "../../shared/clock.js";
import type { DurableLog } from "../../shared/durable-log.js";
import { NotVotedError, VoteCode } from "../../shared/durable-log.js";
import {
  AlreadyAbortedError,
  AlreadyCommittedError,
  AlreadyPreparedError,
  NotPreparedError,
  UnavailableError,
} from "../../shared/errors.js";
import { gidFor } from "../../shared/ids.js";
import type { Failpoints } from "../../shared/failpoints.js";
import type { Logger } from "../../shared/logger.js";
import type { DecisionAck, OnePhaseResponse, PrepareResponse } from "../../shared/messages.js";
import { VoteNoError, type Application, type LockKey } from "./application.js";
import { KeyedMutex } from "./keyed-mutex.js";
import { parseWith } from "../../shared/http-server.js";
import { lockKeysOf } from "../../shared/operation-rules.js";
import { PG, pgCode, pgTable, voteNoReasonFor } from "./pg-errors.js";
import { refusalFromSql } from "./pg-store.js";

export interface ParticipantOptions {
  name: string;
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  /**
   * PREPARE votes NO (`busy`) once the server holds this many prepared transactions: below
   * max_prepared_transactions, so a full table is met with a clean refusal, not an error.
   */
  preparedLimit: number;
  /** PREPAREs that may wait for a lock at once: fewer than the PREPARE pool holds (see concord_lock_keys). */
  maxWaiters: number;
}

/** PostgreSQL's literal quoting (standard_conforming_strings on, as by default). */
const escapeLiteral = (value: string): string => pg.escapeLiteral(value);

/** The refusal a repeated PREPARE meets when this txid is prepared here already. */
/** The table of each transaction's outcome here (pg-store.ts): a txid's row is written once. */
const OUTCOME_TABLE = "concord_txn";
const ALREADY_PREPARED = "already-prepared";

type Outcome = { prepared: boolean; state: "committed" | "aborted" | undefined };

export class Participant<Ops> {
  private readonly mutex = new KeyedMutex();
  /** The PostgreSQL backend running each txid's PREPARE right now (see abort). */
  private readonly running = new Map<string, number>();

  constructor(
    private readonly options: ParticipantOptions,
    /** Runs PREPARE work: transactions that may wait on row locks. */
    private readonly pool: pg.Pool,
    /**
     * Runs COMMIT/ROLLBACK PREPARED, outcome checks and tombstones. Kept apart so that phase 2,
     * which releases locks, never queues behind prepares that are waiting for those locks.
     */
    private readonly decisionPool: pg.Pool,
    private readonly journal: DurableLog,
    private readonly app: Application<Ops>,
    private readonly logger: Logger,
    private readonly failpoints: Failpoints,
  ) {}

  get name(): string {
    return this.options.name;
  }

  private gid(txid: string): string {
    return gidFor(this.options.name, txid);
  }

  /**
   * `ordered`: the coordinator sends this transaction's PREPAREs one participant after the other
   * (a retry after a conflict), which lets it wait for other ordered ones (concord_lock_keys).
   */
  async prepare(
    txid: string,
    rawOperations: unknown[],
    timeoutMs: number | undefined,
    participants: readonly string[] = [],
    ordered = false,
  ): Promise<PrepareResponse> {
    // The coordinator's deadline runs from now: time spent queued counts against it.
    const deadlineAt = monotonicMs() + (timeoutMs ?? this.options.statementTimeoutMs);
    // Validation happens before anything is written: a malformed request changes nothing.
    const ops = parseWith(this.app.operations, rawOperations, "body.operations");
    // Before the per-txid lock: a PREPARE held here is one still on its way, which an ABORT
    // sent later by the coordinator can overtake.
    // Awaited only when armed: otherwise messages of one batch reach the mutex in the order sent.
    if (this.failpoints.isArmed("participant.before-prepare"))
      await this.failpoints.hit("participant.before-prepare");
    // No journal read first: PostgreSQL answers whether this txid was seen. The outcome row's
    // insert fails on a tombstone or a committed row, and times out on a row we hold prepared
    // (a repeated PREPARE); `refuse` turns each into the vote already given.
    return this.mutex.run(txid, async () => {
      const vote = await this.executeAndPrepare(txid, ops, deadlineAt, participants, ordered);
      if (vote.vote === "yes") await this.failpoints.hit("participant.after-prepare");
      return vote;
    });
  }

  private async executeAndPrepare(
    txid: string,
    ops: Ops,
    deadlineAt: number,
    participants: readonly string[],
    ordered: boolean,
  ): Promise<PrepareResponse> {
    // Nothing written and no lock to keep: a read-only outcome releases everything and leaves phase 2.
    const run = await this.inTransaction(
      txid,
      ops,
      deadlineAt,
      `PREPARE TRANSACTION '${this.gid(txid)}'`,
      "ROLLBACK",
      ordered,
    );
    // The connection is back in the pool before any follow-up query: holding it while asking
    // for another could exhaust the pool under load.
    if (!run.ok) return this.refuse(txid, run.error, participants);
    const { readOnly, results } = run.value;
    if (readOnly) {
      await this.journal.recordVote(txid, this.name, "read-only", { participants });
      this.logger.debug({ txid, vote: "read-only" }, "vote");
      return { vote: "read-only", ...(results ? { results } : {}) };
    }
    return this.journalYes(txid, results, participants);
  }

  /**
   * BEGIN with timeouts and the outcome row, the operations, then `end` (PREPARE TRANSACTION or
   * COMMIT; `readOnlyEnd` when nothing was written). When the application gives its statements
   * as text, all of it is one multi-statement query: one round trip instead of one per
   * statement, and a refusal raised inside stops it before `end`. Otherwise the application's
   * `execute` runs between BEGIN and `end`. Any failure rolls back; the error is returned (as a
   * NO vote's VoteNoError where it is a refusal), not thrown.
   */
  private async inTransaction(
    txid: string,
    ops: Ops,
    deadlineAt: number,
    end: string,
    readOnlyEnd: string,
    ordered: boolean,
  ): Promise<
    { ok: true; value: { readOnly: boolean; results?: unknown[] } } | { ok: false; error: unknown }
  > {
    const client = await this.connect();
    let broken: Error | undefined;
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid !== undefined) this.running.set(txid, pid);
    try {
      // A PREPARE that waited past the coordinator's deadline for a connection would only
      // prepare a transaction that is certainly aborted: refuse it before it takes any lock.
      const remainingMs = Math.floor(deadlineAt - monotonicMs());
      if (remainingMs < 1) throw new VoteNoError("deadline-passed");
      const head = this.beginStatements(
        txid,
        remainingMs,
        end.startsWith("PREPARE"),
        this.lockKeys(ops),
        ordered,
      );
      const plan = this.app.statements?.(txid, ops, escapeLiteral);
      if (plan) {
        const reply = (await client.query([...head, ...plan.sql, end].join(";\n"))) as unknown as
          pg.QueryResult | pg.QueryResult[];
        const results = Array.isArray(reply) ? reply : [reply];
        return {
          ok: true,
          value: {
            readOnly: false,
            results: plan.interpret(results.slice(head.length, head.length + plan.sql.length)),
          },
        };
      }
      await client.query(head.join("; "));
      const outcome = await this.app.execute(client, txid, ops);
      await client.query(outcome.readOnly ? readOnlyEnd : end);
      return { ok: true, value: outcome };
    } catch (error) {
      await client
        .query("ROLLBACK")
        .catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      const refusal = refusalFromSql(error);
      return {
        ok: false,
        error: refusal
          ? new VoteNoError(refusal.reason, refusal.detail)
          : (this.app.refusalFor?.(error, ops) ?? error),
      };
    } finally {
      if (this.running.get(txid) === pid) this.running.delete(txid);
      client.release(broken);
    }
  }

  /** The YES vote is journaled before it is sent; without the journal entry there is no YES. */
  private async journalYes(
    txid: string,
    results: unknown[] | undefined,
    participants: readonly string[],
  ): Promise<PrepareResponse> {
    let stored;
    try {
      stored = await this.journal.recordVote(txid, this.name, "yes", { participants });
    } catch (err) {
      // The write may have landed with its reply lost: a tombstone makes sure the YES it may
      // hold can never be acted on (PostgreSQL is the truth about what is prepared).
      await this.rollbackPrepared(txid);
      await this.writeTombstone(txid);
      throw new UnavailableError(
        `journal unreachable; transaction ${txid} was rolled back: ${(err as Error).message}`,
      );
    }
    if (stored.code === VoteCode.Decided && stored.decision === "abort") {
      // An ABORT journaled before a crash kept it from writing its tombstone: finish its work.
      await this.rollbackPrepared(txid);
      await this.writeTombstone(txid);
      return { vote: "no", reason: "already-aborted" };
    }
    this.logger.debug({ txid, vote: "yes" }, "prepared");
    return { vote: "yes", ...(results ? { results } : {}) };
  }

  /** Turns a failed prepare into a NO vote, made permanent by a tombstone, or rethrows a bug. */
  private async refuse(
    txid: string,
    err: unknown,
    participants: readonly string[],
  ): Promise<PrepareResponse> {
    if (pgCode(err) === PG.uniqueViolation && pgTable(err) === OUTCOME_TABLE) {
      // Seen before: committed means our YES was given and acted on; a tombstone means NO.
      const { state } = await this.outcome(txid);
      return state === "committed" ? { vote: "yes" } : { vote: "no", reason: "already-aborted" };
    }
    // A repeated PREPARE of a transaction prepared here: the YES already given stands.
    if (err instanceof VoteNoError && err.reason === ALREADY_PREPARED)
      return this.journalYes(txid, undefined, participants);
    let reason: string;
    let detail: Record<string, unknown> | undefined;
    if (err instanceof VoteNoError) {
      reason = err.reason;
      detail = err.detail;
    } else {
      const known = voteNoReasonFor(err);
      if (known === undefined) throw err;
      reason = known;
      // Waiting on our own outcome row means this txid is already prepared (a repeated PREPARE
      // whose journal entry was lost): that is a YES, and a tombstone would wait on it forever.
      if ((await this.outcome(txid)).prepared)
        return this.journalYes(txid, undefined, participants);
    }
    await this.writeTombstone(txid);
    await this.journal.recordVote(txid, this.name, "no", { reason, participants });
    this.logger.info({ txid, vote: "no", reason, detail }, "vote");
    return { vote: "no", reason, ...(detail ? { detail } : {}) };
  }

  async commit(txid: string): Promise<DecisionAck> {
    const gid = this.gid(txid);
    return this.mutex.run(txid, async () => {
      // The journal takes the COMMIT only where it holds our YES vote, which is written only
      // after PREPARE TRANSACTION succeeded: a stray COMMIT cannot put a decision there, and the
      // common case costs no query to PostgreSQL before COMMIT PREPARED.
      let stored;
      try {
        stored = await this.journal.decideOnce(txid, "commit", {
          by: "participant",
          reason: "COMMIT received",
          missingRecord: { votedYes: this.name },
        });
      } catch (err) {
        if (!(err instanceof NotVotedError)) throw err;
        return this.commitWithoutVote(txid);
      }
      if (stored.decision !== "commit")
        throw new AlreadyAbortedError(txid, "has ABORT journaled; refusing COMMIT");
      await this.failpoints.hit("participant.before-commit-prepared");
      try {
        await this.decisionPool.query(`COMMIT PREPARED '${gid}'`);
      } catch (err) {
        if (pgCode(err) !== PG.undefinedObject) throw err;
        // Nothing prepared under this gid: a repeated COMMIT, or a broken invariant.
        const { state } = await this.outcome(txid);
        if (state !== "committed")
          throw new NotPreparedError(
            txid,
            `has COMMIT journaled but is not prepared here (outcome: ${state ?? "none"})`,
          );
        return { txid, state: "committed" };
      }
      this.logger.debug({ txid, state: "committed" }, "commit prepared");
      await this.failpoints.hit("participant.after-commit-prepared");
      // No end record: a journaled COMMIT expires on its own (see shared/lua/decide-voted-3.lua).
      return { txid, state: "committed" };
    });
  }

  /** A COMMIT with no YES of ours journaled: only an earlier commit (one-phase) makes it right. */
  private async commitWithoutVote(txid: string): Promise<DecisionAck> {
    const { prepared, state } = await this.outcome(txid);
    if (!prepared && state === "committed") return { txid, state: "committed" };
    if (state === "aborted") throw new AlreadyAbortedError(txid);
    throw new NotPreparedError(txid);
  }

  /**
   * The end record only lets the journal entry expire; the answer need not wait for it. If it
   * is lost, recovery's `endFinishedJournalRecords` writes it.
   */
  private endInBackground(txid: string): void {
    this.journal.end(txid, [this.name]).catch((err: unknown) => {
      this.logger.warn(
        { txid, err: String(err) },
        "journal end not written; recovery will write it",
      );
    });
  }

  async abort(txid: string): Promise<DecisionAck> {
    // An ABORT that overtakes its PREPARE waits for it (the per-txid mutex). A PREPARE waiting its
    // turn on a row would hold that place in the queue, and a pool connection, until its
    // deadline: it is cancelled instead, and ends as a NO vote. Only while the backend still
    // runs this txid (its application_name says so): a connection given to another transaction
    // meanwhile is left alone.
    await this.cancelRunning(txid);
    return this.mutex.run(txid, async () => {
      const before = await this.outcome(txid);
      if (before.state === "committed" && !before.prepared) {
        // Committed (in one phase, or a COMMIT came first): ABORT can no longer hold.
        throw new AlreadyCommittedError(txid);
      }
      const stored = await this.journal.decideOnce(txid, "abort", {
        by: "participant",
        reason: "ABORT received",
        missingRecord: "create",
      });
      if (stored.decision !== "abort")
        throw new AlreadyCommittedError(txid, "has COMMIT journaled; refusing ABORT");
      if (before.prepared) await this.rollbackPrepared(txid);
      // The tombstone makes a PREPARE that arrives after this ABORT fail on the unique key.
      await this.writeTombstone(txid);
      this.logger.debug({ txid, state: "aborted" }, "aborted");
      this.endInBackground(txid);
      return { txid, state: "aborted" };
    });
  }

  /** One participant only: execute and commit locally, no prepare round. */
  async onePhase(
    txid: string,
    rawOperations: unknown[],
    timeoutMs: number | undefined,
  ): Promise<OnePhaseResponse> {
    const deadlineAt = monotonicMs() + (timeoutMs ?? this.options.statementTimeoutMs);
    const ops = parseWith(this.app.operations, rawOperations, "body.operations");
    return this.mutex.run(txid, async () => {
      // An ABORT journaled before its tombstone was written (a crash between the two) still fences.
      if ((await this.journal.get(txid))?.decision === "abort")
        return { outcome: "aborted", reason: "already-aborted" };
      // One participant only: its waits are all here, taken in key order, so it can never close
      // a cycle and may wait like an ordered transaction.
      const run = await this.inTransaction(txid, ops, deadlineAt, "COMMIT", "COMMIT", true);
      if (!run.ok) return this.refuseOnePhase(txid, run.error);
      this.logger.debug({ txid, outcome: "committed" }, "one-phase commit");
      return { outcome: "committed", ...(run.value.results ? { results: run.value.results } : {}) };
    });
  }

  private async refuseOnePhase(txid: string, err: unknown): Promise<OnePhaseResponse> {
    if (pgCode(err) === PG.uniqueViolation && pgTable(err) === OUTCOME_TABLE) {
      const { state } = await this.outcome(txid);
      return state === "committed"
        ? { outcome: "committed" }
        : { outcome: "aborted", reason: "already-aborted" };
    }
    const reason = err instanceof VoteNoError ? err.reason : voteNoReasonFor(err);
    if (reason === undefined) throw err;
    // Prepared here by a two-phase PREPARE of the same txid: only its decision may end it.
    if (reason === ALREADY_PREPARED) throw new AlreadyPreparedError(txid);
    await this.writeTombstone(txid);
    const detail = err instanceof VoteNoError ? err.detail : undefined;
    this.logger.info({ txid, outcome: "aborted", reason }, "one-phase abort");
    return { outcome: "aborted", reason, ...(detail ? { detail } : {}) };
  }

  /**
   * A peer asks what we know while the coordinator is unreachable (cooperative termination).
   * We answer a decision only when we know it. If we have not voted, we never will: a tombstone
   * makes a later PREPARE vote NO, so answering ABORT is safe. If we voted YES and have no
   * decision, we are in doubt like the asker, and say so.
   */
  async peerInquiry(txid: string): Promise<"commit" | "abort" | "unknown"> {
    return this.mutex.run(txid, async () => {
      const [outcome, record] = await Promise.all([this.outcome(txid), this.journal.get(txid)]);
      if (outcome.state === "committed" && !outcome.prepared) return "commit";
      if (outcome.state === "aborted") return "abort";
      if (record?.decision) return record.decision;
      if (outcome.prepared || record?.votes[this.name] !== undefined) return "unknown";
      await this.journal.decideOnce(txid, "abort", {
        by: "participant",
        reason: "a peer asked before this participant voted",
        missingRecord: "create",
      });
      await this.writeTombstone(txid);
      await this.journal.end(txid, [this.name]);
      this.logger.info(
        { txid, answer: "abort" },
        "peer inquiry before any vote: tombstone written",
      );
      return "abort";
    });
  }

  private async cancelRunning(txid: string): Promise<void> {
    const pid = this.running.get(txid);
    if (pid === undefined) return;
    await this.decisionPool
      .query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2",
        [pid, `concord:${txid}`],
      )
      .catch((err: unknown) => {
        this.logger.warn(
          { txid, err: String(err) },
          "could not cancel a running PREPARE; the ABORT waits for it",
        );
      });
  }

  /** Prepared transactions of this participant at least `minAgeMs` old, by txid. */
  async preparedTxids(minAgeMs: number): Promise<string[]> {
    const prefix = `concord:${this.name}:`;
    const { rows } = await this.decisionPool.query<{ gid: string }>(
      "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) AND prepared <= now() - make_interval(secs => $2::double precision / 1000) ORDER BY prepared LIMIT 1000",
      [prefix, minAgeMs],
    );
    return rows.map((r) => r.gid.slice(prefix.length));
  }

  /**
   * Journal records that got a decision but no end record (a crash between the two): once
   * PostgreSQL holds nothing prepared for them, they are ended so they expire.
   */
  async endFinishedJournalRecords(limit: number): Promise<number> {
    let ended = 0;
    for (const txid of await this.journal.due("unacked", limit)) {
      if (this.isBusy(txid)) continue;
      const done = await this.mutex.run(txid, async () => !(await this.outcome(txid)).prepared);
      if (done) {
        await this.journal.end(txid, [this.name]);
        ended++;
      }
    }
    return ended;
  }

  /** True while a message of this txid is being handled here: recovery leaves it alone. */
  isBusy(txid: string): boolean {
    return this.mutex.has(txid);
  }

  /** What PostgreSQL knows about a txid: prepared right now, and the committed outcome row. */
  async outcome(txid: string): Promise<Outcome> {
    const { rows } = await this.decisionPool.query<{
      prepared: boolean;
      state: "committed" | "aborted" | null;
    }>(
      "SELECT EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1) AS prepared, (SELECT state FROM concord_txn WHERE txid = $2) AS state",
      [this.gid(txid), txid],
    );
    const row = rows[0];
    return { prepared: row?.prepared ?? false, state: row?.state ?? undefined };
  }

  private async rollbackPrepared(txid: string): Promise<void> {
    try {
      await this.decisionPool.query(`ROLLBACK PREPARED '${this.gid(txid)}'`);
    } catch (err) {
      if (pgCode(err) !== PG.undefinedObject) throw err;
    }
  }

  private async writeTombstone(txid: string): Promise<void> {
    const { rowCount } = await this.decisionPool.query(
      "INSERT INTO concord_txn (txid, state) VALUES ($1, 'aborted') ON CONFLICT (txid) DO NOTHING",
      [txid],
    );
    if (rowCount === 0) {
      const { state } = await this.outcome(txid);
      if (state === "committed") throw new AlreadyCommittedError(txid);
    }
  }

  /**
   * BEGIN, the timeouts and the outcome row, sent together. A repeated PREPARE of a transaction
   * we hold prepared would wait on our own outcome row until the lock timeout; a check of
   * pg_prepared_xacts first refuses it at once as "already-prepared", which `refuse` turns into
   * the YES already given. (A short lock timeout on the insert would also stop that wait, but
   * under CPU starvation it fires on relation-extension locks too and aborts innocent
   * transfers: seen in the 8-bank benchmark.) The txid and gid passed strict checks before they
   * got here and are escaped as literals all the same.
   */
  private beginStatements(
    txid: string,
    remainingMs: number,
    preparing: boolean,
    lockKeys: readonly LockKey[],
    ordered: boolean,
  ): string[] {
    // Locks are bounded by the coordinator's deadline as well as our own limit: a transfer and a
    // consistent read can wait on each other across databases, where no single PostgreSQL sees
    // the deadlock. Both values are integers we computed, never client text.
    const lockMs = Math.max(1, Math.floor(Math.min(this.options.lockTimeoutMs, remainingMs)));
    const statementMs = Math.max(
      1,
      Math.floor(Math.min(this.options.statementTimeoutMs, remainingMs)),
    );
    const gid = escapeLiteral(this.gid(txid));
    // A PREPARE is also refused when the server's prepared-transaction slots are nearly full.
    // Slots are per server. They are counted before any lock is taken, in the same scan of
    // pg_prepared_xacts; two PREPAREs can pass this together, which the reserve below
    // max_prepared_transactions absorbs (and a full table is still a NO vote: pg-errors.ts maps
    // it to "busy" too). A one-phase commit takes no slot.
    const full = preparing
      ? ` OR count(*) >= ${Math.max(1, Math.floor(this.options.preparedLimit))}`
      : "";
    return [
      "BEGIN",
      `SET LOCAL statement_timeout = ${statementMs}`,
      `SET LOCAL lock_timeout = ${lockMs}`,
      // Others find this transaction by its session while it runs (concord_lock_holders).
      `SET LOCAL application_name = ${escapeLiteral(`concord:${txid}`)}`,
      `SELECT concord_refuse(CASE WHEN bool_or(gid = ${gid}) THEN '{"reason":"${ALREADY_PREPARED}"}' ELSE '{"reason":"busy"}' END)
         FROM pg_prepared_xacts HAVING bool_or(gid = ${gid})${full}`,
      `INSERT INTO concord_txn (txid, state) VALUES (${escapeLiteral(txid)}, 'committed')`,
      // The wait ends a little before the deadline, so the coordinator hears a NO vote
      // (lock-timeout) rather than no answer at all.
      ...lockStatements(
        txid,
        lockKeys,
        remainingMs - Math.min(200, Math.floor(remainingMs / 10)),
        ordered,
        this.options.maxWaiters,
      ),
    ];
  }

  /** The application's own lock keys, or those its kinds' rules name. */
  private lockKeys(ops: Ops): LockKey[] {
    if (this.app.lockKeys) return this.app.lockKeys(ops);
    if (!this.app.rules || !Array.isArray(ops)) return [];
    return lockKeysOf(this.app.rules, ops as unknown[]);
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new UnavailableError(`PostgreSQL unreachable: ${(err as Error).message}`);
    }
  }
}

/**
 * The wait-die lock of every key the operations touch, sorted and each once (exclusive where any
 * operation writes it), before any of them is read or written: transactions at this participant
 * then take their keys in one order, and a cycle across participants is refused at once (see
 * concord_lock_keys in pg-store.ts). The wait is bounded by the coordinator's deadline.
 */
function lockStatements(
  txid: string,
  keys: readonly LockKey[],
  remainingMs: number,
  ordered: boolean,
  maxWaiters: number,
): string[] {
  if (keys.length === 0) return [];
  const merged = new Map<string, boolean>();
  for (const k of keys) merged.set(k.key, (merged.get(k.key) ?? false) || k.exclusive);
  const sorted = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const array = (items: string[]) => `ARRAY[${items.join(",")}]`;
  return [
    `SELECT concord_lock_keys(${array(sorted.map(([k]) => escapeLiteral(k)))}::text[], ${array(sorted.map(([, x]) => String(x)))}::boolean[], ${escapeLiteral(txid)}, ${ordered}, ${Math.max(1, Math.floor(remainingMs))}, ${Math.max(1, Math.floor(maxWaiters))})`,
  ];
}
