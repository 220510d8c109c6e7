/**
 * The engine runs a new transaction for a waiting client. The core (protocol.ts) decides; the
 * driver (driver.ts) executes what is common to every holder of a transaction; this file adds
 * what only the engine does: the PREPAREs or the one-phase request, the deadline and reply
 * timers, and the client's answer. Order is the core's: the decision is written (and fsynced by
 * Redis) before any COMMIT is sent.
 */
import { monotonicMs } from "../shared/clock.js";
import type { IsolationLevel } from "../shared/isolation.js";
import type { Logger } from "../shared/logger.js";
import { deferred, TransactionDriver, type DriverIo } from "./driver.js";
import { isNoAnswer, parsedOnePhase, parsedVote, refusalOf } from "./participant-replies.js";
import { initialState, type CoreState, type Event } from "./protocol.js";
import {
  resultFromState,
  type ClientFault,
  type ParticipantDetails,
  type TransactionResult,
} from "./transaction-result.js";

export type { ClientFault, ParticipantReport, TransactionResult } from "./transaction-result.js";

export interface EngineOptions {
  /** Phase-2 attempts made while the client waits; after that recovery carries on. */
  phase2Attempts: number;
  /** When recovery may pick up a decided transaction that the engine has not ended. */
  recoveryHandoffMs: number;
  /** Longest a client waits for phase-2 acknowledgements once the decision is durable. */
  replyWaitMs: number;
  /**
   * The HTTP status a participant's NO-vote reason means when the request itself was wrong
   * (e.g. an unknown account: 422), as the participant's descriptor says; undefined otherwise.
   */
  clientFaultStatus?: (participant: string, reason: string) => number | undefined;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  phase2Attempts: 6,
  recoveryHandoffMs: 10_000,
  replyWaitMs: 5_000,
};

/** Where a run stands in a series of attempts of one request (the coordinator's retries). */
export interface AttemptLink {
  /** The first attempt's txid: the series' name. */
  series: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The attempt before this one. */
  previous?: string;
}

export interface TransactionInput {
  txid: string;
  /** Each with the isolation level it was asked for; its own default when none. */
  participants: { name: string; operations: unknown[]; isolation?: IsolationLevel }[];
  timeoutMs: number;
  idempotencyKey?: string;
  /** The API key id of the client that asked; undefined for an operator. */
  client?: string;
  /** Set on the attempts after the first: the log links the attempts of one request. */
  link?: AttemptLink;
  /** Prepare the participants one after the other, in name order (a retry after a conflict). */
  ordered?: boolean;
}

export class Engine {
  /** Transactions this process is driving right now; recovery leaves them alone. */
  readonly active = new Set<string>();

  constructor(
    readonly io: DriverIo,
    readonly options: EngineOptions = DEFAULT_ENGINE_OPTIONS,
  ) {}

  /** Runs a new transaction; resolves when the client can be answered. Throws if begin fails. */
  async run(input: TransactionInput): Promise<TransactionResult> {
    const names = input.participants.map((p) => p.name);
    const onePhase = names.length === 1;
    await this.io.log.begin(input.txid, {
      participants: names,
      timeoutMs: input.timeoutMs,
      onePhase,
      ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
      ...(input.client ? { client: input.client } : {}),
      ...(input.link ? { link: input.link } : {}),
    });
    const { txid, timeoutMs } = input;
    this.io.logger.debug({ txid, participants: names, timeoutMs, onePhase }, "begin");
    await this.io.failpoints.hit("coordinator.after-begin");
    return new EngineRun(this, input).start();
  }
}

/** One transaction in flight for its client: timers, the participants' details, the answer. */
class EngineRun {
  private readonly driver: TransactionDriver;
  private readonly operations: Map<string, unknown[]>;
  private readonly levels: Map<string, IsolationLevel | undefined>;
  private readonly details = new Map<string, ParticipantDetails>();
  private clientFault: ClientFault | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private replyTimer: NodeJS.Timeout | undefined;
  private resolveReply!: (r: TransactionResult) => void;
  private readonly reply = new Promise<TransactionResult>((r) => (this.resolveReply = r));
  private readonly startedAt = monotonicMs();
  /** When the votes were in (the decision asked for) and when the decision was stored. */
  private preparedAt: number | undefined;
  private decidedAt: number | undefined;
  private phase2Timed = false;
  // The failpoint "between prepares" needs a first PREPARE that is known to have been answered
  // while the others are not sent yet.
  private preparesStarted = 0;
  private readonly firstPrepare = deferred();

  constructor(
    private readonly engine: Engine,
    private readonly input: TransactionInput,
  ) {
    const names = input.participants.map((p) => p.name);
    const state = initialState(input.txid, names, {
      ordered: input.ordered === true,
      phase2Budget: engine.options.phase2Attempts,
    });
    this.operations = new Map(input.participants.map((p) => [p.name, p.operations]));
    this.levels = new Map(input.participants.map((p) => [p.name, p.isolation]));
    this.driver = new TransactionDriver(state, engine.io, {
      decisionRetryDelayMs: engine.options.recoveryHandoffMs,
      beforeDecisionFailpoint: "coordinator.after-votes",
      afterDecisionFailpoint: "coordinator.after-decision",
      firstSendFailpoint: "coordinator.after-first-commit",
      // Recovery takes the rest of phase 2 up at once.
      handOffDelayMs: () => 0,
      sendPrepare: (participant) => this.sendPrepare(participant),
      sendOnePhase: (participant) => this.sendOnePhase(participant),
      reply: (outcome, reason) => {
        this.answer(outcome, reason);
      },
      afterStep: (s) => {
        this.keepTimers(s);
        this.notePhases(s);
      },
    });
  }

  private get logger(): Logger {
    return this.engine.io.logger;
  }

  start(): Promise<TransactionResult> {
    this.engine.active.add(this.input.txid);
    if (!this.driver.state.onePhase) {
      const dispatchDeadline = () => this.driver.dispatch({ type: "deadline" });
      this.deadlineTimer = setTimeout(dispatchDeadline, this.input.timeoutMs);
    }
    void this.driver.done.then(() => {
      this.finish();
    });
    this.driver.dispatch({ type: "start" });
    return this.reply;
  }

  /** The deadline ends with the decision; the client's wait for phase 2 starts with it. */
  private keepTimers(state: CoreState): void {
    if (state.decision === undefined) return;
    clearTimeout(this.deadlineTimer);
    if (!state.replied && this.replyTimer === undefined && state.phase2Targets.length > 0) {
      const expire = () => this.driver.dispatch({ type: "reply-wait-expired" });
      this.replyTimer = setTimeout(expire, this.engine.options.replyWaitMs);
    }
  }

  /**
   * The phases' durations for metrics, from the states the core steps through: prepare ends
   * when a decision is asked for, decide when the register's answer is in, phase 2 when every
   * target acknowledged (a phase 2 handed to recovery is not timed here).
   */
  private notePhases(state: CoreState): void {
    const observer = this.engine.io.observer;
    if (!observer) return;
    const now = monotonicMs();
    if (this.preparedAt === undefined && state.phase !== "preparing") {
      this.preparedAt = now;
      observer.phaseEnded("prepare", (now - this.startedAt) / 1000);
    }
    if (this.decidedAt === undefined && state.decision !== undefined) {
      this.decidedAt = now;
      observer.phaseEnded("decide", (now - (this.preparedAt ?? this.startedAt)) / 1000);
      // Nobody to tell (one phase, or every participant voted NO or read-only): no phase 2.
      if (state.phase2Targets.length === 0) this.phase2Timed = true;
    }
    const ended = state.phase === "committed" || state.phase === "aborted";
    if (this.decidedAt !== undefined && ended && !this.phase2Timed) {
      this.phase2Timed = true;
      observer.phaseEnded("phase2", (now - this.decidedAt) / 1000);
    }
  }

  /** Time left until the deadline: a PREPARE sent late must not hold locks past it. */
  private remainingMs(): number {
    return Math.max(1, Math.floor(this.input.timeoutMs - (monotonicMs() - this.startedAt)));
  }

  private async sendPrepare(name: string): Promise<Event> {
    const { txid } = this.input;
    const { participants, failpoints } = this.engine.io;
    try {
      if (this.preparesStarted++ > 0 && failpoints.isArmed("coordinator.between-prepares")) {
        await this.firstPrepare.promise;
        await failpoints.hit("coordinator.between-prepares");
      }
      const { participants: names, ordered } = this.driver.state;
      const operations = this.operations.get(name) ?? [];
      const reply = await participants
        .prepare(name, txid, operations, {
          timeoutMs: this.remainingMs(),
          participants: names,
          ordered,
          isolation: this.levels.get(name),
        })
        .finally(() => {
          this.firstPrepare.resolve();
        });
      const vote = parsedVote(reply);
      if (vote) {
        this.noteDetails(name, vote.vote === "no", vote);
        if (vote.vote === "no") this.engine.io.observer?.votedNo(name, vote.reason);
        this.logger.debug(
          { txid, participant: name, vote: vote.vote, reason: vote.reason },
          "vote",
        );
        return { type: "vote", participant: name, vote: vote.vote, ...optionalReason(vote.reason) };
      }
      const reason = this.noteRefusal(name, refusalOf(reply));
      this.logger.warn(
        { txid, participant: name, status: reply.status, reason },
        "prepare refused",
      );
      return { type: "prepare-failed", participant: name, reason };
    } catch (err) {
      if (!isNoAnswer(err)) throw err;
      this.firstPrepare.resolve();
      this.logger.warn({ txid, participant: name, err: err.message }, "prepare got no answer");
      return { type: "prepare-failed", participant: name, reason: "no answer to prepare" };
    }
  }

  private async sendOnePhase(name: string): Promise<Event> {
    const { txid, timeoutMs } = this.input;
    try {
      const operations = this.operations.get(name) ?? [];
      const reply = await this.engine.io.participants.onePhase(
        name,
        txid,
        operations,
        timeoutMs,
        this.levels.get(name),
      );
      const result = parsedOnePhase(reply);
      if (result) {
        const { outcome, reason } = result;
        this.noteDetails(name, outcome === "aborted", result);
        if (outcome === "aborted") this.engine.io.observer?.votedNo(name, reason);
        this.logger.info({ txid, participant: name, outcome, reason }, "one-phase result");
        const refusal = reason ? { reason: `${name}: ${reason}`, refusal: reason } : {};
        return { type: "one-phase-result", outcome, ...refusal };
      }
      const refusal = refusalOf(reply);
      if (refusal.malformed)
        return { type: "one-phase-refused", reason: this.noteRefusal(name, refusal) };
      return { type: "one-phase-failed", reason: `HTTP ${reply.status}` };
    } catch (err) {
      if (!isNoAnswer(err)) throw err;
      this.logger.warn({ txid, participant: name, err: err.message }, "one-phase got no answer");
      return { type: "one-phase-failed", reason: err.message };
    }
  }

  /** Keeps what a participant said for the answer; a NO for a bad request is the client's fault. */
  private noteDetails(
    name: string,
    refused: boolean,
    said: { [K in keyof ParticipantDetails]?: ParticipantDetails[K] | undefined },
  ): void {
    const { reason, detail, results, isolation } = said;
    this.details.set(name, {
      ...(reason ? { reason } : {}),
      ...(detail ? { detail } : {}),
      ...(results ? { results } : {}),
      ...(isolation ? { isolation } : {}),
    });
    // Which NO-vote reasons are the client's fault is each participant's to say (its descriptor).
    const status = reason ? this.engine.options.clientFaultStatus?.(name, reason) : undefined;
    if (refused && reason && status) this.noteClientFault(name, status, reason, detail);
  }

  /** A malformed request (a 4xx other than 409) is the client's fault; returns the reason. */
  private noteRefusal(name: string, refusal: ReturnType<typeof refusalOf>): string {
    if (refusal.malformed) {
      const detail = { message: refusal.message };
      this.noteClientFault(name, refusal.status, refusal.code, detail);
      this.details.set(name, { reason: refusal.code, detail });
    }
    return refusal.message;
  }

  private noteClientFault(
    participant: string,
    status: number,
    code: string,
    detail: Record<string, unknown> | undefined,
  ): void {
    if (this.clientFault) return;
    const message = typeof detail?.message === "string" ? detail.message : code;
    this.clientFault = { status, code, message: `${participant}: ${message}`, participant };
  }

  private answer(outcome: TransactionResult["outcome"], reason: string | undefined): void {
    const state = this.driver.state;
    const result = resultFromState(state, outcome, reason, this.details);
    if (outcome === "aborted" && this.clientFault) result.clientFault = this.clientFault;
    if (outcome === "aborted" && state.abortCause) {
      const key = this.details.get(state.abortCause.participant)?.detail?.key;
      result.abortCause = { ...state.abortCause, ...(typeof key === "string" ? { key } : {}) };
    }
    this.engine.io.observer?.attemptEnded(result);
    this.resolveReply(result);
  }

  private finish(): void {
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.replyTimer);
    this.engine.active.delete(this.input.txid);
  }
}

function optionalReason(reason: string | undefined): { reason?: string } {
  return reason ? { reason } : {};
}
