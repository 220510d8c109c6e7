import { expect } from "chai";
import { HotKeys } from "../../coordinator/hot-keys.js";
import {
  MIN_ATTEMPT_MS,
  nextAttempt,
  retryDelayMs,
  TRANSIENT_REASONS,
} from "../../coordinator/retry-policy.js";

/** Which aborted attempts the coordinator runs again, scripted: outcome in, decision out. */
describe("retry policy: only transient refusals are retried, within attempts and deadline", () => {
  const budget = { attempt: 1, maxAttempts: 20, remainingMs: 4000 };
  const refused = (reason: string) => ({
    outcome: "aborted" as const,
    abortCause: { participant: "bank-a", reason },
    clientFault: false,
  });

  it("retries a conflict, a lock timeout, a deadlock, a serialization failure and busy", () => {
    for (const reason of [
      "conflict",
      "lock-timeout",
      "deadlock",
      "serialization-failure",
      "busy",
    ]) {
      expect(TRANSIENT_REASONS.has(reason)).to.equal(true);
      expect(nextAttempt(refused(reason), budget, 0.5).retry, reason).to.equal(true);
    }
  });

  it("never retries a business refusal, a malformed request, a failure without a refusal, a commit or an unknown outcome", () => {
    for (const reason of [
      "insufficient-funds",
      "version-conflict",
      "unknown-account",
      "already-aborted",
      "balance-out-of-range",
      "statement-timeout",
    ]) {
      expect(nextAttempt(refused(reason), budget, 0.5).retry, reason).to.equal(false);
    }
    expect(nextAttempt({ ...refused("conflict"), clientFault: true }, budget, 0.5).retry).to.equal(
      false,
    );
    expect(nextAttempt({ outcome: "aborted", clientFault: false }, budget, 0.5)).to.deep.include({
      retry: false,
    });
    expect(nextAttempt({ outcome: "committed", clientFault: false }, budget, 0.5).retry).to.equal(
      false,
    );
    expect(nextAttempt({ outcome: "unknown", clientFault: false }, budget, 0.5).retry).to.equal(
      false,
    );
  });

  it("stops at maxAttempts (0 and 1 both mean one attempt) and when the deadline leaves no room", () => {
    expect(nextAttempt(refused("conflict"), { ...budget, attempt: 20 }, 0.5).retry).to.equal(false);
    expect(nextAttempt(refused("conflict"), { ...budget, maxAttempts: 0 }, 0.5).retry).to.equal(
      false,
    );
    expect(nextAttempt(refused("conflict"), { ...budget, maxAttempts: 1 }, 0.5).retry).to.equal(
      false,
    );
    expect(nextAttempt(refused("conflict"), { ...budget, maxAttempts: 2 }, 0.5).retry).to.equal(
      true,
    );
    expect(
      nextAttempt(refused("conflict"), { ...budget, remainingMs: MIN_ATTEMPT_MS }, 0.5).retry,
    ).to.equal(false);
  });

  it("backs off exponentially from 5 ms to at most 200 ms, with jitter within half of it", () => {
    expect(retryDelayMs(1, 0)).to.equal(2);
    expect(retryDelayMs(1, 1)).to.equal(5);
    expect(retryDelayMs(3, 1)).to.equal(20);
    expect(retryDelayMs(30, 1)).to.equal(200);
    expect(retryDelayMs(30, 0)).to.equal(100);
  });
});

describe("hot keys: rows that conflicted lately make a request start in order", () => {
  it("is hot within the window after a conflict on that participant's key, and only there", () => {
    const hot = new HotKeys(2000);
    hot.noteConflict("bank-a", "accounts:alice", 1000);
    expect(hot.anyHot([{ participant: "bank-a", key: "accounts:alice" }], 2500)).to.equal(true);
    expect(hot.anyHot([{ participant: "bank-b", key: "accounts:alice" }], 2500)).to.equal(false);
    expect(hot.anyHot([{ participant: "bank-a", key: "accounts:bob" }], 2500)).to.equal(false);
    expect(hot.anyHot([{ participant: "bank-a", key: "accounts:alice" }], 3001)).to.equal(false);
  });

  it("stays bounded: the oldest conflicts leave first", () => {
    const hot = new HotKeys(10_000, 2);
    hot.noteConflict("a", "k1", 1);
    hot.noteConflict("a", "k2", 2);
    hot.noteConflict("a", "k3", 3);
    expect(hot.anyHot([{ participant: "a", key: "k1" }], 4)).to.equal(false);
    expect(hot.anyHot([{ participant: "a", key: "k3" }], 4)).to.equal(true);
  });
});
