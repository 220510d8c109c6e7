/**
 * Redis bytes per transaction in each stage of its life, measured by writing K records with the
 * coordinator's own scripts (shared/durable-log.ts) into a key space of their own on a quiet
 * decision-log Redis: begun (preparing), decided (committing, awaiting acknowledgements), and
 * finished (what the archive window keeps). Its own namespace keeps the coordinator's recovery
 * away from them; the key names differ from the coordinator's by a few bytes only.
 */
import type { Redis } from "ioredis";
import { DurableLog } from "../../shared/durable-log.js";
import { newTxid } from "../../shared/ids.js";
import { redisUsedBytes } from "./memory.js";

export interface InFlightMemory {
  transactions: number;
  participants: number;
  bytesPerPreparing: number;
  bytesPerCommitting: number;
  bytesPerFinished: number;
}

const NAMESPACE = "bench-inflight";

async function inBatches(txids: string[], work: (txid: string) => Promise<unknown>) {
  for (let i = 0; i < txids.length; i += 256) await Promise.all(txids.slice(i, i + 256).map(work));
}

export async function measureInFlightMemory(redis: Redis, k: number): Promise<InFlightMemory> {
  const log = new DurableLog(redis, { namespace: NAMESPACE, retentionSeconds: 3600 });
  const participants = ["bank-a", "bank-b"];
  const txids = Array.from({ length: k }, () => newTxid());
  const base = await redisUsedBytes(redis);
  const per = async () => Math.round(((await redisUsedBytes(redis)) - base) / k);
  await inBatches(txids, (txid) =>
    log.begin(txid, { participants, timeoutMs: 600_000, onePhase: false, client: "client-1" }),
  );
  const bytesPerPreparing = await per();
  await inBatches(txids, (txid) =>
    log.decideOnce(txid, "commit", {
      by: "engine",
      votes: { "bank-a": "yes", "bank-b": "yes" },
      missingRecord: "create",
    }),
  );
  const bytesPerCommitting = await per();
  await inBatches(txids, (txid) => log.end(txid, participants));
  const bytesPerFinished = await per();
  // Gone again, so the run that follows starts from the same Redis.
  const stream = redis.scanStream({ match: `{concord:${NAMESPACE}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>)
    if (keys.length > 0) await redis.unlink(...keys);
  return {
    transactions: k,
    participants: participants.length,
    bytesPerPreparing,
    bytesPerCommitting,
    bytesPerFinished,
  };
}
