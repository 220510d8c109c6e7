/**
 * The processes a benchmark run starts beside its cluster, for the coordination-only row: one
 * no-op participant per bank name and a second coordinator that knows only them. Each is recorded
 * in the run's `extras` before it is waited for, so that the run stops it whatever happens.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { monotonicMs } from "../../shared/clock.js";
import type { ClusterFile } from "../cluster/cluster-file.js";
import {
  freePort,
  isOurProcess,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../cluster/processes.js";
import type { CoordinatorControl } from "./recovery.js";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const START_TIMEOUT_MS = 30_000;

/** Processes this run started outside the cluster (no-op participants, a second coordinator). */
export interface Extra {
  spec: ProcessSpec;
  pid: number;
}

/** Finished transactions of the coordination-only coordinator expire after this (the minimum). */
export const BENCH_RETENTION_SECONDS = 60;

/** Finished transactions of the coordination-only coordinator move to the archive after this. */
export const BENCH_ARCHIVE_AFTER_SECONDS = 10;

/** Starts one no-op participant per name, each its own node process; returns name=url routes. */
export async function startNoopParticipants(
  names: string[],
  dir: string,
  extras: Extra[],
  secrets: Record<string, string>,
): Promise<string> {
  const routes: string[] = [];
  const starts: Promise<unknown>[] = [];
  for (const name of names) {
    const port = await freePort();
    const script = join(DIST, "scripts", "bench", "noop-participant.js");
    const spec: ProcessSpec = {
      name: `noop-${name}`,
      role: "participant",
      command: process.execPath,
      args: [script, "--name", name, "--port", String(port)],
      // It checks the coordinator's signatures as a real participant does: that cost is part of (d).
      env: { CONCORD_PARTICIPANT_SECRET: secrets[name] ?? "" },
      port,
      url: `http://127.0.0.1:${port}`,
      log: join(dir, "logs", `noop-${name}.log`),
      marker: `noop-participant.js --name ${name} --port ${port}`,
      stopSignal: "SIGTERM",
    };
    starts.push(startAndWait(spec, extras));
    routes.push(`${name}=${spec.url}`);
  }
  await Promise.all(starts);
  return routes.join(",");
}

/**
 * A second coordinator that knows only the no-op participants, on the cluster's decision-log
 * Redis, started (on one port, so restarts keep its URL) and killed at will.
 */
export function coordinatorControl(
  cluster: ClusterFile,
  routes: string,
  dir: string,
  extras: Extra[],
): CoordinatorControl {
  const main = cluster.processes.find((p) => p.role === "coordinator");
  if (!main) throw new Error("the cluster has no coordinator entry in cluster.json");
  // The cluster's coordinator reads its participants from a file; this one is given the no-op
  // participants in its environment instead, with the secrets the cluster made for those names.
  const mainEnv = { ...main.env };
  delete mainEnv.CONCORD_PARTICIPANTS_FILE;
  const secrets = routes
    .split(",")
    .map((r) => r.slice(0, r.indexOf("=")))
    .map((name) => `${name}=${cluster.secrets.participantSecrets[name] ?? ""}`)
    .join(",");
  let port: number | undefined;
  return {
    start: async (env) => {
      port ??= await freePort();
      const spec: ProcessSpec = {
        name: "bench-coordinator",
        role: "coordinator",
        command: process.execPath,
        args: [
          join(DIST, "coordinator", "main.js"),
          "--concord-name=bench-coordinator",
          `--concord-dir=${dir}`,
        ],
        env: {
          ...mainEnv,
          CONCORD_PORT: String(port),
          CONCORD_PARTICIPANTS: routes,
          CONCORD_PARTICIPANT_SECRETS: secrets,
          CONCORD_RETENTION_SECONDS: String(BENCH_RETENTION_SECONDS),
          // With the archive on (the cluster gives the coordinator one), finished transactions
          // leave Redis after this window instead of the retention.
          CONCORD_ARCHIVE_AFTER_SECONDS: String(BENCH_ARCHIVE_AFTER_SECONDS),
          ...env,
        },
        port,
        url: `http://127.0.0.1:${port}`,
        log: join(dir, "logs", "bench-coordinator.log"),
        marker: `--concord-name=bench-coordinator --concord-dir=${dir}`,
        stopSignal: "SIGTERM",
      };
      const spawnedAtMs = monotonicMs();
      const pid = await startAndWait(spec, extras);
      return { url: spec.url as string, spec, pid, spawnedAtMs, readyAtMs: monotonicMs() };
    },
    kill: async (pid, spec) => {
      await stopProcess(pid, spec.marker, "SIGKILL", 5000);
      const i = extras.findIndex((e) => e.pid === pid);
      if (i >= 0) extras.splice(i, 1);
    },
  };
}

async function startAndWait(spec: ProcessSpec, extras: Extra[]): Promise<number> {
  const pid = spawnDetached(spec);
  // Recorded before waiting, so `finally` stops it even when it never becomes ready.
  extras.push({ spec, pid });
  await waitUntil(
    spec.name,
    async () => {
      const res = await fetch(`${spec.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 200;
    },
    { timeoutMs: START_TIMEOUT_MS, alive: () => isOurProcess(pid, spec.marker), log: spec.log },
  );
  return pid;
}
