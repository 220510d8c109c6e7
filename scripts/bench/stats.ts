/** Latency summaries for one benchmark cell. */

export interface LatencySummaryMs {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile over an ascending array; NaN when there is no sample. */
export function percentile(sortedAsc: readonly number[], p: number): number {
  if (sortedAsc.length === 0) return Number.NaN;
  const rank = Math.min(
    sortedAsc.length - 1,
    Math.max(0, Math.ceil((p / 100) * sortedAsc.length) - 1),
  );
  return sortedAsc[rank] as number;
}

export function summarize(samplesMs: number[]): LatencySummaryMs {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(percentile(sorted, 100)),
  };
}
