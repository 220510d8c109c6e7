/**
 * Walks one shard of an index scored by creation time (a client's index, the finished index),
 * newest first from a cursor, until it has enough matching transactions, reaches the end, or
 * has read its budget. Continues by score, not by offset: entries the archiver removes while the
 * walk goes on would otherwise shift the offsets and make it skip others.
 */
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import {
  isAfter,
  matches,
  positionOf,
  type HistoryFilter,
  type Position,
} from "./history-query.js";

const CHUNK = 200;

export interface ShardWalk {
  found: TxRecord[];
  /** Set when the walk stopped before the end: entries after this position were not read. */
  floor?: Position;
}

export async function walkShard(
  log: DurableLog,
  key: string,
  filter: HistoryFilter,
  cursor: Position | undefined,
  want: number,
): Promise<ShardWalk> {
  let budget = Math.max(4 * want, 1000);
  const found: TxRecord[] = [];
  let max = upperBound(filter, cursor);
  const min = filter.sinceMs === undefined ? "-inf" : String(filter.sinceMs);
  let last = cursor;
  // Entries at the score `max` already read (ties): skipped by offset, then by position.
  let ties = 0;
  for (;;) {
    const count = Math.min(CHUNK, budget);
    if (count === 0) return last ? { found, floor: last } : { found };
    const flat = await log.redis.zrevrangebyscore(
      key,
      max,
      min,
      "WITHSCORES",
      "LIMIT",
      ties,
      count,
    );
    const pairs: Position[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      pairs.push({ txid: flat[i] as string, atMs: Number(flat[i + 1]) });
    budget -= pairs.length;
    const records = await log.getMany(pairs.map((p) => p.txid));
    for (const r of records)
      if (isAfter(positionOf(r), cursor) && matches(r, filter)) found.push(r);
    if (found.length >= want || pairs.length < count) return { found };
    const tail = pairs.at(-1) as Position;
    ties =
      String(tail.atMs) === max
        ? ties + pairs.length
        : pairs.filter((p) => p.atMs === tail.atMs).length;
    max = String(tail.atMs);
    last = tail;
  }
}

function upperBound(filter: HistoryFilter, cursor: Position | undefined): string {
  const bounds: number[] = [];
  if (cursor) bounds.push(cursor.atMs);
  // `until` is exclusive: one ms below it.
  if (filter.untilMs !== undefined) bounds.push(filter.untilMs - 1);
  return bounds.length === 0 ? "+inf" : String(Math.min(...bounds));
}
