import { performance } from "node:perf_hooks";

/**
 * Monotonic milliseconds for deadlines and retry timers. Wall time can jump (NTP, an operator),
 * and a deadline measured with it could fire early or never.
 */
export function monotonicMs(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
