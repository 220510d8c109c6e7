/**
 * Memory under sustained load: coordinator RSS and the decision log's Redis memory, sampled
 * while coordination-only transfers run for a while. With a short retention the log's finished
 * records expire as fast as new ones arrive, so both should level off instead of growing with
 * the number of transactions ever run.
 */
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { monotonicMs, sleep } from "../../shared/clock.js";
import type { Transfer } from "./drivers.js";

export interface MemorySample {
  seconds: number;
  transactions: number;
  coordinatorRssMiB: number;
  redisUsedMiB: number;
  redisKeys: number;
}

export interface MemoryResult {
  concurrency: number;
  retentionSeconds: number;
  samples: MemorySample[];
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

export async function redisUsedBytes(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

async function redisUsedMiB(redis: Redis): Promise<number> {
  return Math.round(((await redisUsedBytes(redis)) / 2 ** 20) * 10) / 10;
}

export async function measureMemory(p: {
  transfer: Transfer;
  concurrency: number;
  durationMs: number;
  sampleEveryMs: number;
  coordinatorPid: number;
  redis: Redis;
  retentionSeconds: number;
  /** Stop after this many transactions (the duration still bounds the run). */
  maxTransactions?: number;
  /** Stop early when this fires (the run so far is still reported). */
  stop?: AbortSignal;
  /** Told of each sample as it is taken: a long run's progress is readable while it goes. */
  onSample?: (s: MemorySample) => void;
}): Promise<MemoryResult> {
  const samples: MemorySample[] = [];
  let transactions = 0;
  let begun = 0;
  const started = monotonicMs();
  const until = started + p.durationMs;
  const sample = async () => {
    const s = {
      seconds: Math.round((monotonicMs() - started) / 100) / 10,
      transactions,
      coordinatorRssMiB: rssMiB(p.coordinatorPid),
      redisUsedMiB: await redisUsedMiB(p.redis),
      redisKeys: await p.redis.dbsize(),
    };
    samples.push(s);
    p.onSample?.(s);
  };
  await sample();
  // An AbortController, not a local flag: TypeScript would take a flag read inside the loop below
  // for the constant it was set to.
  const done = new AbortController();
  const sampler = (async () => {
    for (;;) {
      await sleep(p.sampleEveryMs);
      if (done.signal.aborted) return;
      await sample();
    }
  })();
  await Promise.all(
    Array.from({ length: p.concurrency }, async (_, w) => {
      while (
        monotonicMs() < until &&
        begun < (p.maxTransactions ?? Infinity) &&
        p.stop?.aborted !== true
      ) {
        begun++;
        // Failures are counted by the throughput cells; here only the volume matters.
        await p.transfer(w).then(
          () => transactions++,
          () => undefined,
        );
      }
    }),
  );
  done.abort();
  await sampler;
  await sample();
  return { concurrency: p.concurrency, retentionSeconds: p.retentionSeconds, samples };
}
