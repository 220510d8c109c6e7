/**
 * Prometheus metrics (prom-client). Each service instance has a registry of its own rather than
 * prom-client's global one: tests run several participants in one process, and each must count
 * only what it did. Served at `/metrics` to operators (shared/metrics-route.ts).
 *
 * Names follow Prometheus's conventions: `concord_` prefix, `_total` for counters, base units
 * (seconds). Labels are bounded sets (outcome, reason, participant, route pattern, status):
 * never a txid, an account or a raw path, which would make a series per request.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

/** Latency buckets in seconds: from a local commit (~1 ms) to a deadline-long wait (60 s). */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** What every service counts: its HTTP traffic and the failures of its stores. */
export interface ServiceMetrics {
  registry: Registry;
  /** Requests by method, route pattern (`/v1/transactions/:txid`, never the raw path) and status. */
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  /** A store call that failed: `store` is `redis` or `postgres`, `operation` what was being done. */
  storeErrors: Counter<"store" | "operation">;
}

export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "concord_process_" });
  return {
    registry,
    httpRequests: new Counter({
      name: "concord_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "concord_http_request_duration_seconds",
      help: "HTTP request durations, by method and route pattern",
      labelNames: ["method", "route"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: "concord_store_errors_total",
      help: "failed calls to a store (redis or postgres), by what was being done",
      labelNames: ["store", "operation"],
      registers: [registry],
    }),
  };
}

/** Distinct values one label may take before the rest are counted as `other`. */
const MAX_LABEL_VALUES = 64;

/**
 * Keeps a label's values a bounded set: reason codes are short kebab-case words from a fixed
 * vocabulary (the framework's and the application's), but an application may say anything, and a
 * series per free-form message would grow without end. Anything else, and any value past the
 * first MAX_LABEL_VALUES, is `other`.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  of(value: string | undefined, none = "none"): string {
    if (value === undefined || value === "") return none;
    if (!/^[a-z0-9][a-z0-9_-]{0,47}$/.test(value)) return "other";
    if (this.seen.has(value)) return value;
    if (this.seen.size >= MAX_LABEL_VALUES) return "other";
    this.seen.add(value);
    return value;
  }
}

/** What a NO vote's reason says about contention (the participant framework's reason codes). */
export type ContentionKind = "lock-conflict" | "deadlock" | "serialization-failure";

export function contentionOf(reason: string | undefined): ContentionKind | undefined {
  switch (reason) {
    case "conflict": // wait-die met an older (or ordered) transaction on a row
    case "lock-timeout": // 55P03
      return "lock-conflict";
    case "deadlock": // 40P01
      return "deadlock";
    case "serialization-failure": // 40001
      return "serialization-failure";
    default:
      return undefined;
  }
}
