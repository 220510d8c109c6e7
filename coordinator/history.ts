/**
 * Reading transactions for `GET /v1/transactions[/:txid]`: Redis holds the active ones and the
 * finished ones of the last window; the archive (PostgreSQL, when configured) the older ones.
 * Redis is always read first: the archiver commits a copy before it removes a transaction from
 * Redis, so one that moves between the two reads is found in the archive.
 */
import type { DurableLog, LogEvent, TxRecord } from "../shared/durable-log.js";
import { SHARD_COUNT } from "../shared/durable-log.js";
import { UnavailableError } from "../shared/errors.js";
import type { ArchiveStore } from "./archive-store.js";
import {
  encodeCursor,
  isAfter,
  matches,
  newestFirst,
  positionOf,
  type HistoryFilter,
  type Position,
} from "./history-query.js";
import { withRedis } from "./redis-errors.js";
import { walkShard } from "./history-walk.js";

/** Active transactions read per index shard at most: the active set is small by nature. */
const ACTIVE_PER_SHARD = 2000;

export interface HistoryPage {
  records: TxRecord[];
  nextCursor: string | null;
}

export async function findTransaction(
  log: DurableLog,
  archive: ArchiveStore | undefined,
  txid: string,
): Promise<{ record: TxRecord; events: LogEvent[] } | undefined> {
  const [record, events] = await withRedis(() => Promise.all([log.get(txid), log.events(txid)]));
  if (record) return { record, events };
  if (!archive) return undefined;
  return withArchive(async () => {
    const archived = await archive.get(txid);
    return archived ? { record: archived, events: await archive.events(txid) } : undefined;
  });
}

/**
 * One page of transactions matching `filter` after `cursor`, newest first. A page may hold fewer
 * than `limit` when a selective filter made Redis's part too long to read at once; `nextCursor`
 * then continues where the reading stopped. No transaction is listed twice, none is skipped.
 */
export async function listTransactions(
  log: DurableLog,
  archive: ArchiveStore | undefined,
  filter: HistoryFilter,
  cursor: Position | undefined,
  limit: number,
): Promise<HistoryPage> {
  const want = limit + 1;
  const { records: inRedis, floor } = await withRedis(() => readRedis(log, filter, cursor, want));
  const inArchive =
    archive && !activeOnly(filter.state)
      ? await withArchive(() => archive.list(filter, cursor, want))
      : [];
  const seen = new Set<string>();
  let all = [...inRedis, ...inArchive].filter((r) => !seen.has(r.txid) && seen.add(r.txid));
  all.sort((a, b) => newestFirst(positionOf(a), positionOf(b)));
  // Below the floor, some of Redis was left unread: those come with the next page.
  if (floor) all = all.filter((r) => !isAfter(positionOf(r), floor));
  const records = all.slice(0, limit);
  const last = records.at(-1);
  const nextCursor =
    all.length > limit && last
      ? encodeCursor(positionOf(last))
      : floor
        ? encodeCursor(floor)
        : null;
  return { records, nextCursor };
}

function activeOnly(state: HistoryFilter["state"]): boolean {
  return (
    state === "active" || state === "preparing" || state === "committing" || state === "aborting"
  );
}

function finishedOnly(state: HistoryFilter["state"]): boolean {
  return state === "finished" || state === "committed" || state === "aborted";
}

/**
 * Redis's part: a client's own index (every transaction it made, active or finished), or for
 * operators the active indexes and the finished one. Returns the newest floor any shard's walk
 * stopped at before reaching its end.
 */
async function readRedis(
  log: DurableLog,
  filter: HistoryFilter,
  cursor: Position | undefined,
  want: number,
): Promise<{ records: TxRecord[]; floor: Position | undefined }> {
  const client = filter.client;
  const shards = Array.from({ length: SHARD_COUNT }, (_, shard) => shard);
  const walk = client !== undefined || !activeOnly(filter.state);
  const walked = walk
    ? await Promise.all(
        shards.map((shard) =>
          walkShard(
            log,
            client === undefined
              ? log.indexKeyOf(shard, "finished")
              : log.clientIndexKeyOf(shard, client),
            filter,
            cursor,
            want,
          ),
        ),
      )
    : [];
  const active =
    client === undefined && !finishedOnly(filter.state)
      ? await readActive(log, filter, cursor, shards)
      : [];
  let floor: Position | undefined;
  for (const w of walked)
    if (w.floor && (!floor || newestFirst(w.floor, floor) < 0)) floor = w.floor;
  return { records: [...active, ...walked.flatMap((w) => w.found)], floor };
}

async function readActive(
  log: DurableLog,
  filter: HistoryFilter,
  cursor: Position | undefined,
  shards: number[],
): Promise<TxRecord[]> {
  const pipeline = log.redis.pipeline();
  for (const shard of shards) {
    pipeline.zrevrange(log.indexKeyOf(shard, "undecided"), 0, ACTIVE_PER_SHARD - 1);
    pipeline.zrevrange(log.indexKeyOf(shard, "unacked"), 0, ACTIVE_PER_SHARD - 1);
  }
  const replies = (await pipeline.exec()) ?? [];
  const txids = [...new Set(replies.flatMap(([, m]) => (m as string[] | null) ?? []))];
  const records = await log.getMany(txids);
  return records.filter((r) => isAfter(positionOf(r), cursor) && matches(r, filter));
}

/** PostgreSQL errors become a clear 503, as Redis's do. */
async function withArchive<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new UnavailableError(
      `the archive (PostgreSQL) is unreachable: ${(err as Error).message}`,
    );
  }
}
