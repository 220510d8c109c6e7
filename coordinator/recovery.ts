/**
 * Recovery finishes what the log holds: undecided transactions past their deadline are aborted
 * through the write-once register, and decided ones are driven to every participant until all
 * acknowledge. It reads only the active indexes, so its work grows with the transactions in
 * flight, never with history. It runs at start-up and then on an interval; transactions the
 * local engine is driving are left to the engine.
 */
import { backoffDelayMs } from "../shared/backoff.js";
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { txidTimeMs } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import { TransactionDriver, type DriverIo } from "./driver.js";
import type { RecoveryAction } from "./coordinator-observer.js";
import { fromLog, type CoreState } from "./protocol.js";

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

  private readonly log: DurableLog;
  private readonly logger: Logger;

  constructor(
    private readonly io: DriverIo,
    private readonly isActive: (txid: string) => boolean,
    private readonly options: RecoveryOptions = DEFAULT_RECOVERY_OPTIONS,
  ) {
    this.log = io.log;
    this.logger = io.logger;
  }

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
        .catch((err: unknown) => {
          this.logger.warn({ err: String(err) }, "recovery pass failed; will retry");
        })
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
    await this.inParallel(undecided, (txid) => this.recover(txid, "undecided"));
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
          (txid) => this.recover(txid, "unacked"),
        );
      }
      return;
    }
    const unacked = (await this.log.due("unacked", this.options.batchSize)).filter(
      (t) => !this.isActive(t),
    );
    await this.inParallel(unacked, (txid) => this.recover(txid, "unacked"));
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

  /**
   * Takes one transaction up from the log and drives it as far as it goes now: the core says
   * what to do (abort past the deadline, settle one phase, resend phase 2); the driver does it.
   * `index`: where recovery found it; an undecided one found there is past its deadline.
   */
  private async recover(txid: string, index: RecoveryIndex): Promise<void> {
    const record = await this.log.get(txid);
    if (!record) return;
    await this.drive(record, index);
  }

  /**
   * Phase 2 of one decided transaction, now, whether due or not (the operators' retry, and the
   * abort an operator wrote): what a pass does for it, on demand. Returns the state the driver
   * left it in, and why each send of the decision that failed did. An undecided or ended one
   * is left as it is.
   */
  async finish(record: TxRecord): Promise<{ state: CoreState; failures: Map<string, string> }> {
    const failures = new Map<string, string>();
    const state = await this.drive(record, "unacked", (participant, why) => {
      failures.set(participant, why);
    });
    return { state, failures };
  }

  private async drive(
    record: TxRecord,
    index: RecoveryIndex,
    onSendFailed?: (participant: string, why: string) => void,
  ): Promise<CoreState> {
    const { txid } = record;
    const driver = new TransactionDriver(fromLog(record, "recovery"), this.io, {
      decisionRetryDelayMs: 0,
      firstSendFailpoint: "coordinator.recovery-after-first-send",
      handOffDelayMs: () => this.nextDelayMs(txid),
      letGo: (at) => this.log.postpone(txid, at, this.nextDelayMs(txid)),
      ...(onSendFailed ? { onDecisionFailed: onSendFailed } : {}),
    });
    // A transaction with nothing to do now (not yet due, or ended) produces no effect at all.
    if (driver.dispatch({ type: "recovered", deadlinePassed: index === "undecided" }) === 0)
      return driver.state;
    await driver.done;
    const { phase } = driver.state;
    if (phase === "committed" || phase === "aborted") this.attempts.delete(txid);
    this.io.observer?.recovered(recoveryAction(index, driver.state));
    return driver.state;
  }

  /** Backs off from a transaction that cannot be finished yet: each pass waits longer. */
  private nextDelayMs(txid: string): number {
    const attempt = (this.attempts.get(txid) ?? 0) + 1;
    // The map only remembers transactions recovery is still retrying; bound it all the same.
    if (this.attempts.size > 100_000) this.attempts.clear();
    this.attempts.set(txid, attempt);
    return backoffDelayMs(attempt, this.options.retryPolicy);
  }
}

type RecoveryIndex = "undecided" | "unacked";

/**
 * What a recovery of one transaction did, for metrics: an undecided one past its deadline is
 * aborted through the register (`presumed-abort`); a decided one
 * had phase 2 resent to the end (`commit`/`abort`); anything left for later is `postponed`.
 */
function recoveryAction(index: RecoveryIndex, state: CoreState): RecoveryAction {
  const ended = state.phase === "committed" || state.phase === "aborted";
  if (index === "undecided" && state.decision === "abort") return "presumed-abort";
  if (!ended) return "postponed";
  return state.decision === "commit" ? "commit" : "abort";
}
