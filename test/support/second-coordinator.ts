/** A second coordinator process on the fault cluster's Redis log, as after a botched failover. */
import { freePort, spawnHealthy, type ProcessSpec } from "../../scripts/cluster/processes.js";
import type { FaultHarness } from "./fault-harness.js";

export interface SecondCoordinator {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Started like the harness's coordinator, on a port of its own. It is not in cluster.json, so
 * the harness does not heal it: the caller stops it (also when it did not come up).
 */
export async function startSecondCoordinator(h: FaultHarness): Promise<SecondCoordinator> {
  const first = h.process("coordinator");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const spec: ProcessSpec = {
    ...first,
    name: "coordinator-2",
    port,
    url,
    args: [first.args[0] as string, "--concord-name=coordinator-2", `--concord-dir=${h.dir}`],
    env: { ...first.env, CONCORD_PORT: String(port) },
    marker: `--concord-name=coordinator-2 --concord-dir=${h.dir}`,
    log: first.log.replace(/coordinator\.log$/, "coordinator-2.log"),
  };
  const { stop } = await spawnHealthy(spec, url);
  return { url, stop };
}
