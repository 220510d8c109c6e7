/** Applies one scheduled fault to a running cluster and heals it before returning. */
import { sleep } from "../../shared/clock.js";
import { armFailpoint, disarmFailpoint } from "../cluster/admin-client.js";
import { restartProcess } from "../cluster/cluster.js";
import { readClusterFile, type ProcessEntry } from "../cluster/cluster-file.js";
import { isOurProcess } from "../cluster/processes.js";
import type { FaultProxy } from "./fault-proxy.js";
import type { Fault } from "./schedule.js";

export class FaultExecutor {
  constructor(
    private readonly dir: string,
    private readonly proxies: ReadonlyMap<string, FaultProxy>,
  ) {}

  private entry(name: string): ProcessEntry {
    const p = readClusterFile(this.dir)?.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** Returns what happened, for the report. */
  async apply(fault: Fault): Promise<string> {
    switch (fault.kind) {
      case "kill":
        await this.kill(fault.target);
        await sleep(fault.downMs);
        await restartProcess(this.dir, fault.target);
        return "killed and restarted";
      case "pause": {
        const { pid } = this.entry(fault.target);
        process.kill(pid, "SIGSTOP");
        try {
          await sleep(fault.pausedMs);
        } finally {
          process.kill(pid, "SIGCONT");
        }
        return "paused and resumed";
      }
      case "failpoint":
        return this.failpoint(fault);
      case "network": {
        const proxy = this.proxies.get(fault.target);
        if (!proxy) throw new Error(`no proxy in front of ${fault.target}`);
        await proxy.setMode(fault.mode);
        try {
          await sleep(fault.forMs);
        } finally {
          await proxy.setMode({ kind: "pass" });
        }
        return "network fault healed";
      }
    }
  }

  /** SIGKILL; a PostgreSQL server is killed whole (postmaster and backends), like a machine. */
  private async kill(name: string): Promise<void> {
    const p = this.entry(name);
    if (!isOurProcess(p.pid, p.marker)) return;
    process.kill(p.role === "postgres" ? -p.pid : p.pid, "SIGKILL");
    await this.waitDead(p, 10_000);
  }

  private async waitDead(p: ProcessEntry, boundMs: number): Promise<boolean> {
    const until = Date.now() + boundMs;
    while (isOurProcess(p.pid, p.marker)) {
      if (Date.now() > until) return false;
      await sleep(50);
    }
    return true;
  }

  /**
   * Arms a failpoint for one hit, waits a while for traffic to reach it, then disarms it so
   * its effect stays within this fault's window. A crash is restarted like a kill.
   */
  private async failpoint(fault: Extract<Fault, { kind: "failpoint" }>): Promise<string> {
    const p = this.entry(fault.target);
    const cluster = readClusterFile(this.dir);
    if (!cluster || !p.url) return "could not arm (no cluster or no URL)";
    const armed = await armFailpoint(cluster, p.url, fault.failpoint, fault.spec).catch(
      () => undefined,
    );
    if (armed?.status !== 200) return `could not arm (${armed?.status ?? "no answer"})`;
    const died =
      fault.spec.action === "crash" ? await this.waitDead(p, 3000) : (await sleep(3000), false);
    if (!died) {
      await disarmFailpoint(cluster, p.url, fault.failpoint);
      return fault.spec.action === "crash" ? "armed; not reached in 3 s" : "armed for 3 s";
    }
    await sleep(fault.downMs);
    await restartProcess(this.dir, fault.target);
    return "crashed and restarted";
  }
}
