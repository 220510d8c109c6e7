import { expect } from "chai";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import { account, http, transferBody, uniqueAccount } from "../support/bank-client.js";
import {
  present,
  txidOf,
  type RunAnswer,
  type TransactionDetail,
  type TransactionList,
} from "../support/answers.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

/**
 * Each transaction records the API key id that made it: another client gets 404 for it and does
 * not see it in lists, and Idempotency-Keys are scoped per API key.
 */
describe("tenancy: a client sees only its own transactions and Idempotency-Keys", function () {
  const ctx = usePairPerTest();
  const as = (id: "client-1" | "client-2") => ({
    authorization: `Bearer ${ctx.cluster.secrets.apiKeys[id]}`,
  });
  const operator = () => ({ authorization: `Bearer ${adminSecretOf(ctx.cluster, "coordinator")}` });
  const body = (amount: number) =>
    transferBody({
      from: { bank: "bank-a", account: ctx.alice },
      to: { bank: "bank-b", account: ctx.bob },
      amount,
    });
  const post = (headers: Record<string, string>, b: unknown) =>
    http.post<RunAnswer>(`${ctx.cluster.coordinator.url}/v1/transactions`, b, { headers });
  const listed = async (headers: Record<string, string>, query = "limit=500") =>
    present(
      (
        await http.get<TransactionList>(`${ctx.cluster.coordinator.url}/v1/transactions?${query}`, {
          headers,
        })
      ).data.transactions,
      `the list's transactions (${query})`,
    ).map((t) => t.txid);

  it("another client's transaction is a 404 and missing from its lists; its maker and the operator see it", async function () {
    const { cluster } = ctx;
    const made = await post(as("client-1"), body(10));
    expect(made.data.outcome).to.equal("committed");
    const txid = txidOf(made);
    const get = (headers: Record<string, string>) =>
      http.get<TransactionDetail>(`${cluster.coordinator.url}/v1/transactions/${txid}`, {
        headers,
      });
    const stranger = await get(as("client-2"));
    expect(stranger.status).to.equal(404);
    // Exactly the answer for a txid that does not exist: the other client learns nothing.
    expect(stranger.data.error?.message).to.equal(
      `no transaction ${txid} (unknown, made by another client, or expired after the retention period)`,
    );
    expect((await get(as("client-1"))).status).to.equal(200);
    expect((await get(operator())).status).to.equal(200);
    for (const query of ["limit=500", "state=committed&limit=500", "state=finished&limit=500"]) {
      expect(await listed(as("client-2"), query), query).to.not.include(txid);
      expect(await listed(as("client-1"), query), query).to.include(txid);
    }
    expect(await listed(operator())).to.include(txid);
  });

  it("a client's list holds only its own transactions", async function () {
    const { cluster } = ctx;
    const mine = await post(as("client-2"), body(1));
    const theirs = await post(as("client-1"), body(1));
    const seen = await listed(as("client-2"));
    expect(seen).to.include(mine.data.txid).and.not.include(theirs.data.txid);
    for (const txid of seen) {
      const res = await http.get(`${cluster.coordinator.url}/v1/transactions/${txid}`, {
        headers: as("client-2"),
      });
      expect(res.status, txid).to.equal(200);
    }
  });

  it("Idempotency-Keys are scoped per API key: another client's key neither replays, blocks nor names the first transaction", async function () {
    const { cluster, alice } = ctx;
    const key = `order-${uniqueAccount("k")}`;
    const first = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      body(100),
      {
        headers: { ...as("client-1"), "idempotency-key": key },
      },
    );
    expect(first.data.outcome).to.equal("committed");
    // The same key and body from client-2 is client-2's own first request: it runs.
    const same = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      body(100),
      {
        headers: { ...as("client-2"), "idempotency-key": key },
      },
    );
    expect(same.headers["idempotent-replayed"]).to.equal(undefined);
    expect(same.data.outcome).to.equal("committed");
    expect(same.data.txid).to.not.equal(first.data.txid);
    // Another body with the same key from client-2 is a conflict with client-2's request only.
    const other = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      body(7),
      {
        headers: { ...as("client-2"), "idempotency-key": key },
      },
    );
    expect(other.status).to.equal(409);
    expect(other.data.error?.message).to.include(same.data.txid).and.not.include(first.data.txid);
    // client-1's retry still replays its own.
    const replay = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      body(100),
      {
        headers: { ...as("client-1"), "idempotency-key": key },
      },
    );
    expect(replay.headers["idempotent-replayed"]).to.equal("true");
    expect(replay.data.txid).to.equal(first.data.txid);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(800n);
  });
});
