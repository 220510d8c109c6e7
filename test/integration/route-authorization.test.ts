import { expect } from "chai";
import { COORDINATOR_ROUTES } from "../../coordinator/routes.js";
import { PARTICIPANT_ROUTES } from "../../participant/framework/routes.js";
import { BANK_ROUTES } from "../../participant/bank/bank-routes.js";
import { ADMIN_RECOVERY_ROUTES, ADMIN_ROUTES } from "../../shared/admin-routes.js";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import type { RouteSpec } from "../../shared/routes.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  openAccount,
  preparedLeft,
  settled,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import {
  formatTally,
  probesFor,
  standardCredentials,
  walkRoutes,
  type WalkResult,
  type WalkTarget,
} from "../support/route-walk.js";

/**
 * Every route × every credential × every spelling, against the running services: only the exact
 * path with a credential the route takes reaches a handler. The inputs are ones the handlers
 * refuse (400) or answer harmlessly (a read, a tombstone for a fresh txid, a presumed abort), so a
 * request that got through where it must not shows as "reached" without moving money.
 */
describe("route authorization: every route, credential and spelling", function () {
  this.timeout(600_000);
  let cluster: ClusterFile;
  let account: string;
  let atStart: Awaited<ReturnType<typeof snapshot>>;

  before(async function () {
    cluster = await sharedCluster();
    // An account that exists, so that GET /v1/accounts/:id answers 200 from its handler.
    account = uniqueAccount("walk");
    await openAccount(cluster, "bank-a", account, 1);
    await settled(cluster);
    atStart = await snapshot(cluster);
  });

  const walk = async (target: WalkTarget): Promise<WalkResult> => {
    const result = await walkRoutes(target, standardCredentials(cluster, "bank-a"));
    const what = `${target.service}${target.absent ? " (routes that must not exist)" : ""}`;
    console.log(`      route walk of ${what}: ${result.sent} requests\n${formatTally(result)}`);
    return result;
  };
  const report = (r: WalkResult) =>
    `${r.mismatches.length} of ${r.sent} requests broke the model:\n${r.mismatches.join("\n")}`;
  const txid = () => ({ txid: newTxid() });

  // The walk takes each route's declared callers as the model, so a caller added to a declaration
  // would be walked as allowed. Pinned here, so widening who may call a route is a visible change.
  it("the callers each route declares are the reviewed ones", function () {
    const callers = (routes: Record<string, RouteSpec>) =>
      Object.fromEntries(
        Object.values(routes).map((r) => [`${r.method} ${r.path}`, [...r.callers].sort()]),
      );
    expect(callers(COORDINATOR_ROUTES)).to.deep.equal({
      "GET /healthz": ["public"],
      "POST /v1/transactions": ["admin", "client"],
      "GET /v1/transactions": ["admin", "client"],
      "GET /v1/transactions/:txid": ["admin", "client"],
      "GET /v1/transactions/:txid/decision": ["participant"],
    });
    expect(callers(PARTICIPANT_ROUTES)).to.deep.equal({
      "GET /healthz": ["public"],
      "POST /v1/2pc/:txid/prepare": ["coordinator"],
      "POST /v1/2pc/:txid/one-phase": ["coordinator"],
      "POST /v1/2pc/:txid/commit": ["coordinator"],
      "POST /v1/2pc/:txid/abort": ["coordinator"],
      "POST /v1/2pc/batch": ["coordinator"],
      "POST /v1/2pc/:txid/inquiry": ["peer"],
      "GET /v1/2pc/:txid": ["admin", "coordinator", "peer"],
      "GET /v1/descriptor": ["admin", "coordinator"],
      "GET /v1/invariants": ["admin"],
    });
    expect(callers(BANK_ROUTES)).to.deep.equal({
      "GET /v1/accounts": ["admin"],
      "GET /v1/accounts/:id": ["admin"],
      "POST /v1/accounts": ["admin"],
      "GET /v1/ledger": ["admin"],
    });
    expect(callers(ADMIN_ROUTES)).to.deep.equal({
      "GET /v1/admin/failpoints": ["admin"],
      "PUT /v1/admin/failpoints/:name": ["admin"],
      "DELETE /v1/admin/failpoints/:name": ["admin"],
    });
    expect(callers(ADMIN_RECOVERY_ROUTES)).to.deep.equal({ "GET /v1/admin/recovery": ["admin"] });
  });

  it("the coordinator: only the exact path with a credential the route takes reaches a handler", async function () {
    const result = await walk({
      service: "coordinator",
      baseUrl: cluster.coordinator.url,
      probes: probesFor(COORDINATOR_ROUTES, {
        health: { handlerStatuses: [200] },
        // Refused by the body's schema before anything is logged.
        run: { body: {}, handlerStatuses: [400] },
        list: { handlerStatuses: [200] },
        // A fresh txid: the handler's own 404 ("no transaction ..."), not the no-route 404.
        get: { params: txid, handlerStatuses: [404] },
        // A fresh txid is presumed aborted: a record of an abort nobody began.
        decision: { params: txid, handlerStatuses: [200] },
      }),
    });
    expect(result.mismatches, report(result)).to.deep.equal([]);
  });

  it("bank-a: the 2PC routes and the bank's routes", async function () {
    const result = await walk({
      service: "bank-a",
      baseUrl: bankUrl(cluster, "bank-a"),
      probes: [
        ...probesFor(PARTICIPANT_ROUTES, {
          health: { handlerStatuses: [200] },
          // Empty bodies lack the operations: 400 before anything executes.
          prepare: { params: txid, body: {}, handlerStatuses: [400] },
          onePhase: { params: txid, body: {}, handlerStatuses: [400] },
          // Nothing prepared under a fresh txid: 409, and no decision is journaled for it.
          commit: { params: txid, body: {}, handlerStatuses: [409] },
          // A tombstone for a txid nobody will use.
          abort: { params: txid, body: {}, handlerStatuses: [200] },
          batch: { body: {}, handlerStatuses: [400] },
          inquiry: { params: txid, body: {}, handlerStatuses: [200] },
          status: { params: txid, handlerStatuses: [200] },
          descriptor: { handlerStatuses: [200] },
          invariants: { handlerStatuses: [200] },
        }),
        ...probesFor(BANK_ROUTES, {
          listAccounts: { handlerStatuses: [200] },
          getAccount: { params: () => ({ id: account }), handlerStatuses: [200] },
          // No id, no balance: 400, no account opened and no money created.
          openAccount: { body: {}, handlerStatuses: [400] },
          ledger: { handlerStatuses: [200] },
        }),
      ],
    });
    expect(result.mismatches, report(result)).to.deep.equal([]);
  });

  it("the admin routes do not exist without CONCORD_ADMIN_ENDPOINTS=true, even for the admin secret", async function () {
    const adminProbes = probesFor(ADMIN_ROUTES, {
      listFailpoints: { handlerStatuses: [200] },
      armFailpoint: {
        params: () => ({ name: "participant.before-prepare" }),
        body: { action: "explode" },
        handlerStatuses: [400],
      },
      disarmFailpoint: {
        params: () => ({ name: "route-walk-no-such-failpoint" }),
        handlerStatuses: [400],
      },
    }).concat(probesFor(ADMIN_RECOVERY_ROUTES, { recoveryPasses: { handlerStatuses: [200] } }));
    const mismatches: string[] = [];
    let sent = 0;
    for (const [service, baseUrl] of [
      ["coordinator", cluster.coordinator.url],
      ["bank-a", bankUrl(cluster, "bank-a")],
    ] as const) {
      const result = await walk({ service, baseUrl, probes: adminProbes, absent: true });
      mismatches.push(...result.mismatches);
      sent += result.sent;
    }
    expect(
      mismatches,
      `${mismatches.length} of ${sent} requests found an admin route:\n${mismatches.join("\n")}`,
    ).to.deep.equal([]);
  });

  // Last (mocha runs a suite's tests in order): whatever the walks got through, nothing moved.
  it("after the walks nothing is prepared at any bank, and no money or ledger entry appeared or moved", async function () {
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared transactions left at the banks").to.equal(0);
    const now = await snapshot(cluster);
    expect(now.total, "total money at the banks").to.equal(atStart.total);
    expect(now.ledgerEntries, "ledger entries at the banks").to.equal(atStart.ledgerEntries);
    expect([...now.perAccount], "balances by account").to.deep.equal([...atStart.perAccount]);
  });
});
