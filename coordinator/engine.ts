/**
 * The engine runs one transaction: it feeds events to the pure protocol core and executes the
 * effects it returns. Order is the core's: the decision is written (and fsynced by Redis) before
 * any COMMIT is sent, because `send-decision` effects only follow a `decision-stored` event.
 */
import { strict as assert } from "node:assert";
import { backoffDelayMs } from "../shared/backoff.js";
import { monotonicMs, sleep } from "../shared/clock.js";
import type { DurableLog } from "../shared/durable-log.js";
import { TransportError } from "../shared/http-client.js";
import { FailpointError, type Failpoints } from "../shared/failpoints.js";
import type { Logger } from "../shared/logger.js";
import {
  onePhaseResponseSchema,
  prepareResponseSchema,
  type Decision,
  type Vote,
} from "../shared/messages.js";
import type { ParticipantClient } from "./participant-client.js";
import {
  initialState,
  participantStates,
  step,
  type CoreState,
  type Effect,
  type Event,
} from "./protocol.js";

export interface EngineOptions {
  /** Phase-2 attempts made while the client waits; after that recovery carries on. */
  phase2Attempts: number;
  /** When recovery may pick up a decided transaction that the engine has not ended. */
  recoveryHandoffMs: number;
  /** Longest a client waits for phase-2 acknowledgements once the decision is durable. */
  replyWaitMs: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  phase2Attempts: 6,
  recoveryHandoffMs: 10_000,
  replyWaitMs: 5_000,
};

export interface ParticipantReport {
  name: string;
  vote: Vote | "none";
  state: string;
  reason?: string;
  detail?: Record<string, unknown>;
  results?: unknown[];
}

/** A participant's refusal that is the client's fault (bad operation, unknown account). */
export interface ClientFault {
  status: number;
  code: string;
  message: string;
  participant: string;
}

export interface TransactionResult {
  txid: string;
  outcome: "committed" | "aborted" | "unknown";
  reason?: string;
  participants: ParticipantReport[];
  clientFault?: ClientFault;
  /** The refusal that aborted it (a NO vote and its reason), when a refusal did; `key` is the row a conflict was over. */
  abortCause?: { participant: string; reason: string; key?: string };
}

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
  participants: { name: string; operations: unknown[] }[];
  timeoutMs: number;
  idempotencyKey?: string;
  /** The API key id of the client that asked; undefined for an operator. */
  client?: string;
  /** Set on the attempts after the first: the log links the attempts of one request. */
  link?: AttemptLink;
  /** Prepare the participants one after the other, in name order (a retry after a conflict). */
  ordered?: boolean;
}

/** The longest refusal text of a participant passed on to the client. */
const MAX_REASON_CHARS = 500;

function clip(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Reasons a participant gives with a NO vote that mean the request itself was wrong. */
const CLIENT_FAULT_REASONS: Record<string, number> = {
  "unknown-account": 422,
  "invalid-operation": 400,
};

export class Engine {
  /** Transactions this process is driving right now; recovery leaves them alone. */
  readonly active = new Set<string>();

  constructor(
    private readonly log: DurableLog,
    private readonly participants: ParticipantClient,
    private readonly logger: Logger,
    private readonly failpoints: Failpoints,
    private readonly options: EngineOptions = DEFAULT_ENGINE_OPTIONS,
  ) {
    this.deps = { log, participants, logger, failpoints, options };
  }

  /** Runs a new transaction; resolves when the client can be answered. Throws if begin fails. */
  async run(input: TransactionInput): Promise<TransactionResult> {
    const names = input.participants.map((p) => p.name);
    const onePhase = names.length === 1;
    await this.log.begin(input.txid, {
      participants: names,
      timeoutMs: input.timeoutMs,
      onePhase,
      ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
      ...(input.client ? { client: input.client } : {}),
      ...(input.link ? { link: input.link } : {}),
    });
    this.logger.debug(
      { txid: input.txid, participants: names, timeoutMs: input.timeoutMs, onePhase },
      "begin",
    );
    await this.failpoints.hit("coordinator.after-begin");
    const run = new TransactionRun(this, input);
    return run.start();
  }

  /** @internal What every TransactionRun uses; built once, not on each access. */
  readonly deps: {
    log: DurableLog;
    participants: ParticipantClient;
    logger: Logger;
    failpoints: Failpoints;
    options: EngineOptions;
  };
}

/** One transaction in flight: its core state, its timers and its outstanding effects. */
class TransactionRun {
  private state: CoreState;
  private readonly operations: Map<string, unknown[]>;
  private readonly details = new Map<
    string,
    { reason?: string; detail?: Record<string, unknown>; results?: unknown[] }
  >();
  private clientFault: ClientFault | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private replyTimer: NodeJS.Timeout | undefined;
  private resolveReply!: (r: TransactionResult) => void;
  private readonly startedAt = monotonicMs();
  // Failpoints "between prepares" and "after the first COMMIT" need a first message that is
  // known to have been answered while the others are not yet sent.
  private preparesStarted = 0;
  private decisionsStarted = 0;
  private readonly firstPrepare = deferred();
  private readonly firstDecision = deferred();
  private readonly reply = new Promise<TransactionResult>(
    (resolve) => (this.resolveReply = resolve),
  );

  constructor(
    private readonly engine: Engine,
    private readonly input: TransactionInput,
  ) {
    this.state = initialState(
      input.txid,
      input.participants.map((p) => p.name),
      { ordered: input.ordered === true },
    );
    this.operations = new Map(input.participants.map((p) => [p.name, p.operations]));
  }

  private get d() {
    return this.engine.deps;
  }

  start(): Promise<TransactionResult> {
    this.engine.active.add(this.input.txid);
    if (!this.state.onePhase) {
      this.deadlineTimer = setTimeout(
        () => this.dispatch({ type: "deadline" }),
        this.input.timeoutMs,
      );
    }
    this.dispatch({ type: "start" });
    return this.reply;
  }

  private dispatch(event: Event): void {
    const { state, effects } = step(this.state, event);
    this.state = state;
    if (state.decision !== undefined && this.deadlineTimer) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    for (const effect of effects) this.execute(effect);
  }

  /** Effects run concurrently; each reports back through dispatch and never throws. */
  private execute(effect: Effect): void {
    const txid = this.input.txid;
    const work = (async () => {
      switch (effect.type) {
        case "send-prepare":
          return this.sendPrepare(effect.participant);
        case "send-one-phase":
          return this.sendOnePhase(effect.participant);
        case "settle-one-phase":
          return this.settleOnePhase(effect.participant);
        case "write-decision":
          return this.writeDecision(effect.decision, effect.reason, effect.votes);
        case "send-decision":
          return this.sendDecision(effect.participant, effect.decision);
        case "write-end":
          return this.writeEnd(effect.acked);
        case "reply":
          return this.answer(effect.outcome, effect.reason);
      }
    })();
    work.catch((err: unknown) => {
      // Effects handle their own operating errors; reaching here is a bug. Crash loudly rather
      // than leave a transaction half-driven with nobody noticing.
      this.d.logger.fatal({ txid, err, effect: effect.type }, "effect failed unexpectedly");
      process.nextTick(() => {
        throw err;
      });
    });
  }

  /** Time left until the deadline: a PREPARE sent late must not hold locks past it. */
  private remainingMs(): number {
    return Math.max(1, Math.floor(this.input.timeoutMs - (monotonicMs() - this.startedAt)));
  }

  private async sendPrepare(name: string): Promise<void> {
    const txid = this.input.txid;
    try {
      if (this.preparesStarted++ > 0 && this.d.failpoints.isArmed("coordinator.between-prepares")) {
        await this.firstPrepare.promise;
        await this.d.failpoints.hit("coordinator.between-prepares");
      }
      const res = await this.d.participants
        .prepare(
          name,
          txid,
          this.operations.get(name) ?? [],
          this.remainingMs(),
          this.state.participants,
          this.state.ordered,
        )
        .finally(() => this.firstPrepare.resolve());
      const parsed = prepareResponseSchema.safeParse(res.data);
      if (res.status === 200 && parsed.success) {
        const { vote, reason, detail, results } = parsed.data;
        this.details.set(name, {
          ...(reason ? { reason } : {}),
          ...(detail ? { detail } : {}),
          ...(results ? { results } : {}),
        });
        if (vote === "no" && reason && CLIENT_FAULT_REASONS[reason])
          this.noteClientFault(name, CLIENT_FAULT_REASONS[reason], reason, detail);
        this.d.logger.debug({ txid, participant: name, vote, reason }, "vote");
        this.dispatch({ type: "vote", participant: name, vote, ...(reason ? { reason } : {}) });
        return;
      }
      const reason = this.refusalReason(name, res.status, res.data);
      this.d.logger.warn(
        { txid, participant: name, status: res.status, reason },
        "prepare refused",
      );
      this.dispatch({ type: "prepare-failed", participant: name, reason });
    } catch (err) {
      if (!(err instanceof TransportError || err instanceof FailpointError)) throw err;
      this.firstPrepare.resolve();
      this.d.logger.warn({ txid, participant: name, err: err.message }, "prepare got no answer");
      this.dispatch({ type: "prepare-failed", participant: name, reason: "no answer to prepare" });
    }
  }

  /**
   * A 4xx from a participant is the client's fault (malformed operation); remember it. The text
   * is the participant's and reaches the client and the log, so it is clipped: a participant
   * cannot make either carry more than a line.
   */
  private refusalReason(name: string, status: number, data: unknown): string {
    const error = (data as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const message =
      typeof error?.message === "string" ? clip(error.message, MAX_REASON_CHARS) : `HTTP ${status}`;
    const code = typeof error?.code === "string" ? clip(error.code, 64) : "invalid-operation";
    if (status >= 400 && status < 500 && status !== 409) {
      this.noteClientFault(name, status, code, { message });
      this.details.set(name, { reason: code, detail: { message } });
    }
    return message;
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

  private async sendOnePhase(name: string): Promise<void> {
    const txid = this.input.txid;
    try {
      const res = await this.d.participants.onePhase(
        name,
        txid,
        this.operations.get(name) ?? [],
        this.input.timeoutMs,
      );
      const parsed = onePhaseResponseSchema.safeParse(res.data);
      if (res.status === 200 && parsed.success) {
        const { outcome, reason, detail, results } = parsed.data;
        this.details.set(name, {
          ...(reason ? { reason } : {}),
          ...(detail ? { detail } : {}),
          ...(results ? { results } : {}),
        });
        if (outcome === "aborted" && reason && CLIENT_FAULT_REASONS[reason])
          this.noteClientFault(name, CLIENT_FAULT_REASONS[reason], reason, detail);
        this.d.logger.info({ txid, participant: name, outcome, reason }, "one-phase result");
        this.dispatch({
          type: "one-phase-result",
          outcome,
          ...(reason ? { reason: `${name}: ${reason}`, refusal: reason } : {}),
        });
        return;
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 409) {
        // Refused as malformed: the participant did nothing, so this outcome is certain.
        const reason = this.refusalReason(name, res.status, res.data);
        this.dispatch({
          type: "one-phase-result",
          outcome: "aborted",
          reason: `${name}: ${reason}`,
        });
        return;
      }
      this.dispatch({ type: "one-phase-failed", reason: `HTTP ${res.status}` });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      this.d.logger.warn({ txid, participant: name, err: err.message }, "one-phase got no answer");
      this.dispatch({ type: "one-phase-failed", reason: err.message });
    }
  }

  private async settleOnePhase(name: string): Promise<void> {
    const txid = this.input.txid;
    try {
      const res = await this.d.participants.decide(name, txid, "abort");
      const code = (res.data as { error?: { code?: string } } | undefined)?.error?.code;
      if (res.status === 200) {
        this.dispatch({
          type: "one-phase-result",
          outcome: "aborted",
          reason: `${name}: no answer; aborted`,
        });
        return;
      }
      if (res.status === 409 && code === "already-committed") {
        this.dispatch({ type: "one-phase-result", outcome: "committed" });
        return;
      }
      this.dispatch({ type: "decision-unknown", error: `settling one phase: HTTP ${res.status}` });
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      this.dispatch({ type: "decision-unknown", error: `settling one phase: ${err.message}` });
    }
    // Unsettled: let go, so that recovery (which skips transactions the engine drives) asks the
    // participant again until it answers.
    this.finish();
  }

  private async writeDecision(
    decision: Decision,
    reason: string,
    votes: Record<string, Vote>,
  ): Promise<void> {
    const txid = this.input.txid;
    // decide-once is idempotent (it returns what is stored), so a retry after a lost reply is
    // safe; a few quick ones ride out a Redis reconnect.
    for (let attempt = 0; ; attempt++) {
      let stored;
      try {
        await this.d.failpoints.hit("coordinator.after-votes");
        stored = await this.d.log.decideOnce(txid, decision, {
          reason,
          by: "engine",
          votes,
          retryDelayMs: this.d.options.recoveryHandoffMs,
        });
      } catch (err) {
        if (attempt >= 2) {
          this.d.logger.error(
            { txid, err: String(err) },
            "decision not recorded; leaving it to recovery",
          );
          this.dispatch({ type: "decision-unknown", error: (err as Error).message });
          this.finish();
          return;
        }
        await sleep(backoffDelayMs(attempt));
        continue;
      }
      this.d.logger.info(
        {
          txid,
          requested: decision,
          decision: stored.decision,
          won: stored.won,
          reason: stored.reason,
        },
        "decision",
      );
      try {
        await this.d.failpoints.hit("coordinator.after-decision");
      } catch (err) {
        // The engine loses track of a decided transaction, as if this one run had crashed:
        // the client hears "unknown" and recovery finishes phase 2.
        this.dispatch({ type: "decision-unknown", error: (err as Error).message });
        this.finish();
        return;
      }
      this.dispatch({ type: "decision-stored", decision: stored.decision, reason: stored.reason });
      return;
    }
  }

  private async sendDecision(name: string, decision: Decision): Promise<void> {
    assert(this.state.decision === decision, "phase 2 sends only the stored decision");
    const txid = this.input.txid;
    if (!this.replyTimer && !this.state.replied) {
      this.replyTimer = setTimeout(
        () => this.dispatch({ type: "reply-wait-expired" }),
        this.d.options.replyWaitMs,
      );
    }
    const waitForFirst =
      this.decisionsStarted++ > 0 && this.d.failpoints.isArmed("coordinator.after-first-commit");
    for (let attempt = 0; attempt < this.d.options.phase2Attempts; attempt++) {
      try {
        if (waitForFirst && attempt === 0) {
          await this.firstDecision.promise;
          await this.d.failpoints.hit("coordinator.after-first-commit");
        }
        const res = await this.d.participants
          .decide(name, txid, decision)
          .finally(() => this.firstDecision.resolve());
        if (res.status === 200) {
          this.d.logger.debug({ txid, participant: name, decision }, "ack");
          this.dispatch({ type: "ack", participant: name });
          return;
        }
        // 409 means the participant holds the opposite outcome: the invariant is broken somewhere.
        // Retrying cannot fix it; recovery keeps it visible in the unacknowledged index.
        const level = res.status === 409 ? "error" : "warn";
        this.d.logger[level](
          { txid, participant: name, decision, status: res.status, body: res.data },
          "decision refused",
        );
        if (res.status === 409) break;
      } catch (err) {
        if (!(err instanceof TransportError || err instanceof FailpointError)) throw err;
        this.firstDecision.resolve();
        this.d.logger.warn(
          { txid, participant: name, decision, attempt, err: err.message },
          "decision got no answer",
        );
      }
      await sleep(backoffDelayMs(attempt));
    }
    this.d.logger.warn({ txid, participant: name, decision }, "phase 2 handed to recovery");
    await this.handOff();
  }

  private handedOff = false;

  /** Records the acknowledgements so far and lets recovery resend the rest. */
  private async handOff(): Promise<void> {
    if (this.handedOff) return;
    this.handedOff = true;
    this.dispatch({ type: "reply-wait-expired" });
    try {
      await this.d.log.ack(this.input.txid, Object.keys(this.state.acks), 0);
    } catch (err) {
      this.d.logger.warn(
        { txid: this.input.txid, err: String(err) },
        "could not record acknowledgements; recovery resends all",
      );
    }
    this.finish();
  }

  private async writeEnd(acked: string[]): Promise<void> {
    const txid = this.input.txid;
    try {
      const state = await this.d.log.end(txid, acked);
      this.d.logger.debug({ txid, state }, "end");
      this.dispatch({ type: "ended" });
    } catch (err) {
      // Every participant has applied the decision; only the bookkeeping is missing. Recovery
      // resends the (idempotent) decision and writes the end record.
      this.d.logger.warn(
        { txid, err: String(err) },
        "end record not written; recovery will finish it",
      );
    }
    this.finish();
  }

  private answer(outcome: "committed" | "aborted" | "unknown", reason: string | undefined): void {
    // Results describe writes that only exist if the transaction committed.
    const participants: ParticipantReport[] = participantStates(this.state).map((p) => {
      const { results, ...rest } = this.details.get(p.name) ?? {};
      return { ...p, ...rest, ...(outcome === "committed" && results ? { results } : {}) };
    });
    const result: TransactionResult = {
      txid: this.input.txid,
      outcome,
      participants,
      ...(reason ? { reason } : {}),
    };
    if (outcome === "aborted" && this.clientFault) result.clientFault = this.clientFault;
    if (outcome === "aborted" && this.state.abortCause) {
      const key = this.details.get(this.state.abortCause.participant)?.detail?.key;
      result.abortCause = { ...this.state.abortCause, ...(typeof key === "string" ? { key } : {}) };
    }
    this.resolveReply(result);
  }

  private finish(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.replyTimer) clearTimeout(this.replyTimer);
    this.engine.active.delete(this.input.txid);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
