/** Starting, watching and stopping the cluster's child processes, by pid. */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { sleep } from "../../shared/clock.js";

export interface ProcessSpec {
  name: string;
  role: "postgres" | "redis" | "coordinator" | "participant";
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  port: number;
  url?: string;
  log: string;
  /** A string that appears in the process's command line, so a reused pid is never mistaken for ours. */
  marker: string;
  /** The signal that shuts this process down cleanly (PostgreSQL: SIGINT = fast shutdown). */
  stopSignal: NodeJS.Signals;
}

/** Asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => {
      resolve(false);
    });
    server.listen(port, "127.0.0.1", () =>
      server.close(() => {
        resolve(true);
      }),
    );
  });
}

/** Starts a process that outlives this script: its own session, output to its log file. */
export function spawnDetached(spec: ProcessSpec): number {
  // Logs and whatever the child creates (Redis's AOF files) are for their owner only: they hold
  // transaction history and idempotency keys. The child inherits the umask at spawn.
  const fd = openSync(spec.log, "a", 0o600);
  const umask = process.umask(0o077);
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...spec.env },
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
    });
    child.on("error", () => undefined);
    child.unref();
    if (child.pid === undefined)
      throw new Error(`could not start ${spec.name}: ${spec.command} did not run`);
    return child.pid;
  } finally {
    process.umask(umask);
    closeSync(fd);
  }
}

/** True when `pid` is alive and is the process we started (its command line has our marker). */
export function isOurProcess(pid: number | undefined, marker: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, "utf8").split("\0").join(" ").includes(marker);
  } catch {
    return false;
  }
}

export async function stopProcess(
  pid: number,
  marker: string,
  signal: NodeJS.Signals,
  graceMs = 15_000,
): Promise<"stopped" | "killed" | "not-running"> {
  if (!isOurProcess(pid, marker)) return "not-running";
  try {
    process.kill(pid, signal);
  } catch {
    return "not-running";
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!isOurProcess(pid, marker)) return "stopped";
    await sleep(50);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  return "killed";
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls until `check` resolves true, the process dies, or the time is up. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  p: { timeoutMs: number; alive?: () => boolean; log?: string },
): Promise<void> {
  const until = Date.now() + p.timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    if (p.alive && !p.alive()) {
      throw new Error(
        `${what} exited during start-up. Last lines of ${p.log ?? "its log"}:\n${p.log ? tail(p.log) : ""}`,
      );
    }
    await sleep(100);
  }
  throw new Error(
    `${what} did not become ready within ${p.timeoutMs} ms. Last lines of ${p.log ?? "its log"}:\n${p.log ? tail(p.log) : ""}`,
  );
}

/**
 * Spawns a Concord service and waits until `GET <url>/healthz` answers 200; if it never does (or
 * exits), stops it and throws with its log's last lines. Returns the pid and how to stop it.
 */
export async function spawnHealthy(
  spec: ProcessSpec,
  url: string,
  timeoutMs = 30_000,
): Promise<{ pid: number; stop: () => Promise<void> }> {
  const pid = spawnDetached(spec);
  const stop = async () => {
    await stopProcess(pid, spec.marker, spec.stopSignal);
  };
  try {
    await waitUntil(spec.name, async () => (await fetch(`${url}/healthz`)).status === 200, {
      timeoutMs,
      alive: () => isOurProcess(pid, spec.marker),
      log: spec.log,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid, stop };
}

/** Runs a command to completion (as another user if asked) and fails with its output. */
export function runOrFail(
  command: string,
  args: string[],
  p: { uid?: number; gid?: number; env?: Record<string, string> } = {},
): void {
  const r = spawnSync(command, args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...p.env },
    ...(p.uid !== undefined ? { uid: p.uid } : {}),
    ...(p.gid !== undefined ? { gid: p.gid } : {}),
  });
  if (r.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
    );
}
