import { expect } from "chai";
import { connect, type Socket } from "node:net";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import {
  bankUrl,
  countOf,
  http,
  openAccount,
  preparedLeft,
  settled,
  snapshot,
  transfer,
  uniqueAccount,
  withBankDb,
} from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";

/** Opens a connection that sends half a request and then nothing (a slow client). */
function slowClient(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST /v1/transactions HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n\r\n{"participants": [`,
      );
      resolve(socket);
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

describe("resource limits: slow, oversized and contending requests do not stop other transactions", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("a legitimate transfer commits while slow clients, oversized bodies and a pile of contending transfers are in flight, and the pools stay bounded", async function () {
    this.timeout(120_000);
    const hot = { a: uniqueAccount("hot"), b: uniqueAccount("hot") };
    const calm = { a: uniqueAccount("calm"), b: uniqueAccount("calm") };
    await openAccount(cluster, "bank-a", hot.a, 1_000_000);
    await openAccount(cluster, "bank-b", hot.b, 1_000_000);
    await openAccount(cluster, "bank-a", calm.a, 1000);
    await openAccount(cluster, "bank-b", calm.b, 1000);
    const start = await snapshot(cluster);

    const sockets = await Promise.all([
      ...Array.from({ length: 50 }, () => slowClient(cluster.coordinator.url)),
      ...Array.from({ length: 50 }, () => slowClient(bankUrl(cluster, "bank-a"))),
    ]);
    try {
      const oversized = Array.from({ length: 20 }, () =>
        http.post(`${cluster.coordinator.url}/v1/transactions`, {
          participants: [],
          pad: "x".repeat(100_000),
        }),
      );
      // Eighty transfers on the same two rows, each holding a pool connection while it waits.
      const contending = Array.from({ length: 80 }, () =>
        transfer(cluster, {
          from: { bank: "bank-a", account: hot.a },
          to: { bank: "bank-b", account: hot.b },
          amount: 1,
        }),
      );
      let peak = 0;
      const watch = (async () => {
        for (let i = 0; i < 20; i++) {
          const n = await withBankDb(cluster, "bank-a", (db) =>
            countOf(
              db,
              "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            ),
          );
          peak = Math.max(peak, n);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      // From another client: the pile above is one client's.
      const legit = await transfer(
        cluster,
        {
          from: { bank: "bank-a", account: calm.a },
          to: { bank: "bank-b", account: calm.b },
          amount: 100,
        },
        { authorization: `Bearer ${cluster.secrets.apiKeys["client-2"]}` },
      );
      expect(legit.status).to.equal(200);
      expect(legit.data.outcome).to.equal("committed");
      for (const res of await Promise.all(oversized)) expect(res.status).to.equal(413);
      const outcomes = await Promise.all(contending);
      for (const res of outcomes)
        expect(res.status, JSON.stringify(res.data).slice(0, 200)).to.equal(200);
      await watch;
      // The participant's two pools (20 + 4 by default) bound its connections, whatever the load.
      expect(peak, "connections at bank-a's database").to.be.at.most(24);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await settled(cluster);
    expect(await preparedLeft(cluster)).to.equal(0);
    const end = await snapshot(cluster);
    expect(end.total).to.equal(start.total);
  });
});
