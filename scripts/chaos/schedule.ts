/**
 * The fault schedule, drawn from a seed before the run starts: the same seed, duration, fault
 * kinds and topology always give the same list of faults at the same offsets, so a failing
 * run can be replayed.
 */
import {
  COORDINATOR_FAILPOINTS,
  PARTICIPANT_FAILPOINTS,
  type FailpointSpec,
} from "../../shared/failpoints.js";
import type { ProxyMode } from "./fault-proxy.js";
import { between, pickFrom, seededRandom } from "./prng.js";

export const FAULT_KINDS = ["kill", "pause", "failpoint", "network"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type Fault =
  /** SIGKILL a process, keep it down for `downMs`, restart it. */
  | { kind: "kill"; atMs: number; target: string; downMs: number }
  /** SIGSTOP a process for `pausedMs`, then SIGCONT. */
  | { kind: "pause"; atMs: number; target: string; pausedMs: number }
  /** Arm a failpoint once; a crash is restarted after `downMs`. */
  | {
      kind: "failpoint";
      atMs: number;
      target: string;
      failpoint: string;
      spec: FailpointSpec;
      downMs: number;
    }
  /** Put the proxy in front of a participant into a mode for `forMs`. */
  | { kind: "network"; atMs: number; target: string; mode: ProxyMode; forMs: number };

/** A participant of the cluster with its application, as cluster.json `participants[]` lists it. */
export interface TopologyParticipant {
  readonly name: string;
  readonly application: string;
}

/**
 * What faults can target. `participants` is every participant of the cluster, whatever its
 * application (banks, inventories, ...): each one's process, PostgreSQL and Redis can be killed,
 * its process paused, its failpoints fired and the network in front of it cut. `banks` is the
 * older form, bank names only, taken when `participants` is absent.
 */
export interface Topology {
  participants?: readonly TopologyParticipant[];
  banks?: readonly string[];
}

/** The participants' names in the topology's order (a topology of banks alone keeps its schedules). */
export function participantsOf(topology: Topology): string[] {
  if (topology.participants) return topology.participants.map((p) => p.name);
  return [...(topology.banks ?? [])];
}

export function drawSchedule(p: {
  seed: number;
  durationMs: number;
  kinds: readonly FaultKind[];
  topology: Topology;
}): Fault[] {
  const random = seededRandom(p.seed);
  const participants = participantsOf(p.topology);
  if (participants.length === 0) throw new Error("a fault schedule needs at least one participant");
  const killable = [
    "coordinator",
    "redis-coordinator",
    ...participants,
    ...participants.map((name) => `postgres-${name}`),
    ...participants.map((name) => `redis-${name}`),
  ];
  const pausable = ["coordinator", ...participants];
  const faults: Fault[] = [];
  // Leave the first seconds for the workload to get going and the last ones quiet, so every
  // fault has healed before the run stops.
  let atMs = 2000 + between(random, 0, 1000);
  while (atMs < p.durationMs - 3000) {
    const kind = pickFrom(random, p.kinds);
    faults.push(draw(kind, atMs, random, { killable, pausable, participants }));
    atMs += between(random, 2500, 5000);
  }
  return faults;
}

function draw(
  kind: FaultKind,
  atMs: number,
  random: () => number,
  t: { killable: string[]; pausable: string[]; participants: string[] },
): Fault {
  switch (kind) {
    case "kill":
      return {
        kind,
        atMs,
        target: pickFrom(random, t.killable),
        downMs: between(random, 200, 1500),
      };
    case "pause":
      return {
        kind,
        atMs,
        target: pickFrom(random, t.pausable),
        pausedMs: between(random, 500, 2500),
      };
    case "failpoint": {
      const coordinator = random() < 0.5;
      const target = coordinator ? "coordinator" : pickFrom(random, t.participants);
      const failpoint = pickFrom(
        random,
        coordinator ? COORDINATOR_FAILPOINTS : PARTICIPANT_FAILPOINTS,
      );
      const action = pickFrom(random, ["crash", "crash", "sleep", "error"] as const);
      const spec: FailpointSpec =
        action === "sleep"
          ? { action, ms: between(random, 200, 3000), count: 1 }
          : { action, count: 1 };
      return { kind, atMs, target, failpoint, spec, downMs: between(random, 200, 1500) };
    }
    case "network": {
      const target = pickFrom(random, t.participants);
      const which = pickFrom(random, ["drop-reply", "delay", "reset", "refuse"] as const);
      const mode: ProxyMode =
        which === "drop-reply"
          ? { kind: which, count: between(random, 1, 3) }
          : which === "delay"
            ? { kind: which, ms: between(random, 100, 800) }
            : { kind: which };
      return { kind, atMs, target, mode, forMs: between(random, 500, 2500) };
    }
  }
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case "kill":
      return `kill -9 ${f.target}, down ${f.downMs} ms`;
    case "pause":
      return `SIGSTOP ${f.target} for ${f.pausedMs} ms`;
    case "failpoint":
      return `failpoint ${f.failpoint}=${f.spec.action}${f.spec.ms !== undefined ? `(${f.spec.ms})` : ""} on ${f.target}`;
    case "network":
      return `network ${f.mode.kind}${"ms" in f.mode ? ` ${f.mode.ms} ms` : ""}${"count" in f.mode && f.mode.count ? ` x${f.mode.count}` : ""} coordinator->${f.target} for ${f.forMs} ms`;
  }
}
