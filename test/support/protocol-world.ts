/**
 * A simulated world for the protocol core: one write-once register, participants that prepare,
 * commit and abort as PostgreSQL does, and any number of holders of one transaction — the
 * engine, recovery passes (of this coordinator or a second one, beside the live engine), and
 * participants' inquiries — whose effects become actions run in a seeded random order. Messages
 * may be lost (the sender hears nothing) or delivered twice. Every action is checked against
 * the safety properties; `problems` lists the first violations.
 */
import {
  fromLog,
  initialState,
  step,
  type CoreState,
  type Effect,
  type Event,
} from "../../coordinator/protocol.js";
import type { Decision, Vote } from "../../shared/messages.js";

const TXID = "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90";

type ParticipantState = "idle" | "prepared" | "committed" | "aborted";

interface Holder {
  name: string;
  state: CoreState;
}

interface Action {
  holder: Holder;
  run: () => Event | undefined;
}

export class World {
  readonly problems: string[] = [];
  private readonly pending: Action[] = [];
  private readonly parts = new Map<
    string,
    { state: ParticipantState; intent: Vote; voted?: Vote }
  >();
  private decision: Decision | undefined;
  private storedVotes: Record<string, Vote> = {};
  private readonly loggedAcks = new Set<string>();
  private ended = false;
  private engineReplies = 0;
  private lossRate: number;
  private holders = 0;

  constructor(
    private readonly random: () => number,
    readonly participants: string[],
    intents: Vote[],
  ) {
    participants.forEach((p, i) =>
      this.parts.set(p, { state: "idle", intent: intents[i] ?? "yes" }),
    );
    this.lossRate = 0.2;
  }

  startEngine(): void {
    const engine = this.holder(
      "engine",
      initialState(TXID, this.participants, { phase2Budget: 3 }),
    );
    this.feed(engine, { type: "start" });
    this.pending.push({ holder: engine, run: () => ({ type: "deadline" }) });
    this.pending.push({ holder: engine, run: () => ({ type: "reply-wait-expired" }) });
  }

  /** A recovery pass of any coordinator: it reads the log now and knows nothing else. */
  startRecovery(deadlinePassed: boolean): void {
    const recovery = this.holder("recovery", fromLog(this.logged(), "recovery"));
    this.feed(recovery, { type: "recovered", deadlinePassed });
  }

  /** A participant in doubt asks a coordinator that may or may not be running the engine. */
  startInquiry(asker: string, drivenHere: boolean, deadlinePassed: boolean): void {
    const inquiry = this.holder("inquiry", fromLog(this.logged(), "inquiry"));
    this.feed(inquiry, { type: "inquiry", asker, drivenHere, deadlinePassed });
  }

  /**
   * A client repeats the request (same Idempotency-Key) at a coordinator that reads the log now;
   * `gone`: it has waited long enough to conclude the first request will not finish.
   */
  startReplay(gone: boolean): void {
    this.feed(this.holder("replay", fromLog(this.logged(), "replay")), { type: "replay", gone });
  }

  /** Runs one pending action chosen at random; false when none is left. */
  runOne(): boolean {
    if (this.pending.length === 0) return false;
    const [action] = this.pending.splice(Math.floor(this.random() * this.pending.length), 1);
    if (!action) return false;
    const event = action.run();
    if (event) this.feed(action.holder, event);
    return true;
  }

  /** From now on no message is lost: what remains must finish. */
  heal(): void {
    this.lossRate = 0;
  }

  inDoubt(): string[] {
    return this.participants.filter((p) => this.parts.get(p)?.state === "prepared");
  }

  get decided(): Decision | undefined {
    return this.decision;
  }

  /** Liveness, once healed and recovered: nothing left prepared, and the register decided. */
  checkFinished(): void {
    if (this.decision === undefined) this.problem("never decided");
    for (const p of this.inDoubt()) this.problem(`${p} left prepared`);
    // Atomicity: every YES voter ends with the decision, and nobody commits an abort.
    for (const [name, p] of this.parts) {
      if (this.decision === "commit" && p.voted === "yes" && p.state !== "committed") {
        this.problem(`${name} voted yes and is ${p.state}, but the register says commit`);
      }
      if (this.decision === "abort" && p.state === "committed")
        this.problem(`${name} committed an abort`);
    }
    if (this.engineReplies > 1) this.problem(`the client was answered ${this.engineReplies} times`);
  }

  private holder(kind: string, state: CoreState): Holder {
    return { name: `${kind}#${++this.holders}`, state };
  }

  private logged() {
    const acks = Object.fromEntries([...this.loggedAcks].map((p) => [p, 1]));
    const known = { txid: TXID, participants: this.participants, onePhase: false, presumed: false };
    const outcome = this.decision === "commit" ? "committed" : "aborted";
    return {
      ...known,
      votes: this.decision ? this.storedVotes : {},
      decision: this.decision,
      reason: undefined,
      acks,
      state: this.ended ? outcome : "",
    };
  }

  private feed(holder: Holder, event: Event): void {
    let result;
    try {
      result = step(holder.state, event);
    } catch (err) {
      this.problem(`${holder.name}: ${event.type} threw ${(err as Error).message}`);
      return;
    }
    holder.state = result.state;
    for (const effect of result.effects) this.schedule(holder, effect);
  }

  private schedule(holder: Holder, effect: Effect): void {
    const add = (run: () => Event | undefined): void => {
      this.pending.push({ holder, run });
    };
    switch (effect.type) {
      case "send-prepare": {
        add(() => this.prepare(effect.participant));
        return;
      }
      case "write-decision": {
        add(() => this.decide(holder, effect.decision, effect.votes, effect.by));
        return;
      }
      case "send-decision":
        this.checkSend(holder, effect.participant, effect.decision);
        {
          add(() => this.deliver(effect.participant, effect.decision));
          return;
        }
      case "write-end": {
        add(() => {
          this.end(effect.acked);
        });
        return;
      }
      case "hand-off": {
        add(() => {
          this.ack(effect.acked);
        });
        return;
      }
      case "reply": {
        this.reply(holder, effect.outcome);
        return;
      }
      case "answer":
        if (effect.answer.kind === "decision" && effect.answer.decision !== this.decision) {
          this.problem(
            `${holder.name} answered ${effect.answer.decision}; register ${this.decision ?? "empty"}`,
          );
        }
        return;
      case "let-go":
        return;
      case "send-one-phase":
      case "settle-one-phase": {
        this.problem(`${effect.type} in a two-phase transaction`);
        return;
      }
    }
  }

  private lost(): boolean {
    return this.random() < this.lossRate;
  }

  private prepare(name: string): Event {
    const p = this.parts.get(name);
    if (!p || this.lost()) return { type: "prepare-failed", participant: name, reason: "lost" };
    // An ABORT that overtook its PREPARE left a tombstone: the late PREPARE votes no.
    if (p.state === "aborted")
      return { type: "vote", participant: name, vote: "no", reason: "aborted" };
    if (p.state === "idle") {
      p.voted = p.intent;
      if (p.intent === "yes") p.state = "prepared";
    }
    return { type: "vote", participant: name, vote: p.voted ?? p.intent };
  }

  /** decide-once: the first writer wins; others read the stored decision and its votes. */
  private decide(
    holder: Holder,
    decision: Decision,
    votes: Record<string, Vote>,
    by: string,
  ): Event {
    if (this.random() < 0.1) return { type: "decision-unknown", error: "redis went away" };
    if (this.decision !== undefined) {
      return {
        type: "decision-stored",
        decision: this.decision,
        reason: "stored",
        votes: this.storedVotes,
      };
    }
    if (decision === "commit") {
      const all = this.participants.every((p) => votes[p] === "yes" || votes[p] === "read-only");
      if (!all) this.problem(`${holder.name} (${by}) wrote COMMIT without every vote yes`);
    }
    this.decision = decision;
    this.storedVotes = votes;
    return { type: "decision-stored", decision, reason: `${by} decided` };
  }

  private checkSend(holder: Holder, name: string, decision: Decision): void {
    if (decision !== this.decision) {
      this.problem(
        `${holder.name} sends ${decision} to ${name}; register ${this.decision ?? "empty"}`,
      );
    }
  }

  /** A participant applies a decision as PostgreSQL would; a duplicate is applied again. */
  private deliver(name: string, decision: Decision): Event {
    const p = this.parts.get(name);
    if (!p)
      return { type: "decision-failed", participant: name, refused: false, reason: "unknown" };
    const answer = this.apply(name, decision);
    if (this.random() < 0.1) this.apply(name, decision);
    if (this.lost())
      return { type: "decision-failed", participant: name, refused: false, reason: "lost" };
    return answer;
  }

  private apply(name: string, decision: Decision): Event {
    const p = this.parts.get(name);
    if (!p) throw new Error(name);
    if (decision === "commit") {
      if (p.state === "prepared" || p.state === "committed") {
        p.state = "committed";
        return { type: "ack", participant: name };
      }
      return {
        type: "decision-failed",
        participant: name,
        refused: true,
        reason: `${p.state} here`,
      };
    }
    if (p.state === "committed") {
      this.problem(`ABORT reached ${name}, which committed`);
      return {
        type: "decision-failed",
        participant: name,
        refused: true,
        reason: "committed here",
      };
    }
    p.state = "aborted";
    return { type: "ack", participant: name };
  }

  private end(acked: string[]): undefined {
    this.ack(acked);
    if (this.decision === undefined) this.problem("end written without a decision");
    this.ended = true;
    return undefined;
  }

  private ack(acked: string[]): undefined {
    for (const p of acked) this.loggedAcks.add(p);
    return undefined;
  }

  private reply(holder: Holder, outcome: "committed" | "aborted" | "unknown"): void {
    if (holder.state.driver === "engine") this.engineReplies++;
    const expected =
      outcome === "committed" ? "commit" : outcome === "aborted" ? "abort" : undefined;
    if (expected && expected !== this.decision)
      this.problem(`${holder.name} told ${outcome}; register ${this.decision ?? "empty"}`);
  }

  private problem(text: string): void {
    if (this.problems.length < 5) this.problems.push(text);
  }
}
