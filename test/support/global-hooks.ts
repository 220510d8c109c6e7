/**
 * Mocha root hooks: the clusters are started lazily by the first suite that needs them
 * (cluster-fixture.ts, fault-harness.ts) and stopped here once, after every suite has run.
 */
import { stopSharedCluster } from "./cluster-fixture.js";
import { stopFaultHarness } from "./fault-harness.js";

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopSharedCluster();
    await stopFaultHarness();
  },
};
