import { expect } from "chai";
import pg from "pg";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import type { RunAnswer } from "../support/answers.js";
import {
  account,
  bankUrl,
  http,
  loggedCount,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

/**
 * Money moves and is never made by a transaction: a client's debits must equal its credits, and
 * money enters only through a bank's account opening with that bank's admin secret. Balances
 * are read by operators only, through a transaction as through the bank's own routes.
 */
describe("money rules: no money from nowhere, balances for operators", function () {
  const ctx = usePairPerTest();
  const run = (body: unknown, headers: Record<string, string> = {}) =>
    http.post<RunAnswer>(`${ctx.cluster.coordinator.url}/v1/transactions`, body, { headers });
  const asClient = () => ({ authorization: `Bearer ${ctx.cluster.secrets.apiKey}` });
  const asOperator = () => ({
    authorization: `Bearer ${adminSecretOf(ctx.cluster, "coordinator")}`,
  });
  const logged = () => loggedCount(ctx.cluster);

  it("a client cannot mint: a lone credit, a credit larger than the debit, or 10^15 out of nothing is refused with 422 and logs nothing", async function () {
    const { cluster, alice, bob } = ctx;
    const before = await snapshot(cluster);
    const count = await logged();
    const attempts = [
      // One participant: this used to commit in one phase, with no record anywhere.
      {
        participants: [
          {
            name: "bank-b",
            operations: [{ op: "credit", account: bob, amount: "1000000000000000" }],
          },
        ],
      },
      {
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "100" }] },
          { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "101" }] },
        ],
      },
      // Balanced at bank-b, but bank-c's credit comes from nowhere.
      {
        participants: [
          {
            name: "bank-b",
            operations: [
              { op: "debit", account: bob, amount: "5" },
              { op: "credit", account: bob, amount: "5" },
            ],
          },
          { name: "bank-c", operations: [{ op: "credit", account: "anyone", amount: "5" }] },
        ],
      },
    ];
    for (const body of attempts) {
      for (const headers of [asClient(), asOperator()]) {
        const res = await run(body, headers);
        expect(res.status, JSON.stringify(res.data)).to.equal(422);
        expect(res.data.error?.code).to.equal("unbalanced");
        expect(res.data.error?.message).to.match(/must conserve money/);
      }
    }
    const after = await snapshot(cluster);
    expect(after.total).to.equal(before.total);
    expect(after.ledgerEntries).to.equal(before.ledgerEntries);
    expect(await logged()).to.equal(count);
  });

  it("a destroying transaction is refused too: a debit with no credit moves nothing", async function () {
    const { cluster, alice } = ctx;
    const res = await run(
      {
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "10" }] },
        ],
      },
      asClient(),
    );
    expect(res.status).to.equal(422);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("minting needs the bank's own admin secret: another bank's, the coordinator's or a client's key cannot open an account", async function () {
    const { cluster } = ctx;
    const id = uniqueAccount("minted");
    const open = (secret: string) =>
      http.post(
        `${bankUrl(cluster, "bank-b")}/v1/accounts`,
        { id, balance: "1000000" },
        { headers: { authorization: `Bearer ${secret}` } },
      );
    for (const secret of [
      adminSecretOf(cluster, "bank-a"),
      adminSecretOf(cluster, "coordinator"),
      cluster.secrets.apiKey,
    ]) {
      expect((await open(secret)).status).to.equal(401);
    }
    expect((await open(adminSecretOf(cluster, "bank-b"))).status).to.equal(201);
    expect((await account(cluster, "bank-b", id)).balance).to.equal(1000000n);
  });

  it("reading balances through a transaction needs the operator, like the banks' own read routes; a client's key gets 403", async function () {
    const { cluster, alice, bob } = ctx;
    const body = {
      participants: [
        { name: "bank-a", operations: [{ op: "read", account: alice }] },
        { name: "bank-b", operations: [{ op: "read", account: bob, hold: true }] },
      ],
    };
    const count = await logged();
    const refused = await run(body, asClient());
    expect(refused.status).to.equal(403);
    expect(refused.data.error?.message).to.match(/admin secret/);
    expect(await logged()).to.equal(count);
    // The bank's own read route refuses a client's key the same way.
    const direct = await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/${alice}`, {
      headers: asClient(),
    });
    expect(direct.status).to.equal(401);
    const allowed = await run(body, asOperator());
    expect(allowed.status).to.equal(200);
    expect(allowed.data.outcome).to.equal("committed");
    const balances = allowed.data.participants?.map((p) => p.results?.[0]?.balance);
    expect(balances).to.deep.equal(["1000", "1000"]);
  });

  it("a credit that would take a balance past bigint is a NO vote with a reason, not a 500, and nothing moves", async function () {
    const { cluster, alice, bob } = ctx;
    // Only the server's superuser can make such a balance (with its ledger entry, so the books agree).
    const rich = uniqueAccount("rich");
    const entry = cluster.banks.find((b) => b.name === "bank-b");
    const db = new pg.Client({ connectionString: entry?.adminDatabaseUrl });
    await db.connect();
    try {
      await db.query("BEGIN");
      await db.query("INSERT INTO accounts (id, balance) VALUES ($1, 9223372036854775000)", [rich]);
      await db.query(
        "INSERT INTO ledger (txid, account, delta, kind) VALUES (NULL, $1, 9223372036854775000, 'open')",
        [rich],
      );
      await db.query("COMMIT");
    } finally {
      await db.end();
    }
    for (const participants of [
      [
        { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "1000" }] },
        { name: "bank-b", operations: [{ op: "credit", account: rich, amount: "1000" }] },
      ],
      [
        {
          name: "bank-b",
          operations: [
            { op: "debit", account: bob, amount: "1000" },
            { op: "credit", account: rich, amount: "1000" },
          ],
        },
      ],
    ]) {
      const res = await run({ participants }, asClient());
      expect(res.status, JSON.stringify(res.data)).to.equal(200);
      expect(res.data.outcome).to.equal("aborted");
      const refusal = res.data.participants?.find((p) => p.name === "bank-b");
      expect(refusal?.reason).to.equal("balance-out-of-range");
    }
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(1000n);
    expect((await account(cluster, "bank-b", rich)).balance).to.equal(9223372036854775000n);
  });
});
