/**
 * Recovery finishes what the log holds: undecided transactions past their deadline are aborted
 * through the write-once register, and decided ones are driven to every participant until all
 * acknowledge. It reads only the active indexes, so its work grows with the transactions in
 * flight, never with history. It runs at start-up and then on an interval; transactions the
 * local engine is driving are left to the engine.
 */
import { backoffDelayMs } from "../shared/backoff.js";
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { TransportError } from "../shared/http-client.js";
import type { Failpoints } from "../shared/failpoints.js";
import { txidTimeMs } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import type { Decision } from "../shared/messages.js";
import type { ParticipantClient } from "./participant-client.js";

export interface RecoveryOptions {
  batchSize: number;
  concurrency: number;
  retryPolicy: { baseMs: number; capMs: number };
}

export const DEFAULT_RECOVERY_OPTIONS: RecoveryOptions = {
  batchSize: 1000,
  concurrency: 64,
  retryPolicy: { baseMs: 200, capMs: 5_000 },
};

export class Recovery {
  private readonly attempts = new Map<string, number>();
  private readonly startedAtMs = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private finishedPasses = 0;

  /** Passes finished since start-up (successful or not): tests wait on it instead of sleeping. */
  get passes(): number {
    return this.finishedPasses;
  }

  constructor(
    private readonly log: DurableLog,
    private readonly participants: ParticipantClient,
    private readonly logger: Logger,
    private readonly isActive: (txid: string) => boolean,
    private readonly failpoints: Failpoints,
    private readonly options: RecoveryOptions = DEFAULT_RECOVERY_OPTIONS,
  ) {}

  /**
   * One pass over everything that is due. The first pass after start-up takes every decided
   * transaction, due or not: the engine that was driving them died with the last process.
   * Concurrent calls share the pass in progress.
   */
  sweep(startup = false): Promise<void> {
    this.running ??= this.sweepOnce(startup).finally(() => {
      this.running = undefined;
      this.finishedPasses++;
    });
    return this.running;
  }

  start(intervalMs: number): void {
    let startup = true;
    const tick = () => {
      this.sweep(startup)
        .then(() => (startup = false))
        .catch((err: unknown) =>
          this.logger.warn({ err: String(err) }, "recovery pass failed; will retry"),
        )
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async sweepOnce(startup: boolean): Promise<void> {
    const undecided = (await this.log.due("undecided", this.options.batchSize)).filter(
      (t) => !this.isActive(t),
    );
    await this.inParallel(undecided, (txid) => this.decideExpired(txid));
    if (startup) {
      // Every decided transaction the processes before this one left, page by page, not one
      // batch: after a crash with thousands unacknowledged, waiting for each batch to come due
      // again would add an interval per page. Transactions begun since this process started
      // (UUID v7 txids carry their creation time, from this clock) belong to our own engine:
      // the scan skips them, so it does not chase an index our engine keeps adding to, and
      // recovery takes any it loses when they come due.
      for await (const page of this.log.scanIndex("unacked", this.options.batchSize)) {
        await this.inParallel(
          page.filter((t) => txidTimeMs(t) < this.startedAtMs && !this.isActive(t)),
          (txid) => this.drivePhase2(txid),
        );
      }
      return;
    }
    const unacked = (await this.log.due("unacked", this.options.batchSize)).filter(
      (t) => !this.isActive(t),
    );
    await this.inParallel(unacked, (txid) => this.drivePhase2(txid));
  }

  private async inParallel(txids: string[], work: (txid: string) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < txids.length) {
        const txid = txids[next++] as string;
        try {
          await work(txid);
        } catch (err) {
          this.logger.warn(
            { txid, err: String(err) },
            "recovery of transaction failed; will retry",
          );
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.concurrency, txids.length) }, worker),
    );
  }

  /** Past its deadline without a decision: abort, unless the register says otherwise. */
  private async decideExpired(txid: string): Promise<void> {
    const record = await this.log.get(txid);
    if (!record || record.decision) return;
    if (record.onePhase) {
      await this.settleOnePhase(record);
      return;
    }
    const stored = await this.log.decideOnce(txid, "abort", {
      reason: "deadline passed; aborted by recovery",
      by: "recovery",
      retryDelayMs: 0,
    });
    this.logger.info({ txid, decision: stored.decision, won: stored.won }, "recovery decision");
    await this.drivePhase2(txid);
  }

  /** A one-phase participant decided on its own; ABORT either fences it or learns it committed. */
  private async settleOnePhase(record: TxRecord): Promise<void> {
    const [name] = record.participants;
    if (!name) return;
    const res = await this.participants
      .decide(name, record.txid, "abort")
      .catch(async (err: unknown) => {
        if (!(err instanceof TransportError)) throw err;
        await this.backOff(record.txid, "undecided");
        return undefined;
      });
    if (!res) return;
    const code = (res.data as { error?: { code?: string } } | undefined)?.error?.code;
    let decision: Decision;
    if (res.status === 200) decision = "abort";
    else if (res.status === 409 && code === "already-committed") decision = "commit";
    else return this.backOff(record.txid, "undecided");
    const stored = await this.log.decideOnce(record.txid, decision, {
      reason: `settled one phase by recovery`,
      by: "recovery",
      retryDelayMs: 0,
    });
    await this.log.end(record.txid, []);
    this.logger.info(
      { txid: record.txid, decision: stored.decision },
      "recovery settled one-phase transaction",
    );
  }

  /** Waits longer before the next attempt at a transaction that cannot be finished yet. */
  private async backOff(txid: string, index: RecoveryIndex): Promise<void> {
    const attempt = (this.attempts.get(txid) ?? 0) + 1;
    this.attempts.set(txid, attempt);
    await this.log.postpone(txid, index, backoffDelayMs(attempt, this.options.retryPolicy));
  }

  private async drivePhase2(txid: string): Promise<void> {
    const record = await this.log.get(txid);
    if (!record?.decision || record.state === "committed" || record.state === "aborted") return;
    const decision = record.decision;
    const targets = record.onePhase
      ? []
      : phase2TargetsOf(record, decision).filter((p) => record.acks[p] === undefined);
    const acked: string[] = [];
    let sent = 0;
    let firstSent!: () => void;
    const first = new Promise<void>((r) => (firstSent = r));
    await Promise.all(
      targets.map(async (name) => {
        // Recovery killed half-way: one participant has the decision, the others do not.
        if (sent++ > 0 && this.failpoints.isArmed("coordinator.recovery-after-first-send")) {
          await first;
          await this.failpoints.hit("coordinator.recovery-after-first-send");
        }
        try {
          const res = await this.participants.decide(name, txid, decision).finally(firstSent);
          if (res.status === 200) acked.push(name);
          else
            this.logger.warn(
              { txid, participant: name, decision, status: res.status, body: res.data },
              "recovery: decision refused",
            );
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          this.logger.warn(
            { txid, participant: name, decision, err: err.message },
            "recovery: decision got no answer",
          );
        }
      }),
    );
    if (acked.length === targets.length) {
      const state = await this.log.end(txid, acked);
      this.attempts.delete(txid);
      this.logger.info({ txid, state, by: "recovery" }, "end");
      return;
    }
    const attempt = (this.attempts.get(txid) ?? 0) + 1;
    this.attempts.set(txid, attempt);
    await this.log.ack(txid, acked, backoffDelayMs(attempt, this.options.retryPolicy));
    // The map only remembers transactions recovery is still retrying; bound it all the same.
    if (this.attempts.size > 100_000) this.attempts.clear();
  }
}

type RecoveryIndex = "undecided" | "unacked";

/** The participants that must hear a decision, from what the log recorded of their votes. */
export function phase2TargetsOf(record: TxRecord, decision: Decision): string[] {
  if (decision === "commit") return record.participants.filter((p) => record.votes[p] === "yes");
  return record.participants.filter(
    (p) => record.votes[p] !== "no" && record.votes[p] !== "read-only",
  );
}
