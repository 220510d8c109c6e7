/**
 * Recovery throughput: a coordinator whose engine loses every transaction right after writing
 * its decision (failpoint `coordinator.after-decision=error`, recovery asleep) piles up N decided
 * but unacknowledged transactions; it is then killed with SIGKILL and started again without the
 * failpoint, and we time how long until its log holds nothing unacknowledged.
 */
import { monotonicMs, sleep } from "../../shared/clock.js";
import type { DurableLog } from "../../shared/durable-log.js";
import type { ProcessSpec } from "../cluster/processes.js";
import type { KeepAliveJson } from "./http-json.js";
import { legs, transferBody } from "./drivers.js";

export interface RecoveryResult {
  transactions: number;
  /** Decided and unacknowledged in the log when the coordinator was killed. */
  unackedAtKill: number;
  /** From spawning the new process until nothing is unacknowledged. */
  secondsFromSpawn: number;
  /** From the new process answering /healthz until nothing is unacknowledged. */
  secondsFromReady: number;
  perSecondFromSpawn: number;
}

/** What the runner provides: start or kill the recovery coordinator with an environment. */
export interface CoordinatorControl {
  start(env: Record<string, string>): Promise<{
    url: string;
    spec: ProcessSpec;
    pid: number;
    readyAtMs: number;
    spawnedAtMs: number;
  }>;
  kill(pid: number, spec: ProcessSpec): Promise<void>;
}

const INJECT_CONCURRENCY = 32;
const DRAIN_TIMEOUT_MS = 300_000;

export async function measureRecovery(
  n: number,
  banks: readonly string[],
  http: KeepAliveJson,
  apiKey: string,
  log: DurableLog,
  control: CoordinatorControl,
): Promise<RecoveryResult> {
  const before = await log.activeCounts();
  if (before.unacked > 0)
    throw new Error(
      `the log already holds ${before.unacked} unacknowledged transactions; the measurement needs it empty`,
    );
  // Recovery asleep (its start-up pass finds nothing), and every decision lost by the engine.
  const losing = await control.start({
    CONCORD_FAILPOINTS: "coordinator.after-decision=error",
    CONCORD_RECOVERY_INTERVAL_MS: "600000",
  });
  await inject(n, banks, http, losing.url, apiKey);
  const unackedAtKill = (await log.activeCounts()).unacked;
  await control.kill(losing.pid, losing.spec);

  const restarted = await control.start({});
  const deadline = restarted.spawnedAtMs + DRAIN_TIMEOUT_MS;
  for (;;) {
    const { unacked } = await log.activeCounts();
    if (unacked === 0) break;
    if (monotonicMs() > deadline)
      throw new Error(
        `recovery left ${unacked} of ${unackedAtKill} unacknowledged after ${DRAIN_TIMEOUT_MS / 1000} s`,
      );
    await sleep(20);
  }
  const doneAt = monotonicMs();
  const secondsFromSpawn = (doneAt - restarted.spawnedAtMs) / 1000;
  await control.kill(restarted.pid, restarted.spec);
  return {
    transactions: n,
    unackedAtKill,
    secondsFromSpawn: round3(secondsFromSpawn),
    secondsFromReady: round3((doneAt - restarted.readyAtMs) / 1000),
    perSecondFromSpawn: Math.round(unackedAtKill / secondsFromSpawn),
  };
}

/** Sends n transfers; each is answered "outcome unknown" once its decision is in the log. */
async function inject(
  n: number,
  banks: readonly string[],
  http: KeepAliveJson,
  url: string,
  apiKey: string,
): Promise<void> {
  const headers = { authorization: `Bearer ${apiKey}` };
  const plan = legs(banks);
  let sent = 0;
  let unexpected: string | undefined;
  const worker = async (w: number) => {
    while (sent < n && unexpected === undefined) {
      sent++;
      const res = await http.post(`${url}/v1/transactions`, transferBody(plan, w), headers);
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
      if (res.status !== 503 || code !== "outcome-unknown")
        unexpected = `${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
    }
  };
  await Promise.all(Array.from({ length: INJECT_CONCURRENCY }, (_, w) => worker(w)));
  if (unexpected)
    throw new Error(
      `injecting decided transactions: expected 503 outcome-unknown, got ${unexpected}`,
    );
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
