/**
 * Mocha root hooks: the integration cluster is started lazily by the first suite that needs it
 * (see cluster-fixture.ts) and stopped here once, after every suite has run.
 */
import { stopSharedCluster } from "./cluster-fixture.js";

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopSharedCluster();
  },
};
