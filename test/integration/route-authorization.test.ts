import { expect } from "chai";
import pg from "pg";
import { COORDINATOR_ROUTES } from "../../coordinator/routes.js";
import { OPERATOR_ROUTES } from "../../coordinator/operator-routes.js";
import { PARTICIPANT_ROUTES } from "../../participant/framework/routes.js";
import { BANK_ROUTES } from "../../participant/bank/bank-routes.js";
import { INVENTORY_ROUTES } from "../../participant/inventory/inventory-routes.js";
import { ADMIN_RECOVERY_ROUTES, ADMIN_ROUTES } from "../../shared/admin-routes.js";
import { OPENAPI_ROUTES } from "../../shared/openapi.js";
import { METRICS_ROUTES } from "../../shared/metrics-route.js";
import {
  adminSecretOf,
  participantOf,
  peerPairKey,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { signerFor } from "../../shared/auth.js";
import type { RouteSpec } from "../../shared/routes.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  http,
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
  type Credential,
  type WalkResult,
  type WalkTarget,
} from "../support/route-walk.js";

/** What the inventory holds: every item's counts, its stock and movement rows, prepared transactions. */
interface InventoryState {
  items: string[];
  stocked: number;
  movements: number;
  prepared: number;
}

async function inventoryState(cluster: ClusterFile): Promise<InventoryState> {
  const db = new pg.Client({ connectionString: participantOf(cluster, "inventory").databaseUrl });
  await db.connect();
  const count = async (sql: string) => {
    const { rows } = await db.query<{ n: string }>(sql);
    return Number(rows[0]?.n ?? NaN);
  };
  try {
    const { rows } = await db.query<{ row: string }>(
      "SELECT concat_ws(' ', id, stock, sold, version) AS row FROM items ORDER BY id",
    );
    return {
      items: rows.map((r) => r.row),
      stocked: await count("SELECT count(*)::text AS n FROM item_stocked"),
      movements: await count("SELECT count(*)::text AS n FROM item_movements"),
      prepared: await count(
        "SELECT count(*)::text AS n FROM pg_prepared_xacts WHERE database = current_database()",
      ),
    };
  } finally {
    await db.end();
  }
}

/**
 * The standard credentials addressed to the inventory, and the ones that only mean something
 * there: its own admin secret, a peer's signature to it, its own key id used on itself, and the
 * coordinator's signature made for another participant.
 */
function inventoryCredentials(cluster: ClusterFile): Credential[] {
  const s = cluster.secrets;
  const at = (kind: "admin" | "peer") => (service: string) =>
    service === "inventory" ? kind : undefined;
  const known = (from: Record<string, string>, key: string) => {
    const value = from[key];
    if (!value) throw new Error(`the cluster file has no secret ${key}`);
    return value;
  };
  const pair = (a: string, b: string) => known(s.peerSecrets, peerPairKey(a, b));
  return [
    ...standardCredentials(cluster, "inventory"),
    {
      name: "inventory admin secret",
      scheme: "bearer",
      kindAt: at("admin"),
      headers: () => ({ authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` }),
    },
    {
      name: "peer bank-a -> inventory",
      scheme: "signature",
      kindAt: at("peer"),
      headers: signerFor({
        secret: pair("bank-a", "inventory"),
        keyId: "bank-a",
        audience: "inventory",
      }),
    },
    {
      name: "peer inventory -> bank-a",
      scheme: "signature",
      kindAt: () => undefined,
      headers: signerFor({
        secret: pair("bank-a", "inventory"),
        keyId: "inventory",
        audience: "bank-a",
      }),
    },
    {
      name: "coordinator-signed for bank-a",
      scheme: "signature",
      kindAt: () => undefined,
      headers: signerFor({
        secret: known(s.participantSecrets, "bank-a"),
        keyId: "coordinator",
        audience: "bank-a",
      }),
    },
  ];
}

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
  let customer: string;
  let item: string;
  let atStart: Awaited<ReturnType<typeof snapshot>>;
  let inventoryAtStart: InventoryState;

  before(async function () {
    cluster = await sharedCluster();
    // An account that exists, so that GET /v1/accounts/:id answers 200 from its handler.
    account = uniqueAccount("walk");
    // Of a customer, so that GET /v1/customers/:customer answers 200 from its handler too.
    customer = uniqueAccount("walk-customer");
    await openAccount(cluster, "bank-a", account, 1, customer);
    // And an item, so that GET /v1/items/:id answers 200 from its handler.
    item = uniqueAccount("walk-item");
    const created = await http.post(
      `${participantOf(cluster, "inventory").participantUrl}/v1/items`,
      { id: item, stock: 1 },
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` } },
    );
    expect(created.status, JSON.stringify(created.data)).to.equal(201);
    await settled(cluster);
    atStart = await snapshot(cluster);
    inventoryAtStart = await inventoryState(cluster);
  });

  const walk = async (target: WalkTarget): Promise<WalkResult> => {
    const credentials =
      target.service === "inventory"
        ? inventoryCredentials(cluster)
        : standardCredentials(cluster, "bank-a");
    const result = await walkRoutes(target, credentials);
    const what = `${target.service}${target.absent ? " (routes that must not exist)" : ""}`;
    console.log(`      route walk of ${what}: ${result.sent} requests\n${formatTally(result)}`);
    return result;
  };
  const report = (r: WalkResult) =>
    `${r.mismatches.length} of ${r.sent} requests broke the model:\n${r.mismatches.join("\n")}`;
  const txid = () => ({ txid: newTxid() });
  // The participant framework's routes, walked alike at every participant.
  const frameworkProbes = () =>
    probesFor(PARTICIPANT_ROUTES, {
      health: { handlerStatuses: [200] },
      ready: { handlerStatuses: [200] },
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
      prepared: { handlerStatuses: [200] },
    });

  // The walk takes each route's declared callers as the model, so a caller added to a declaration
  // would be walked as allowed. Pinned here, so widening who may call a route is a visible change.
  it("the callers each route declares are the reviewed ones", function () {
    const callers = (routes: Record<string, RouteSpec>) =>
      Object.fromEntries(
        Object.values(routes).map((r) => [`${r.method} ${r.path}`, [...r.callers].sort()]),
      );
    expect(callers(COORDINATOR_ROUTES)).to.deep.equal({
      "GET /healthz": ["public"],
      "GET /readyz": ["public"],
      "POST /v1/transactions": ["admin", "client"],
      "GET /v1/transactions": ["admin", "client", "operator"],
      "GET /v1/transactions/:txid": ["admin", "client", "operator"],
      "GET /v1/transactions/:txid/decision": ["participant"],
    });
    expect(callers(PARTICIPANT_ROUTES)).to.deep.equal({
      "GET /healthz": ["public"],
      "GET /readyz": ["public"],
      "POST /v1/2pc/:txid/prepare": ["coordinator"],
      "POST /v1/2pc/:txid/one-phase": ["coordinator"],
      "POST /v1/2pc/:txid/commit": ["coordinator"],
      "POST /v1/2pc/:txid/abort": ["coordinator"],
      "POST /v1/2pc/batch": ["coordinator"],
      "POST /v1/2pc/:txid/inquiry": ["peer"],
      "GET /v1/2pc/:txid": ["admin", "coordinator", "peer"],
      "GET /v1/descriptor": ["admin", "coordinator"],
      "GET /v1/invariants": ["admin"],
      "GET /v1/prepared": ["coordinator", "operator"],
    });
    expect(callers(OPERATOR_ROUTES)).to.deep.equal({
      "GET /v1/operator/in-doubt": ["operator"],
      "POST /v1/operator/transactions/:txid/abort": ["operator"],
      "POST /v1/operator/transactions/:txid/retry": ["operator"],
      "GET /v1/operator/stats": ["operator"],
    });
    expect(callers(BANK_ROUTES)).to.deep.equal({
      "GET /v1/accounts": ["admin"],
      "GET /v1/accounts/:id": ["admin"],
      "GET /v1/customers/:customer": ["admin"],
      "POST /v1/accounts": ["admin"],
      "GET /v1/ledger": ["admin"],
    });
    expect(callers(INVENTORY_ROUTES)).to.deep.equal({
      "GET /v1/items": ["admin"],
      "GET /v1/items/:id": ["admin"],
      "POST /v1/items": ["admin"],
    });
    expect(callers(ADMIN_ROUTES)).to.deep.equal({
      "GET /v1/admin/failpoints": ["admin"],
      "PUT /v1/admin/failpoints/:name": ["admin"],
      "DELETE /v1/admin/failpoints/:name": ["admin"],
    });
    expect(callers(ADMIN_RECOVERY_ROUTES)).to.deep.equal({ "GET /v1/admin/recovery": ["admin"] });
    expect(callers(OPENAPI_ROUTES)).to.deep.equal({ "GET /openapi.json": ["public"] });
    expect(callers(METRICS_ROUTES)).to.deep.equal({ "GET /metrics": ["operator"] });
  });

  it("the coordinator: only the exact path with a credential the route takes reaches a handler", async function () {
    const result = await walk({
      service: "coordinator",
      baseUrl: cluster.coordinator.url,
      probes: probesFor(COORDINATOR_ROUTES, {
        health: { handlerStatuses: [200] },
        ready: { handlerStatuses: [200] },
        // Refused by the body's schema before anything is logged.
        run: { body: {}, handlerStatuses: [400] },
        list: { handlerStatuses: [200] },
        // A fresh txid: the handler's own 404 ("no transaction ..."), not the no-route 404.
        get: { params: txid, handlerStatuses: [404] },
        // A fresh txid is presumed aborted: a record of an abort nobody began.
        decision: { params: txid, handlerStatuses: [200] },
      })
        .concat(probesFor(METRICS_ROUTES, { metrics: { handlerStatuses: [200] } }))
        .concat(
          probesFor(OPERATOR_ROUTES, {
            inDoubt: { handlerStatuses: [200] },
            // A fresh txid: the handler's own 404, and nothing is written for it.
            abort: { params: txid, body: {}, handlerStatuses: [404] },
            retry: { params: txid, body: {}, handlerStatuses: [404] },
            stats: { handlerStatuses: [200] },
          }),
        ),
    });
    expect(result.mismatches, report(result)).to.deep.equal([]);
  });

  it("bank-a: the 2PC routes and the bank's routes", async function () {
    const result = await walk({
      service: "bank-a",
      baseUrl: bankUrl(cluster, "bank-a"),
      probes: [
        ...frameworkProbes(),
        ...probesFor(BANK_ROUTES, {
          listAccounts: { handlerStatuses: [200] },
          getAccount: { params: () => ({ id: account }), handlerStatuses: [200] },
          getCustomer: { params: () => ({ customer }), handlerStatuses: [200] },
          // No id, no balance: 400, no account opened and no money created.
          openAccount: { body: {}, handlerStatuses: [400] },
          ledger: { handlerStatuses: [200] },
        }),
        ...probesFor(METRICS_ROUTES, { metrics: { handlerStatuses: [200] } }),
      ],
    });
    expect(result.mismatches, report(result)).to.deep.equal([]);
  });

  it("the inventory: the 2PC routes and the inventory's routes", async function () {
    const result = await walk({
      service: "inventory",
      baseUrl: participantOf(cluster, "inventory").participantUrl,
      probes: [
        // The framework's routes, answered as at bank-a: the same inputs, the same statuses.
        ...frameworkProbes(),
        ...probesFor(INVENTORY_ROUTES, {
          listItems: { handlerStatuses: [200] },
          getItem: { params: () => ({ id: item }), handlerStatuses: [200] },
          // No id, no stock: 400, no item created and no stock entered.
          createItem: { body: {}, handlerStatuses: [400] },
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
      ["inventory", participantOf(cluster, "inventory").participantUrl],
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
  it("after the walks nothing is prepared at any participant, and no money, stock or entry appeared or moved", async function () {
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared transactions left at the banks").to.equal(0);
    const now = await snapshot(cluster);
    expect(now.total, "total money at the banks").to.equal(atStart.total);
    expect(now.ledgerEntries, "ledger entries at the banks").to.equal(atStart.ledgerEntries);
    expect([...now.perAccount], "balances by account").to.deep.equal([...atStart.perAccount]);
    // The inventory: no transaction prepared, no item created or changed, no stock or movement row.
    expect(await inventoryState(cluster), "the inventory's items, rows and prepared").to.deep.equal(
      { ...inventoryAtStart, prepared: 0 },
    );
  });
});
