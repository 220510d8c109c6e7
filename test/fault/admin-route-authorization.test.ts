import { expect } from "chai";
import { ADMIN_RECOVERY_ROUTES, ADMIN_ROUTES } from "../../shared/admin-routes.js";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import { raw } from "../support/bank-client.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { formatTally, probesFor, standardCredentials, walkRoutes } from "../support/route-walk.js";

/**
 * The failpoint routes can crash a service, so they get the same walk as the others
 * (test/integration/route-authorization.test.ts) where they exist, and so does the recovery route
 * beside them: only the service's own admin secret, on the exact path, reaches them. The inputs
 * arm nothing even when they get through: a spec the schema refuses, and a failpoint name that
 * does not exist.
 */
describe("route authorization: the admin routes, where CONCORD_ADMIN_ENDPOINTS=true", function () {
  this.timeout(600_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  for (const [service, failpoint] of [
    ["coordinator", "coordinator.after-decision"],
    ["bank-a", "participant.before-prepare"],
  ] as const) {
    it(`${service}: only its own admin secret on the exact path reaches an admin route, and nothing is armed`, async function () {
      const cluster = h.cluster;
      const baseUrl = h.url(service);
      const result = await walkRoutes(
        {
          service,
          baseUrl,
          probes: [
            ...probesFor(ADMIN_ROUTES, {
              listFailpoints: { handlerStatuses: [200] },
              // A real failpoint with an action the schema refuses: 400 and nothing armed.
              armFailpoint: {
                params: () => ({ name: failpoint }),
                body: { action: "explode" },
                handlerStatuses: [400],
              },
              // Disarming an unknown name: 400 ("unknown failpoint"), nothing touched.
              disarmFailpoint: {
                params: () => ({ name: "route-walk-no-such-failpoint" }),
                handlerStatuses: [400],
              },
            }),
            // A read: it changes nothing whoever reaches it.
            ...probesFor(ADMIN_RECOVERY_ROUTES, { recoveryPasses: { handlerStatuses: [200] } }),
          ],
        },
        standardCredentials(cluster, "bank-a"),
      );
      console.log(
        `      route walk of ${service} admin routes: ${result.sent} requests\n${formatTally(result)}`,
      );

      // Checked here: the suite's afterEach disarms everything, which would hide a failpoint the walk armed.
      const asAdmin = { headers: { authorization: `Bearer ${adminSecretOf(cluster, service)}` } };
      const list = await raw.get(`${baseUrl}/v1/admin/failpoints`, asAdmin);
      expect(list.status, JSON.stringify(list.data)).to.equal(200);
      const armed = (
        list.data as { failpoints: { name: string; spec: unknown }[] }
      ).failpoints.filter((f) => f.spec !== null);
      expect(armed, `failpoints armed at ${service} after the walk`).to.deep.equal([]);
      const report = `${result.mismatches.length} of ${result.sent} requests broke the model:\n${result.mismatches.join("\n")}`;
      expect(result.mismatches, report).to.deep.equal([]);
    });
  }
});
