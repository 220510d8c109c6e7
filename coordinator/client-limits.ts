/**
 * Per-client limits on the transaction API, by API key id, in this coordinator process.
 *
 * - Requests per second: a token bucket (`ratePerSecond` sustained, `rateBurst` at once).
 * - Transactions in flight: at most `maxInFlight` running at once.
 * - Held time: the sum of the deadlines (timeoutMs) of the transactions in flight. Until its
 *   deadline a transaction may hold row locks and a prepared-transaction slot at every
 *   participant, so this bounds how much of the participants one client can tie up; without it
 *   one key held every slot of a bank with 60-second transactions and others' transfers failed.
 *
 * Operators (the admin secret) are not limited. Several coordinators each apply their own limits.
 * Memory is bounded by the number of configured keys.
 */
import { monotonicMs } from "../shared/clock.js";
import type { Caller } from "../shared/auth.js";
import { TooManyRequestsError } from "../shared/errors.js";

export interface ClientLimitSettings {
  maxInFlight: number;
  maxHeldMs: number;
  ratePerSecond: number;
  rateBurst: number;
}

interface Usage {
  inFlight: number;
  heldMs: number;
  tokens: number;
  refilledAtMs: number;
}

export class ClientLimits {
  private readonly usage = new Map<string, Usage>();

  constructor(private readonly settings: ClientLimitSettings) {}

  private of(clientId: string): Usage {
    let u = this.usage.get(clientId);
    if (!u) {
      u = { inFlight: 0, heldMs: 0, tokens: this.settings.rateBurst, refilledAtMs: monotonicMs() };
      this.usage.set(clientId, u);
    }
    return u;
  }

  /** Counts one request of a client against its rate (others pass); throws when the bucket is empty. */
  admitRequest(caller: Caller): void {
    if (caller.kind !== "client") return;
    const clientId = caller.id;
    const u = this.of(clientId);
    const now = monotonicMs();
    u.tokens = Math.min(
      this.settings.rateBurst,
      u.tokens + ((now - u.refilledAtMs) / 1000) * this.settings.ratePerSecond,
    );
    u.refilledAtMs = now;
    if (u.tokens < 1) {
      const waitS = Math.max(1, Math.ceil((1 - u.tokens) / this.settings.ratePerSecond));
      throw new TooManyRequestsError(
        `API key ${clientId} is over its rate of ${this.settings.ratePerSecond} requests per second; retry after ${waitS} s`,
        "rate",
        waitS,
      );
    }
    u.tokens -= 1;
  }

  /**
   * Takes room for one transaction with deadline `timeoutMs`; returns the function that gives it
   * back (call it once, when the client has its answer). Throws when over a limit.
   */
  startTransaction(clientId: string, timeoutMs: number): () => void {
    const u = this.of(clientId);
    if (u.inFlight >= this.settings.maxInFlight) {
      throw new TooManyRequestsError(
        `API key ${clientId} has ${u.inFlight} transactions in flight, its limit; retry when one has finished`,
        "in-flight",
        1,
      );
    }
    if (u.heldMs + timeoutMs > this.settings.maxHeldMs) {
      throw new TooManyRequestsError(
        `API key ${clientId} would hold ${u.heldMs + timeoutMs} ms of transaction deadlines in flight, over its limit of ${this.settings.maxHeldMs} ms; use shorter timeoutMs or retry when one has finished`,
        "held-time",
        Math.max(1, Math.ceil(timeoutMs / 1000)),
      );
    }
    u.inFlight += 1;
    u.heldMs += timeoutMs;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      u.inFlight -= 1;
      u.heldMs -= timeoutMs;
    };
  }
}
