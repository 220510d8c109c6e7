/**
 * The archiver: moves finished transactions older than the window from Redis to the archive
 * (coordinator/archive-store.ts), shard by shard, a batch at a time. The copy is committed in
 * PostgreSQL before anything is removed from Redis; a crash in between leaves the transaction in
 * both, and the next pass copies it again (ON CONFLICT keeps the first copy) and removes it.
 *
 * Several coordinators may run against one log (DESIGN.md §11): a lease in Redis lets one of
 * them archive at a time. Should two ever overlap (a lease lost during a slow pass), the copies
 * are idempotent and the removal checks the record first, so nothing is lost or doubled.
 *
 * PostgreSQL being down affects no transaction: the pass fails, is logged and counted, and the
 * finished transactions wait in Redis (their retention still bounds them) until the next one.
 */
import { randomUUID } from "node:crypto";
import type { Counter } from "prom-client";
import type { DurableLog } from "../shared/durable-log.js";
import { parseRecord, SHARD_COUNT } from "../shared/durable-log.js";
import type { Logger } from "../shared/logger.js";
import type { ArchiveItem, ArchiveStore } from "./archive-store.js";

export interface ArchiverOptions {
  /** A finished transaction stays in Redis this long after its end. */
  afterMs: number;
  intervalMs: number;
  batchSize: number;
}

const LEASE_KEY = "{concord:coordinator:archiver}:lease";

export class Archiver {
  /** Transactions moved since start, and passes that failed. */
  archived = 0;
  failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly owner = randomUUID();

  constructor(
    private readonly log: DurableLog,
    private readonly store: ArchiveStore,
    private readonly options: ArchiverOptions,
    private readonly logger: Logger,
    private readonly metrics?: { storeErrors: Counter<"store" | "operation"> },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick();
    }, delayMs);
    this.timer.unref();
  }

  /** One pass; another at once while a pass fills whole batches (it is catching up). */
  private async tick(): Promise<void> {
    let next = this.options.intervalMs;
    try {
      const { moved, full } = await this.pass();
      this.archived += moved;
      if (full) next = 0;
    } catch (err) {
      this.failures++;
      const store = err instanceof ArchiveWriteError ? "postgres" : "redis";
      this.metrics?.storeErrors.inc({ store, operation: "archive" });
      this.logger.warn({ err: String(err), store }, "archive pass failed; retrying later");
    }
    this.schedule(next);
  }

  /** Archives what is due in every shard, if this process holds the lease. */
  async pass(): Promise<{ moved: number; full: boolean }> {
    if (!(await this.holdLease())) return { moved: 0, full: false };
    await postgres(() => this.store.ensureSchema());
    const cutoff = (await this.log.nowMs()) - this.options.afterMs;
    let moved = 0;
    let full = false;
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      const done = await this.archiveShard(shard, cutoff);
      moved += done.moved;
      full ||= done.full;
    }
    return { moved, full };
  }

  private async holdLease(): Promise<boolean> {
    const leaseMs = Math.max(10_000, 5 * this.options.intervalMs);
    const redis = this.log.redis;
    if ((await redis.set(LEASE_KEY, this.owner, "PX", leaseMs, "NX")) === "OK") return true;
    if ((await redis.get(LEASE_KEY)) !== this.owner) return false;
    await redis.set(LEASE_KEY, this.owner, "PX", leaseMs, "XX");
    return true;
  }

  /**
   * One batch of a shard. The finished index is scored by creation time; a transaction is due
   * once it ended before the cutoff, which its record says.
   */
  private async archiveShard(shard: number, cutoff: number) {
    const { batchSize } = this.options;
    const key = this.log.indexKeyOf(shard, "finished");
    const txids = await this.log.redis.zrangebyscore(key, "-inf", cutoff, "LIMIT", 0, batchSize);
    if (txids.length === 0) return { moved: 0, full: false };
    const items: ArchiveItem[] = [];
    const expired: string[] = [];
    for (const raw of await this.log.raw(txids)) {
      if (Object.keys(raw.fields).length === 0) {
        expired.push(raw.txid);
        continue;
      }
      const record = this.parse(raw.txid, raw.fields);
      if (record?.endedAtMs !== undefined && record.endedAtMs <= cutoff)
        items.push({ raw, record });
    }
    await postgres(() => this.store.insert(items));
    // Only now that the archive's commit is done.
    const codes = await this.log.forget([
      ...items.map(({ record }) => ({
        txid: record.txid,
        client: record.client,
        next: record.next ?? "",
      })),
      ...expired.map((txid) => ({ txid, client: undefined, next: "" })),
    ]);
    return { moved: codes.filter((c) => c === 1).length, full: items.length === batchSize };
  }

  /** A record no script could have written stays in Redis, reported, rather than archived. */
  private parse(txid: string, fields: Record<string, string>) {
    try {
      return parseRecord(txid, fields);
    } catch (err) {
      this.logger.error({ txid, err: String(err) }, "archive: corrupt record left in Redis");
      return undefined;
    }
  }
}

/** A failure of the archive's PostgreSQL, told apart from Redis's for the store-error metric. */
class ArchiveWriteError extends Error {
  constructor(cause: unknown) {
    super(`archive (PostgreSQL): ${(cause as Error).message}`);
    this.name = "ArchiveWriteError";
  }
}

async function postgres<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new ArchiveWriteError(err);
  }
}
