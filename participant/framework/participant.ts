/**
 * A 2PC participant on PostgreSQL. PREPARE executes the application's operations in a local
 * transaction and ends it with PREPARE TRANSACTION; COMMIT and ABORT finish it. PostgreSQL is the
 * truth about what is prepared or committed; the journal (Redis) records each vote and decision
 * before the participant acts on it. Every message is idempotent by txid.
 *
 * This is the shell: it gathers facts (PostgreSQL, the journal, how the local transaction
 * ended), asks participant-core.ts what to do, and performs the actions it is given. Every
 * decision — which vote, when to roll back or write a tombstone, what to refuse — is the core's.
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
  UnprocessableError,
} from "../../shared/errors.js";
import { gidFor } from "../../shared/ids.js";
import {
  allows,
  beginAt,
  belowFloorMessage,
  type IsolationLevel,
  type IsolationPolicy,
} from "../../shared/isolation.js";
import type { Failpoints } from "../../shared/failpoints.js";
import type { Logger } from "../../shared/logger.js";
import type {
  DecisionAck,
  OnePhaseResponse,
  PrepareResponse,
  Vote,
} from "../../shared/messages.js";
import { VoteNoError, type Application, type LockKey } from "./application.js";
import { constraintRefusal } from "./constraint-votes.js";
import { KeyedMutex } from "./keyed-mutex.js";
import type { ParticipantEvent, ParticipantObserver } from "./participant-events.js";
import { isConnectionFailure, parseWith } from "../../shared/http-server.js";
import { lockKeysOf } from "../../shared/operation-rules.js";
import {
  decide,
  ParticipantInvariantError,
  type Action,
  type Answer,
  type DecisionWrite,
  type Facts,
  type JournalFacts,
  type JournalFailure,
  type LocalRun,
  type Message,
  type Refusal,
  type VoteWrite,
} from "./participant-core.js";
import { OUTCOME_TABLE, PG, pgCode, pgTable, voteNoReasonFor } from "./pg-errors.js";
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
  /** The level of a request that names none, and the weakest this participant runs. */
  isolation: IsolationPolicy;
  /** Told of every message handled (participant-events.ts): metrics, audit. */
  observe?: ParticipantObserver | undefined;
}

/** PostgreSQL's literal quoting (standard_conforming_strings on, as by default). */
const escapeLiteral = (value: string): string => pg.escapeLiteral(value);

/** The refusal a repeated PREPARE meets when this txid is prepared here already. */
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
    isolation?: IsolationLevel,
  ): Promise<PrepareResponse> {
    // The coordinator's deadline runs from now: time spent queued counts against it.
    const deadlineAt = monotonicMs() + (timeoutMs ?? this.options.statementTimeoutMs);
    // Validation happens before anything is written: a malformed request changes nothing.
    const ops = parseWith(this.app.operations, rawOperations, "body.operations");
    const level = this.levelOf(isolation);
    // Before the per-txid lock: a PREPARE held here is one still on its way, which an ABORT
    // sent later by the coordinator can overtake.
    // Awaited only when armed: otherwise messages of one batch reach the mutex in the order sent.
    if (this.failpoints.isArmed("participant.before-prepare"))
      await this.failpoints.hit("participant.before-prepare");
    // No journal read first: PostgreSQL answers whether this txid was seen (participant-core.ts).
    // Nothing written and no lock to keep: a read-only outcome releases everything.
    const end = `PREPARE TRANSACTION '${this.gid(txid)}'`;
    return this.mutex.run(txid, async () => {
      const local = { level, deadlineAt, end, readOnlyEnd: "ROLLBACK", ordered };
      const runLocal = () => this.runLocal(txid, ops, local);
      const done = await this.drive({
        txid,
        message: "prepare",
        runLocal,
        participants,
        isolation: level,
      });
      const vote = { ...prepareResponse(txid, done), isolation: level };
      if (vote.vote === "yes") await this.failpoints.hit("participant.after-prepare");
      return vote;
    });
  }

  /** One participant only: execute and commit locally, no prepare round. */
  async onePhase(
    txid: string,
    rawOperations: unknown[],
    timeoutMs: number | undefined,
    isolation?: IsolationLevel,
  ): Promise<OnePhaseResponse> {
    const deadlineAt = monotonicMs() + (timeoutMs ?? this.options.statementTimeoutMs);
    const ops = parseWith(this.app.operations, rawOperations, "body.operations");
    const level = this.levelOf(isolation);
    return this.mutex.run(txid, async () => {
      // One participant only: its waits are all here, taken in key order, so it can never close
      // a cycle and may wait like an ordered transaction.
      const local = { level, deadlineAt, end: "COMMIT", readOnlyEnd: "COMMIT", ordered: true };
      const runLocal = () => this.runLocal(txid, ops, local);
      const done = await this.drive({ txid, message: "one-phase", runLocal, isolation: level });
      return { ...onePhaseResponse(txid, done), isolation: level };
    });
  }

  /**
   * The level a message runs at: the one it names, else this participant's default. One below
   * the floor is refused before anything runs (the coordinator refuses it earlier still, from
   * the descriptor; this holds for any caller).
   */
  private levelOf(asked: IsolationLevel | undefined): IsolationLevel {
    const { floor, default: dflt } = this.options.isolation;
    const level = asked ?? dflt;
    if (!allows(floor, level))
      throw new UnprocessableError(
        belowFloorMessage(this.name, level, floor),
        "isolation-below-floor",
        "body.isolation",
      );
    return level;
  }

  async commit(txid: string): Promise<DecisionAck> {
    return this.mutex.run(txid, async () =>
      decisionAck(txid, await this.drive({ txid, message: "commit" })),
    );
  }

  async abort(txid: string): Promise<DecisionAck> {
    // An ABORT that overtakes its PREPARE waits for it (the per-txid mutex). A PREPARE waiting its
    // turn on a row would hold that place in the queue, and a pool connection, until its
    // deadline: it is cancelled instead, and ends as a NO vote. Only while the backend still
    // runs this txid (its application_name says so): a connection given to another transaction
    // meanwhile is left alone.
    await this.cancelRunning(txid);
    return this.mutex.run(txid, async () =>
      decisionAck(txid, await this.drive({ txid, message: "abort" })),
    );
  }

  /** A peer asks what we know while the coordinator is unreachable (cooperative termination). */
  async peerInquiry(txid: string): Promise<"commit" | "abort" | "unknown"> {
    return this.mutex.run(txid, async () => {
      const { answer } = await this.drive({ txid, message: "peer-inquiry" });
      if (answer.kind !== "inquiry") throw unexpected(txid, answer);
      return answer.decision;
    });
  }

  /**
   * Gathers facts, asks the core (participant-core.ts) what to do and does it, until the core
   * answers or refuses. Everything decided is decided there; this only performs.
   */
  private async drive(d: Drive): Promise<Done> {
    let facts: Facts = {};
    const scratch: Scratch = {};
    const startedAt = monotonicMs();
    for (let steps = 0; steps < 16; steps++) {
      const step = decide(d.message, facts);
      for (const action of step.actions)
        facts = { ...facts, ...(await this.perform(d, action, facts, scratch)) };
      if (!step.end) continue;
      if ("refusal" in step.end) {
        this.tell(d, startedAt, { kind: "refused", refusal: step.end.refusal.kind });
        throw refusalError(d.txid, step.end.refusal, scratch.error);
      }
      this.logAnswer(d, step.end.answer);
      this.tell(d, startedAt, eventResult(step.end.answer));
      return { answer: step.end.answer, results: scratch.results };
    }
    throw new ParticipantInvariantError(`${d.message} of ${d.txid} did not end`);
  }

  /** Tells the observer, if any; what it does cannot change the protocol's course. */
  private tell(d: Drive, startedAt: number, result: ParticipantEvent["result"]): void {
    const observe = this.options.observe;
    if (!observe) return;
    try {
      observe({
        participant: this.name,
        txid: d.txid,
        message: d.message,
        durationMs: monotonicMs() - startedAt,
        ...(d.isolation ? { isolation: d.isolation } : {}),
        result,
      });
    } catch (err) {
      this.logger.warn({ txid: d.txid, err: String(err) }, "participant observer failed");
    }
  }

  /** One action of the core's; a fact-gathering one returns what it found. */
  private async perform(
    d: Drive,
    action: Action,
    facts: Facts,
    scratch: Scratch,
  ): Promise<Partial<Facts>> {
    const { txid } = d;
    switch (action.type) {
      case "run-local": {
        if (!d.runLocal) throw new ParticipantInvariantError(`${d.message} runs no local work`);
        const { run, results, error } = await d.runLocal();
        Object.assign(scratch, { results, error });
        return { run };
      }
      case "read-postgres": {
        const { prepared, state } = await this.outcome(txid);
        return { pg: { prepared, outcome: state ?? "none" } };
      }
      case "read-journal":
        return { journal: await this.readJournal(txid, scratch) };
      case "journal-vote":
        return { voteWrite: await this.writeVote(d, action.vote, action.reason, scratch) };
      case "journal-decision":
        return { decisionWrite: await this.writeDecision(txid, action, scratch) };
      case "commit-prepared": {
        // The core's guard checked this already; COMMIT PREPARED is checked once more here.
        const w = facts.decisionWrite;
        if (w?.kind !== "stored" || w.decision !== "commit")
          throw new ParticipantInvariantError(
            `COMMIT PREPARED of ${txid} without COMMIT journaled`,
          );
        return { commitPrepared: await this.commitPrepared(txid) };
      }
      case "rollback-prepared":
        await this.rollbackPrepared(txid);
        return {};
      case "write-tombstone":
        await this.writeTombstone(txid);
        return {};
      case "journal-end":
        if (action.background) this.endInBackground(txid);
        else await this.journal.end(txid, [this.name]);
        return {};
    }
  }

  /** The local transaction of a PREPARE or a one-phase request, as the core's fact. */
  private async runLocal(txid: string, ops: Ops, local: LocalPlan): Promise<LocalRunResult> {
    // The connection is back in the pool before any follow-up query: holding it while asking
    // for another could exhaust the pool under load.
    const run = await this.inTransaction(txid, ops, local);
    if (run.ok)
      return {
        run: { kind: "executed", readOnly: run.value.readOnly },
        results: run.value.results,
      };
    return { run: localRunOf(run.error), error: run.error };
  }

  private async readJournal(txid: string, scratch: Scratch): Promise<JournalFacts> {
    try {
      const record = await this.journal.get(txid);
      return {
        kind: "read",
        vote: record?.votes[this.name] ?? "none",
        decision: record?.decision ?? "none",
      };
    } catch (err) {
      return journalFailure(err, scratch);
    }
  }

  private async writeVote(
    d: Drive,
    vote: Vote,
    reason: string | undefined,
    scratch: Scratch,
  ): Promise<VoteWrite> {
    try {
      const stored = await this.journal.recordVote(d.txid, this.name, vote, {
        ...(reason !== undefined ? { reason } : {}),
        participants: d.participants ?? [],
      });
      switch (stored.code) {
        case VoteCode.Recorded:
          return { kind: "recorded", vote };
        case VoteCode.AlreadyVoted:
          return {
            kind: "already-voted",
            vote: stored.vote ?? vote,
            decision: stored.decision ?? "none",
          };
        case VoteCode.Decided:
          return { kind: "decided", decision: stored.decision ?? "abort" };
      }
    } catch (err) {
      return journalFailure(err, scratch);
    }
  }

  private async writeDecision(
    txid: string,
    action: Extract<Action, { type: "journal-decision" }>,
    scratch: Scratch,
  ): Promise<DecisionWrite> {
    try {
      const stored = await this.journal.decideOnce(txid, action.decision, {
        by: "participant",
        reason: action.reason,
        missingRecord: action.missing === "create" ? "create" : { votedYes: this.name },
      });
      return { kind: "stored", decision: stored.decision };
    } catch (err) {
      if (err instanceof NotVotedError) return { kind: "not-voted" };
      return journalFailure(err, scratch);
    }
  }

  /** COMMIT PREPARED; `not-prepared` when nothing is prepared under our gid. */
  private async commitPrepared(txid: string): Promise<"done" | "not-prepared"> {
    await this.failpoints.hit("participant.before-commit-prepared");
    try {
      await this.decisionPool.query(`COMMIT PREPARED '${this.gid(txid)}'`);
    } catch (err) {
      if (pgCode(err) !== PG.undefinedObject) throw err;
      return "not-prepared";
    }
    this.logger.debug({ txid, state: "committed" }, "commit prepared");
    await this.failpoints.hit("participant.after-commit-prepared");
    // No end record: a journaled COMMIT expires on its own (see shared/lua/decide-voted-3.lua).
    return "done";
  }

  private logAnswer(d: Drive, answer: Answer): void {
    const { txid } = d;
    if (answer.kind === "vote" && answer.vote === "no")
      this.logger.info({ txid, vote: "no", reason: answer.reason, detail: answer.detail }, "vote");
    else if (answer.kind === "one-phase" && answer.outcome === "aborted")
      this.logger.info({ txid, outcome: "aborted", reason: answer.reason }, "one-phase abort");
    else if (answer.kind === "inquiry" && d.message === "peer-inquiry")
      this.logger.debug({ txid, answer: answer.decision }, "peer inquiry");
    else this.logger.debug({ txid, message: d.message, answer }, "answered");
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
    local: LocalPlan,
  ): Promise<
    { ok: true; value: { readOnly: boolean; results?: unknown[] } } | { ok: false; error: unknown }
  > {
    const { level, end, readOnlyEnd } = local;
    const client = await this.connect();
    let broken: Error | undefined;
    const pid = (client as unknown as { processID?: number }).processID;
    if (pid !== undefined) this.running.set(txid, pid);
    const keys = this.lockKeys(ops);
    // A snapshot level waits for its keys before it begins (see concord_lock_keys `session`).
    const waitFirst = level !== "read-committed" && keys.length > 0;
    try {
      if (waitFirst) await client.query(this.waitBeforeBegin(txid, keys, local).join(";\n"));
      const head = [
        ...this.beginStatements(txid, {
          level,
          // A PREPARE that waited past the coordinator's deadline for a connection would only
          // prepare a transaction that is certainly aborted: refuse it before it takes any lock.
          remainingMs: remainingOrRefuse(local.deadlineAt),
          preparing: end.startsWith("PREPARE"),
          lockKeys: keys,
          ordered: local.ordered,
        }),
        // Held as the transaction's now: the session's go, or PREPARE would refuse to hold both.
        ...(waitFirst ? ["SELECT pg_advisory_unlock_all()"] : []),
      ];
      // The session's name found it while it waited; the connection goes back to the pool.
      const tail = waitFirst ? ["RESET application_name"] : [];
      const plan = this.app.statements?.(txid, ops, escapeLiteral);
      if (plan) {
        const sql = [...head, ...plan.sql, end, ...tail];
        const reply = (await client.query(sql.join(";\n"))) as unknown as
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
      await client.query([outcome.readOnly ? readOnlyEnd : end, ...tail].join("; "));
      return { ok: true, value: outcome };
    } catch (error) {
      await client
        // Whatever the session took while waiting goes too: the connection is reused.
        .query(
          waitFirst
            ? "ROLLBACK; SELECT pg_advisory_unlock_all(); RESET application_name"
            : "ROLLBACK",
        )
        .catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      this.logContention(txid, level, error);
      const refusal = refusalFromSql(error);
      return {
        ok: false,
        // The application's own refusal first (a bank names its balance CHECK), then any other
        // constraint its statements broke: a NO vote naming it, never a 500.
        error: refusal
          ? new VoteNoError(refusal.reason, refusal.detail)
          : (this.app.refusalFor?.(error, ops) ?? constraintRefusal(error) ?? error),
      };
    } finally {
      if (this.running.get(txid) === pid) this.running.delete(txid);
      client.release(broken);
    }
  }

  /**
   * A serialization failure or a deadlock ends the local transaction as a NO vote that the
   * coordinator retries; the line keeps what PostgreSQL said of it (for a deadlock, which
   * processes waited for which locks), which the vote's reason alone does not.
   */
  private logContention(txid: string, level: IsolationLevel, error: unknown): void {
    const code = pgCode(error);
    if (code !== PG.serializationFailure && code !== PG.deadlockDetected) return;
    const { message, detail } = error as { message?: unknown; detail?: unknown };
    this.logger.warn(
      {
        txid,
        participant: this.name,
        isolation: level,
        sqlstate: code,
        pgMessage: typeof message === "string" ? message : undefined,
        pgDetail: typeof detail === "string" ? detail : undefined,
      },
      code === PG.deadlockDetected ? "deadlock" : "serialization failure",
    );
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
    {
      level,
      remainingMs,
      preparing,
      lockKeys,
      ordered,
    }: {
      level: IsolationLevel;
      remainingMs: number;
      preparing: boolean;
      lockKeys: readonly LockKey[];
      ordered: boolean;
    },
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
      beginAt(level),
      `SET LOCAL statement_timeout = ${statementMs}`,
      `SET LOCAL lock_timeout = ${lockMs}`,
      // Others find this transaction by its session while it runs (concord_lock_holders).
      `SET LOCAL application_name = ${escapeLiteral(`concord:${txid}`)}`,
      `SELECT concord_refuse(CASE WHEN bool_or(gid = ${gid}) THEN '{"reason":"${ALREADY_PREPARED}"}' ELSE '{"reason":"busy"}' END)
         FROM pg_prepared_xacts HAVING bool_or(gid = ${gid})${full}`,
      `INSERT INTO concord_txn (txid, state) VALUES (${escapeLiteral(txid)}, 'committed')`,
      ...lockStatements(txid, lockKeys, {
        remainingMs,
        ordered,
        maxWaiters: this.options.maxWaiters,
        session: false,
      }),
    ];
  }

  /**
   * The wait for the keys of a REPEATABLE READ or SERIALIZABLE transaction, before it begins:
   * as the session's locks, with the session named after the txid so that others find the
   * holder (concord_lock_holders) and an ABORT can cancel the wait (cancelRunning).
   */
  private waitBeforeBegin(txid: string, keys: readonly LockKey[], local: LocalPlan): string[] {
    const remainingMs = remainingOrRefuse(local.deadlineAt);
    return [
      `SET application_name = ${escapeLiteral(`concord:${txid}`)}`,
      ...lockStatements(txid, keys, {
        remainingMs,
        ordered: local.ordered,
        maxWaiters: this.options.maxWaiters,
        session: true,
      }),
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
  how: { remainingMs: number; ordered: boolean; maxWaiters: number; session: boolean },
): string[] {
  const { ordered, maxWaiters, session } = how;
  if (keys.length === 0) return [];
  // The wait ends a little before the deadline, so the coordinator hears a NO vote
  // (lock-timeout) rather than no answer at all.
  const waitMs = how.remainingMs - Math.min(200, Math.floor(how.remainingMs / 10));
  const merged = new Map<string, boolean>();
  for (const k of keys) merged.set(k.key, (merged.get(k.key) ?? false) || k.exclusive);
  const sorted = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const array = (items: string[]) => `ARRAY[${items.join(",")}]`;
  return [
    `SELECT concord_lock_keys(${array(sorted.map(([k]) => escapeLiteral(k)))}::text[], ${array(sorted.map(([, x]) => String(x)))}::boolean[], ${escapeLiteral(txid)}, ${ordered}, ${Math.max(1, Math.floor(waitMs))}, ${Math.max(1, Math.floor(maxWaiters))}, ${session})`,
  ];
}

/** Time left until the deadline, or a NO vote (`deadline-passed`) when none is. */
function remainingOrRefuse(deadlineAt: number): number {
  const remainingMs = Math.floor(deadlineAt - monotonicMs());
  if (remainingMs < 1) throw new VoteNoError("deadline-passed");
  return remainingMs;
}

/** An answer as the observer hears it (participant-events.ts): no operation results. */
function eventResult(answer: Answer): ParticipantEvent["result"] {
  switch (answer.kind) {
    case "vote":
      return {
        kind: "vote",
        vote: answer.vote,
        ...(answer.reason ? { reason: answer.reason } : {}),
      };
    case "one-phase":
      return {
        kind: "one-phase",
        outcome: answer.outcome,
        ...(answer.reason ? { reason: answer.reason } : {}),
      };
    case "ack":
      return { kind: "ack", state: answer.state };
    case "inquiry":
      return { kind: "inquiry", decision: answer.decision };
  }
}

interface Drive {
  txid: string;
  message: Message;
  /** The local transaction (PREPARE and one-phase only). */
  runLocal?: () => Promise<LocalRunResult>;
  /** Every participant of the transaction, journaled with our vote (PREPARE only). */
  participants?: readonly string[];
  /** The level of the local transaction (PREPARE and one-phase only). */
  isolation?: IsolationLevel;
}

/** What the shell keeps beside the facts: the operations' results and the last error met. */
interface Scratch {
  results?: unknown[] | undefined;
  error?: unknown;
}

interface Done {
  answer: Answer;
  results: unknown[] | undefined;
}

/** How a failed local transaction counts for the core (see LocalRun). */
function localRunOf(err: unknown): LocalRun {
  // Seen before: the outcome row of this txid exists (a tombstone, or committed).
  if (pgCode(err) === PG.uniqueViolation && pgTable(err) === OUTCOME_TABLE)
    return { kind: "seen-before" };
  if (err instanceof VoteNoError) {
    if (err.reason === ALREADY_PREPARED) return { kind: "already-prepared" };
    return { kind: "refused", reason: err.reason, ...(err.detail ? { detail: err.detail } : {}) };
  }
  const reason = voteNoReasonFor(err);
  return reason === undefined ? { kind: "failed" } : { kind: "contention", reason };
}

/** A journal call that threw, as the core's fact; the error is kept to be rethrown or quoted. */
function journalFailure(err: unknown, scratch: Scratch): JournalFailure {
  scratch.error = err;
  return { kind: "failed", unreachable: isStoreUnreachable(err) };
}

/**
 * A store that is down under a request (Redis or PostgreSQL): ioredis gives up on a command with
 * MaxRetriesPerRequestError, or finds its stream closed.
 */
export function isStoreUnreachable(err: unknown): boolean {
  if (isConnectionFailure(err)) return true;
  if (!(err instanceof Error)) return false;
  return (
    err.name === "MaxRetriesPerRequestError" ||
    /max retries per request|Stream isn't writeable/i.test(err.message)
  );
}

function refusalError(txid: string, refusal: Refusal, error: unknown): unknown {
  switch (refusal.kind) {
    case "already-aborted":
      return new AlreadyAbortedError(txid, refusal.why);
    case "already-committed":
      return new AlreadyCommittedError(txid, refusal.why);
    case "not-prepared":
      return new NotPreparedError(txid, refusal.why);
    case "already-prepared":
      return new AlreadyPreparedError(txid);
    case "unavailable": {
      const cause = error instanceof Error ? error.message : String(error);
      return new UnavailableError(`${refusal.message} (transaction ${txid}; ${cause})`);
    }
    case "rethrow":
      return error ?? new ParticipantInvariantError(`transaction ${txid}: no error to rethrow`);
    case "invariant":
      return new ParticipantInvariantError(`transaction ${txid}: ${refusal.message}`);
  }
}

const unexpected = (txid: string, answer: Answer) =>
  new ParticipantInvariantError(`transaction ${txid}: unexpected answer ${JSON.stringify(answer)}`);

function prepareResponse(txid: string, { answer, results }: Done): PrepareResponse {
  if (answer.kind !== "vote") throw unexpected(txid, answer);
  return {
    vote: answer.vote,
    ...(answer.reason !== undefined ? { reason: answer.reason } : {}),
    ...(answer.detail ? { detail: answer.detail } : {}),
    ...(answer.results && results ? { results } : {}),
  };
}

function onePhaseResponse(txid: string, { answer, results }: Done): OnePhaseResponse {
  if (answer.kind !== "one-phase") throw unexpected(txid, answer);
  return {
    outcome: answer.outcome,
    ...(answer.reason !== undefined ? { reason: answer.reason } : {}),
    ...(answer.detail ? { detail: answer.detail } : {}),
    ...(answer.results && results ? { results } : {}),
  };
}

function decisionAck(txid: string, { answer }: Done): DecisionAck {
  if (answer.kind !== "ack") throw unexpected(txid, answer);
  return { txid, state: answer.state };
}

/** How one local transaction runs: its level, its deadline, and how it ends. */
interface LocalPlan {
  level: IsolationLevel;
  deadlineAt: number;
  /** PREPARE TRANSACTION, or COMMIT for a one-phase request. */
  end: string;
  /** The end when nothing was written. */
  readOnlyEnd: string;
  ordered: boolean;
}

/** The local transaction's end as a fact, with what the shell keeps of it. */
interface LocalRunResult {
  run: LocalRun;
  results?: unknown[] | undefined;
  error?: unknown;
}
