/**
 * Executes the core's effects for one transaction, whoever holds it: the engine (for a waiting
 * client), recovery, an inquiry or a replay. It decides nothing: each effect becomes I/O, and
 * each result becomes an event fed back to the core (protocol.ts). Effects run concurrently and
 * never throw; what differs between holders (timings, failpoints, who hears the answer) is the
 * role's.
 */
import { backoffDelayMs } from "../shared/backoff.js";
import { sleep } from "../shared/clock.js";
import { OnePhaseUndecidedError, type DurableLog } from "../shared/durable-log.js";
import type { Failpoints } from "../shared/failpoints.js";
import type { Logger } from "../shared/logger.js";
import type { Decision, Vote } from "../shared/messages.js";
import type { CoordinatorObserver } from "./coordinator-observer.js";
import type { ParticipantClient } from "./participant-client.js";
import { decisionReplyEvent, isNoAnswer, settleReplyEvent } from "./participant-replies.js";
import {
  step,
  type Answer,
  type CoreState,
  type DecidedBy,
  type Effect,
  type Event,
} from "./protocol.js";

export interface DriverIo {
  log: DurableLog;
  participants: ParticipantClient;
  logger: Logger;
  failpoints: Failpoints;
  /** Told what happens, for metrics (coordinator-observer.ts); it changes nothing. */
  observer?: CoordinatorObserver | undefined;
}

/** What one kind of holder does with the effects that are not the same for all. */
export interface DriverRole {
  /** When phase 2 of a decision it writes becomes due for recovery if it does not end it. */
  decisionRetryDelayMs: number;
  /** Killed between the first send of the decision and the others (a fault test's failpoint). */
  firstSendFailpoint?: string;
  /** When the rest of phase 2 becomes due for recovery after a hand-off. */
  handOffDelayMs: () => number;
  /** The transaction stays in the log's index for recovery; a role may postpone it there. */
  letGo?: (index: "undecided" | "unacked") => Promise<void>;
  /** Just before the decision is written, and between the register's answer and anything that
   *  follows it (fault tests' failpoints). */
  beforeDecisionFailpoint?: string;
  afterDecisionFailpoint?: string;
  sendPrepare?: (participant: string) => Promise<Event>;
  sendOnePhase?: (participant: string) => Promise<Event>;
  reply?: (outcome: "committed" | "aborted" | "unknown", reason: string | undefined) => void;
  answer?: (answer: Answer) => void;
  /** A send of the decision got no acknowledgement, and why (an operator's retry shows it). */
  onDecisionFailed?: (participant: string, why: string) => void;
  /** After each step: a role keeps its timers in line with the state. */
  afterStep?: (state: CoreState) => void;
}

/** Effects after which this holder is done with the transaction. */
const LAST_EFFECTS = new Set<Effect["type"]>(["write-end", "hand-off", "let-go", "answer"]);

export class TransactionDriver {
  private current: CoreState;
  private resolveDone!: () => void;
  /** Resolves when this holder is done: ended, handed off, let go, or answered. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  // The failpoint "after the first send of the decision" needs a first send that is known to
  // have been answered while the others are not sent yet.
  private decisionsStarted = 0;
  private readonly firstDecision = deferred();

  constructor(
    initial: CoreState,
    private readonly io: DriverIo,
    private readonly role: DriverRole,
  ) {
    this.current = initial;
  }

  get state(): CoreState {
    return this.current;
  }

  /** Feeds one event to the core and starts its effects; returns how many there were. */
  dispatch(event: Event): number {
    const { state, effects } = step(this.current, event);
    this.current = state;
    this.role.afterStep?.(state);
    for (const effect of effects) this.execute(effect);
    return effects.length;
  }

  private execute(effect: Effect): void {
    const txid = this.current.txid;
    this.run(effect)
      .then(() => {
        if (LAST_EFFECTS.has(effect.type)) this.resolveDone();
      })
      .catch((err: unknown) => {
        // Effects handle their own operating errors; reaching here is a bug. Crash loudly
        // rather than leave a transaction half-driven with nobody noticing.
        this.io.logger.fatal({ txid, err, effect: effect.type }, "effect failed unexpectedly");
        process.nextTick(() => {
          throw err;
        });
      });
  }

  private async run(effect: Effect): Promise<void> {
    switch (effect.type) {
      case "send-prepare":
        this.dispatch(await required(this.role.sendPrepare, effect)(effect.participant));
        return;
      case "send-one-phase":
        this.dispatch(await required(this.role.sendOnePhase, effect)(effect.participant));
        return;
      case "settle-one-phase":
        return this.settleOnePhase(effect.participant);
      case "write-decision":
        return this.writeDecision(effect.decision, effect.reason, effect.votes, effect.by);
      case "send-decision":
        return this.sendDecision(effect.participant, effect.decision, effect.attempt);
      case "write-end":
        return this.writeEnd(effect.acked);
      case "hand-off":
        return this.handOff(effect.acked);
      case "let-go":
        return this.letGo(effect.index);
      case "reply": {
        required(this.role.reply, effect)(effect.outcome, effect.reason);
        return;
      }
      case "answer": {
        required(this.role.answer, effect)(effect.answer);
        return;
      }
    }
  }

  private async settleOnePhase(name: string): Promise<void> {
    const txid = this.current.txid;
    try {
      this.dispatch(settleReplyEvent(await this.io.participants.decide(name, txid, "abort")));
    } catch (err) {
      if (!isNoAnswer(err)) throw err;
      this.dispatch({ type: "settle-result", outcome: "unknown", reason: err.message });
    }
  }

  private async writeDecision(
    decision: Decision,
    reason: string,
    votes: Record<string, Vote>,
    by: DecidedBy,
  ): Promise<void> {
    const txid = this.current.txid;
    // The register is idempotent (it returns what is stored), so a retry after a lost reply is
    // safe; a few quick ones ride out a Redis reconnect.
    for (let attempt = 0; ; attempt++) {
      let stored;
      try {
        if (this.role.beforeDecisionFailpoint)
          await this.io.failpoints.hit(this.role.beforeDecisionFailpoint);
        const retryDelayMs = this.role.decisionRetryDelayMs;
        stored = await this.io.log.decideOnce(txid, decision, { reason, by, votes, retryDelayMs });
      } catch (err) {
        if (err instanceof OnePhaseUndecidedError) {
          this.dispatch({ type: "decision-not-written", why: "one-phase" });
          return;
        }
        this.io.observer?.storeError("decide");
        if (attempt < 2) {
          await sleep(backoffDelayMs(attempt));
          continue;
        }
        this.io.logger.error({ txid, err: String(err) }, "decision not recorded; left to recovery");
        this.dispatch({ type: "decision-unknown", error: (err as Error).message });
        return;
      }
      this.io.logger.info({ txid, requested: decision, ...stored, by }, "decision");
      // Someone else's decision comes with the votes it was written with, from the record.
      let theirs: Record<string, Vote> | undefined;
      try {
        theirs = stored.won ? undefined : (await this.io.log.get(txid))?.votes;
      } catch (err) {
        this.dispatch({ type: "decision-unknown", error: (err as Error).message });
        return;
      }
      return this.afterDecision(stored.decision, stored.reason, theirs);
    }
  }

  private async afterDecision(
    decision: Decision,
    reason: string,
    votes: Record<string, Vote> | undefined,
  ): Promise<void> {
    const failpoint = this.role.afterDecisionFailpoint;
    try {
      if (failpoint) await this.io.failpoints.hit(failpoint);
    } catch (err) {
      // This holder loses track of a decided transaction, as if it had crashed: the client
      // hears "unknown" and recovery finishes phase 2.
      this.dispatch({ type: "decision-unknown", error: (err as Error).message });
      return;
    }
    this.dispatch({ type: "decision-stored", decision, reason, ...(votes ? { votes } : {}) });
  }

  private async sendDecision(name: string, decision: Decision, attempt: number): Promise<void> {
    const txid = this.current.txid;
    if (attempt > 0) await sleep(backoffDelayMs(attempt - 1));
    const failpoint = this.role.firstSendFailpoint;
    const waitForFirst =
      attempt === 0 &&
      this.decisionsStarted++ > 0 &&
      failpoint !== undefined &&
      this.io.failpoints.isArmed(failpoint);
    let event: Event;
    try {
      if (waitForFirst) {
        await this.firstDecision.promise;
        await this.io.failpoints.hit(failpoint);
      }
      const reply = await this.io.participants.decide(name, txid, decision).finally(() => {
        this.firstDecision.resolve();
      });
      event = decisionReplyEvent(name, reply);
    } catch (err) {
      if (!isNoAnswer(err)) throw err;
      this.firstDecision.resolve();
      event = { type: "decision-failed", participant: name, refused: false, reason: err.message };
    }
    if (event.type === "decision-failed") {
      const level = event.refused ? "error" : "warn";
      this.io.logger[level](
        { txid, participant: name, decision, attempt, why: event.reason },
        "decision not acknowledged",
      );
      this.role.onDecisionFailed?.(name, event.reason);
    }
    this.dispatch(event);
  }

  private async writeEnd(acked: string[]): Promise<void> {
    const txid = this.current.txid;
    try {
      const state = await this.io.log.end(txid, acked);
      this.io.logger.debug({ txid, state, by: this.current.driver }, "end");
      this.dispatch({ type: "ended" });
    } catch (err) {
      // Every participant has applied the decision; only the bookkeeping is missing. Recovery
      // resends the (idempotent) decision and writes the end record.
      this.io.observer?.storeError("end");
      this.io.logger.warn(
        { txid, err: String(err) },
        "end record not written; recovery will finish it",
      );
    }
  }

  /** The transaction stays where it is in the log; a failed postpone only makes it due sooner. */
  private async letGo(index: "undecided" | "unacked"): Promise<void> {
    try {
      await this.role.letGo?.(index);
    } catch (err) {
      const txid = this.current.txid;
      this.io.logger.warn({ txid, index, err: String(err) }, "not postponed; due again at once");
    }
  }

  /** Records the acknowledgements so far and lets recovery resend the rest. */
  private async handOff(acked: string[]): Promise<void> {
    const txid = this.current.txid;
    this.io.logger.warn({ txid, acked, by: this.current.driver }, "phase 2 handed to recovery");
    try {
      await this.io.log.ack(txid, acked, this.role.handOffDelayMs());
    } catch (err) {
      this.io.observer?.storeError("ack");
      this.io.logger.warn(
        { txid, err: String(err) },
        "acknowledgements not recorded; recovery resends all",
      );
    }
  }
}

function required<T>(handler: T | undefined, effect: Effect): T {
  if (handler === undefined)
    throw new Error(`${effect.type} is not an effect this holder executes`);
  return handler;
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
