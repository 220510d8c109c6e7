/**
 * Named failpoints: places in the code where a test or the chaos runner can make a process
 * crash (SIGKILL itself), sleep, fail, or hang, to reproduce a fault at an exact protocol step.
 * Nothing fires unless configured: by CONCORD_FAILPOINTS at start-up, or through the admin
 * endpoint, which exists only when explicitly enabled.
 *
 * CONCORD_FAILPOINTS syntax: `name=action[@probability][#count];...` where action is `crash`,
 * `error`, `hang` or `sleep(ms)`; e.g. `coordinator.after-decision=crash#1`.
 */
import { z } from "zod";
import { sleep } from "./clock.js";

export const COORDINATOR_FAILPOINTS = [
  "coordinator.after-begin",
  "coordinator.between-prepares",
  "coordinator.after-votes",
  "coordinator.after-decision",
  "coordinator.after-first-commit",
  "coordinator.recovery-after-first-send",
] as const;

export const PARTICIPANT_FAILPOINTS = [
  "participant.before-prepare",
  "participant.after-prepare",
  "participant.before-commit-prepared",
  "participant.after-commit-prepared",
  "participant.recovery-before-resolve",
] as const;

export const failpointSpecSchema = z
  .object({
    action: z.enum(["crash", "sleep", "error", "hang"]),
    ms: z.number().int().min(0).max(600_000).optional(),
    probability: z.number().min(0).max(1).optional(),
    count: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .refine((s) => s.action !== "sleep" || s.ms !== undefined, {
    message: "sleep needs ms",
    path: ["ms"],
  });
export type FailpointSpec = z.infer<typeof failpointSpecSchema>;

/** Thrown at a failpoint whose action is `error`: the code path fails as an I/O error would. */
export class FailpointError extends Error {
  constructor(readonly failpoint: string) {
    super(`failpoint ${failpoint} fired`);
    this.name = "FailpointError";
  }
}

interface Armed {
  spec: FailpointSpec;
  remaining: number;
}

/**
 * What a failpoint did since it was last armed: how many times it fired, and how many of those
 * finished their action (a sleep that ended, an error thrown; a crash or a hang never finishes).
 * Kept after the failpoint disarms itself, so a test can wait for a held step to go on instead
 * of sleeping for as long as it was held.
 */
export interface FailpointCounts {
  fired: number;
  finished: number;
}

export class Failpoints {
  private readonly armed = new Map<string, Armed>();
  private readonly counts = new Map<string, FailpointCounts>();

  constructor(
    private readonly known: readonly string[],
    private readonly onFire: (name: string, spec: FailpointSpec) => void = () => undefined,
    private readonly random: () => number = Math.random,
  ) {}

  set(name: string, spec: FailpointSpec | undefined): void {
    if (!this.known.includes(name))
      throw new Error(`unknown failpoint ${JSON.stringify(name)}; known: ${this.known.join(", ")}`);
    if (spec === undefined) {
      this.armed.delete(name);
      return;
    }
    this.armed.set(name, {
      spec: failpointSpecSchema.parse(spec),
      remaining: spec.count ?? Infinity,
    });
    this.counts.set(name, { fired: 0, finished: 0 });
  }

  isArmed(name: string): boolean {
    return this.armed.has(name);
  }

  list(): ({
    name: string;
    spec: FailpointSpec | null;
    remaining: number | null;
  } & FailpointCounts)[] {
    return this.known.map((name) => {
      const a = this.armed.get(name);
      return {
        name,
        spec: a?.spec ?? null,
        remaining: a && Number.isFinite(a.remaining) ? a.remaining : null,
        ...(this.counts.get(name) ?? { fired: 0, finished: 0 }),
      };
    });
  }

  /** Configures from the CONCORD_FAILPOINTS syntax; throws with the offending entry. */
  configure(text: string | undefined): void {
    for (const entry of (text ?? "")
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const m =
        /^([a-z0-9.-]+)=(crash|error|hang|sleep\((\d+)\))(?:@(0(?:\.\d+)?|1(?:\.0+)?))?(?:#(\d+))?$/.exec(
          entry,
        );
      if (!m)
        throw new Error(
          `CONCORD_FAILPOINTS: cannot parse ${JSON.stringify(entry)}; expected name=crash|error|hang|sleep(ms)[@probability][#count]`,
        );
      const [, name = "", action = "", ms, probability, count] = m;
      const kind = action.startsWith("sleep") ? "sleep" : (action as "crash" | "error" | "hang");
      this.set(name, {
        action: kind,
        ...(ms !== undefined ? { ms: Number(ms) } : {}),
        ...(probability !== undefined ? { probability: Number(probability) } : {}),
        ...(count !== undefined ? { count: Number(count) } : {}),
      });
    }
  }

  /**
   * Passes through unless the failpoint is armed and fires. Cheap when nothing is armed, which
   * is always the case in production.
   */
  async hit(name: string): Promise<void> {
    if (this.armed.size === 0) return;
    const armed = this.armed.get(name);
    if (!armed) return;
    if (armed.spec.probability !== undefined && this.random() >= armed.spec.probability) return;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.armed.delete(name);
    // The counts of this arming: a re-arm while this hit sleeps starts counting afresh.
    const counts = this.counts.get(name) ?? { fired: 0, finished: 0 };
    counts.fired += 1;
    this.onFire(name, armed.spec);
    switch (armed.spec.action) {
      case "crash":
        // SIGKILL, not exit: no handler, no flush, nothing gets to tidy up — a real crash.
        process.kill(process.pid, "SIGKILL");
        return new Promise<void>(() => undefined);
      case "sleep":
        await sleep(armed.spec.ms ?? 0);
        counts.finished += 1;
        return;
      case "error":
        counts.finished += 1;
        throw new FailpointError(name);
      case "hang":
        return new Promise<void>(() => undefined);
    }
  }
}
