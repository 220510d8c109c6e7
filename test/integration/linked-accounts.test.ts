/**
 * Linked accounts (participant/bank/customer-total.ts): an account of a customer may go below
 * zero while the customer's accounts at the bank together stay at or above zero; an account of
 * no customer never does. Each test leaves every customer it opened with no account below zero
 * (other suites on the shared cluster check that no balance is negative).
 */
import { expect } from "chai";
import pg from "pg";
import { adminSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import {
  account,
  bankUrl,
  http,
  ledgerOf,
  openAccount,
  transfer,
  uniqueAccount,
} from "../support/bank-client.js";
import {
  present,
  txidOf,
  type AccountAnswer,
  type CustomerAnswer,
  type RunAnswer,
} from "../support/answers.js";
import { sharedCluster, usePairPerTest } from "../support/cluster-fixture.js";
import { createScratchDatabase } from "../support/scratch-database.js";
import { FRAMEWORK_MIGRATIONS, migrate } from "../../participant/framework/pg-store.js";
import { BANK_MIGRATIONS } from "../../participant/bank/schema.js";
import { CUSTOMER_TOTAL_MIGRATION } from "../../participant/bank/customer-total.js";

/** A customer with a checking and a savings account at bank-a; the ids sort checking first. */
interface Customer {
  name: string;
  checking: string;
  savings: string;
}

type Operation = { op: "debit" | "credit" | "read"; account: string; amount?: string };

async function run(
  cluster: ClusterFile,
  participants: { name: string; operations: Operation[] }[],
): Promise<RunAnswer> {
  const res = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
    participants,
  });
  expect(res.status, JSON.stringify(res.data)).to.equal(200);
  return res.data;
}

async function customerOf(cluster: ClusterFile, name: string): Promise<CustomerAnswer> {
  const res = await http.get<CustomerAnswer>(`${bankUrl(cluster, "bank-a")}/v1/customers/${name}`);
  expect(res.status, JSON.stringify(res.data)).to.equal(200);
  return res.data;
}

const balanceOf = async (cluster: ClusterFile, id: string) =>
  (await account(cluster, "bank-a", id)).balance;

describe("linked accounts: a customer's accounts cover each other's overdraft", function () {
  const ctx = usePairPerTest();
  let opened: Customer[] = [];

  async function openCustomer(checking: number, savings: number): Promise<Customer> {
    const name = uniqueAccount("cust");
    const c = { name, checking: `${name}-checking`, savings: `${name}-savings` };
    await openAccount(ctx.cluster, "bank-a", c.checking, checking, name);
    await openAccount(ctx.cluster, "bank-a", c.savings, savings, name);
    opened.push(c);
    return c;
  }

  // Overdrafts are paid back from the customer's richest account, in one-phase moves at bank-a.
  afterEach(async function () {
    for (const c of opened) {
      const { accounts } = await customerOf(ctx.cluster, c.name);
      const richest = [...(accounts ?? [])].sort((a, b) => Number(b.balance) - Number(a.balance));
      for (const a of accounts ?? []) {
        if (BigInt(a.balance) >= 0n) continue;
        const amount = String(-BigInt(a.balance));
        const from = present(richest[0], `${c.name}'s richest account`).id;
        const paid = await run(ctx.cluster, [
          {
            name: "bank-a",
            operations: [
              { op: "debit", account: from, amount },
              { op: "credit", account: a.id, amount },
            ],
          },
        ]);
        expect(paid.outcome, JSON.stringify(paid)).to.equal("committed");
      }
      const after = await customerOf(ctx.cluster, c.name);
      for (const a of after.accounts ?? [])
        expect(BigInt(a.balance) >= 0n, `${a.id} after paying back: ${a.balance}`).to.equal(true);
    }
    opened = [];
  });

  it("opens linked accounts: the customer is in the answer, the account and the list (null for an unlinked one)", async function () {
    const { cluster, alice } = ctx;
    const name = uniqueAccount("cust");
    const id = `${name}-checking`;
    const res = await http.post<AccountAnswer>(
      `${bankUrl(cluster, "bank-a")}/v1/accounts`,
      { id, balance: "250", customer: name },
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "bank-a")}` } },
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(201);
    expect(res.data).to.deep.equal({ id, balance: "250", version: 0, customer: name });
    const one = await http.get<AccountAnswer>(`${bankUrl(cluster, "bank-a")}/v1/accounts/${id}`);
    expect(one.data).to.deep.equal({ id, balance: "250", version: 0, customer: name });
    const unlinked = await http.get<AccountAnswer>(
      `${bankUrl(cluster, "bank-a")}/v1/accounts/${alice}`,
    );
    expect(unlinked.data.customer).to.equal(null);
    const list = await http.get<{ accounts: AccountAnswer[] }>(
      `${bankUrl(cluster, "bank-a")}/v1/accounts?limit=10000`,
    );
    expect(list.status).to.equal(200);
    const byId = new Map(list.data.accounts.map((a) => [a.id, a.customer]));
    expect(byId.get(id)).to.equal(name);
    expect(byId.get(alice)).to.equal(null);
    for (const a of list.data.accounts) expect(a).to.have.property("customer");
  });

  for (const [label, customer] of [
    ["with a space", "bad customer"],
    ["too long", "c".repeat(65)],
    ["empty", ""],
    ["not a string", 42],
  ] as const) {
    it(`a customer id ${label} is a 400 naming body.customer, and nothing is opened`, async function () {
      const { cluster } = ctx;
      const id = uniqueAccount("never-opened");
      const res = await http.post<{ error?: { code?: string; field?: string } }>(
        `${bankUrl(cluster, "bank-a")}/v1/accounts`,
        { id, balance: "100", customer },
        { headers: { authorization: `Bearer ${adminSecretOf(cluster, "bank-a")}` } },
      );
      expect(res.status).to.equal(400);
      expect(res.data.error?.code).to.equal("invalid-request");
      expect(res.data.error?.field).to.equal("body.customer");
      const read = await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/${id}`);
      expect(read.status).to.equal(404);
    });
  }

  it("a debit may overdraw a linked account while the customer's other accounts cover it, and the bank's checks hold", async function () {
    const { cluster, bob } = ctx;
    const c = await openCustomer(100, 500);
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: c.checking },
      to: { bank: "bank-b", account: bob },
      amount: 300,
    });
    expect(res.data.outcome, JSON.stringify(res.data)).to.equal("committed");
    expect(await balanceOf(cluster, c.checking)).to.equal(-200n);
    expect(await balanceOf(cluster, c.savings)).to.equal(500n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(1300n);
    expect(await ledgerOf(cluster, "bank-a", txidOf(res))).to.deep.equal([
      { account: c.checking, delta: -300n },
    ]);
    // An account below zero, and yet no check fails: its customer's total is 300.
    const inv = await http.get<{ holds: boolean; checks: { name: string; holds: boolean }[] }>(
      `${bankUrl(cluster, "bank-a")}/v1/invariants`,
    );
    expect(inv.status).to.equal(200);
    const names = inv.data.checks.map((check) => check.name);
    expect(names).to.include.members(["no unlinked account below zero", "no customer below zero"]);
    expect(names).not.to.include("no negative balance");
    expect(inv.data.holds, JSON.stringify(inv.data)).to.equal(true);
  });

  it("a debit that would take the customer's total below zero aborts with insufficient-funds naming the customer, and nothing changes", async function () {
    const { cluster, bob } = ctx;
    const c = await openCustomer(100, 500);
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: c.checking },
      to: { bank: "bank-b", account: bob },
      amount: 700,
    });
    expect(res.data.outcome).to.equal("aborted");
    const refusal = res.data.participants?.find((p) => p.name === "bank-a");
    expect(refusal?.vote).to.equal("no");
    expect(refusal?.reason).to.equal("insufficient-funds");
    expect(refusal?.detail).to.deep.equal({
      account: c.checking,
      amount: "700",
      customer: c.name,
      total: "-100",
      message: `the accounts of customer ${c.name} at this bank would total -100`,
    });
    expect(await balanceOf(cluster, c.checking)).to.equal(100n);
    expect(await balanceOf(cluster, c.savings)).to.equal(500n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(1000n);
    expect(await ledgerOf(cluster, "bank-a", txidOf(res))).to.deep.equal([]);
    expect(await ledgerOf(cluster, "bank-b", txidOf(res))).to.deep.equal([]);
  });

  it("an account of no customer still cannot go below zero, at a bank with linked accounts", async function () {
    const { cluster, alice, bob } = ctx;
    await openCustomer(0, 5000);
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 1001,
    });
    expect(res.data.outcome).to.equal("aborted");
    const refusal = res.data.participants?.find((p) => p.name === "bank-a");
    expect(refusal?.reason).to.equal("insufficient-funds");
    expect(refusal?.detail).to.deep.equal({ account: alice, amount: "1001" });
    expect(await balanceOf(cluster, alice)).to.equal(1000n);
  });

  it("through execute (a read beside the debit) the same rule holds: refused past the total, committed within it", async function () {
    const { cluster, bob } = ctx;
    const c = await openCustomer(100, 500);
    const withRead = (amount: string) => [
      {
        name: "bank-a",
        operations: [
          { op: "debit" as const, account: c.checking, amount },
          { op: "read" as const, account: c.savings },
        ],
      },
      { name: "bank-b", operations: [{ op: "credit" as const, account: bob, amount }] },
    ];
    const refused = await run(cluster, withRead("700"));
    expect(refused.outcome).to.equal("aborted");
    const refusal = refused.participants?.find((p) => p.name === "bank-a");
    expect(refusal?.reason).to.equal("insufficient-funds");
    expect(refusal?.detail).to.deep.include({
      account: c.checking,
      customer: c.name,
      total: "-100",
    });
    expect(await balanceOf(cluster, c.checking)).to.equal(100n);

    const done = await run(cluster, withRead("300"));
    expect(done.outcome, JSON.stringify(done)).to.equal("committed");
    expect(await balanceOf(cluster, c.checking)).to.equal(-200n);
    expect((await customerOf(cluster, c.name)).total).to.equal("300");
  });

  it("a move between one customer's accounts is judged where it ends, not halfway (debit applied before credit)", async function () {
    const { cluster } = ctx;
    const c = await openCustomer(0, 50);
    // Applied in account order, checking's debit comes first: the customer would be at -50 after
    // it, at 50 after the credit. The rule is checked at the end of the transaction.
    const res = await run(cluster, [
      {
        name: "bank-a",
        operations: [
          { op: "debit", account: c.checking, amount: "100" },
          { op: "credit", account: c.savings, amount: "100" },
        ],
      },
    ]);
    expect(res.outcome, JSON.stringify(res)).to.equal("committed");
    expect(await balanceOf(cluster, c.checking)).to.equal(-100n);
    expect(await balanceOf(cluster, c.savings)).to.equal(150n);
  });

  it("a one-phase move out of the customer's accounts past their total is refused, with the reason", async function () {
    const { cluster, alice } = ctx;
    const c = await openCustomer(0, 50);
    const res = await run(cluster, [
      {
        name: "bank-a",
        operations: [
          { op: "debit", account: c.checking, amount: "51" },
          { op: "credit", account: alice, amount: "51" },
        ],
      },
    ]);
    expect(res.outcome).to.equal("aborted");
    expect(res.reason ?? "").to.contain("insufficient-funds");
    expect(await balanceOf(cluster, c.checking)).to.equal(0n);
    expect(await balanceOf(cluster, alice)).to.equal(1000n);
  });

  it("GET /v1/customers/:customer: the accounts by id and their total; 404 for a customer with none; 400 for a malformed id", async function () {
    const { cluster } = ctx;
    const c = await openCustomer(120, 380);
    expect(await customerOf(cluster, c.name)).to.deep.equal({
      customer: c.name,
      accounts: [
        { id: c.checking, balance: "120", version: 0 },
        { id: c.savings, balance: "380", version: 0 },
      ],
      total: "500",
    });
    const nobody = uniqueAccount("nobody");
    const missing = await http.get<{ error?: { code?: string; message?: string } }>(
      `${bankUrl(cluster, "bank-a")}/v1/customers/${nobody}`,
    );
    expect(missing.status).to.equal(404);
    expect(missing.data.error).to.deep.equal({
      code: "not-found",
      message: `no account at this bank belongs to customer ${nobody}`,
    });
    const bad = await http.get<{ error?: { field?: string } }>(
      `${bankUrl(cluster, "bank-a")}/v1/customers/${"c".repeat(65)}`,
    );
    expect(bad.status).to.equal(400);
    expect(bad.data.error?.field).to.equal("params.customer");
  });
});

describe("linked accounts on a database made before them", function () {
  // The steps linked accounts added; the others are the schema as it was.
  const added = new Set(["accounts_customer", CUSTOMER_TOTAL_MIGRATION.relation]);
  const before = [
    ...FRAMEWORK_MIGRATIONS,
    ...BANK_MIGRATIONS.filter((m) => !added.has(m.relation)),
  ];
  const now = [...FRAMEWORK_MIGRATIONS, ...BANK_MIGRATIONS];

  it("start-up migrates it once: accounts kept (of no customer), the new CHECK and trigger in place, migrating again changes nothing", async function () {
    this.timeout(120_000);
    const cluster = await sharedCluster();
    const server = present(cluster.banks[0], "bank-a");
    const scratch = await createScratchDatabase(
      server.adminDatabaseUrl,
      `concord_linked_${process.pid}`,
    );
    const pool = new pg.Pool({ connectionString: scratch.adminUrl, max: 2 });
    try {
      await migrate(pool, before);
      await pool.query("INSERT INTO accounts (id, balance) VALUES ('old-a', 10), ('old-b', 0)");
      await migrate(pool, now);
      await migrate(pool, now);
      const { rows } = await pool.query<{ id: string; balance: string; customer: string | null }>(
        "SELECT id, balance::text AS balance, customer FROM accounts ORDER BY id",
      );
      expect(rows).to.deep.equal([
        { id: "old-a", balance: "10", customer: null },
        { id: "old-b", balance: "0", customer: null },
      ]);
      const checks = await pool.query<{ name: string; def: string }>(
        "SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'c'",
      );
      expect(checks.rows).to.deep.equal([
        {
          name: "accounts_balance_check",
          def: "CHECK (((balance >= 0) OR (customer IS NOT NULL)))",
        },
      ]);
      const triggers = await pool.query<{ name: string }>(
        "SELECT tgname AS name FROM pg_trigger WHERE tgrelid = 'accounts'::regclass AND NOT tgisinternal",
      );
      expect(triggers.rows).to.deep.equal([{ name: "accounts_customer_total" }]);
      // An old account is of no customer: it still cannot go below zero.
      const overdraw = await pool
        .query("UPDATE accounts SET balance = balance - 11 WHERE id = 'old-a'")
        .then(
          () => undefined,
          (err: unknown) => (err as { code?: string }).code,
        );
      expect(overdraw).to.equal("23514");
    } finally {
      await pool.end();
      await scratch.drop();
    }
  });
});
