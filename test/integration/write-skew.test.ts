import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  adminSecretOf,
  operatorSecretOf,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import type { IsolationLevel } from "../../shared/isolation.js";
import { bankUrl, http, uniqueAccount } from "../support/bank-client.js";
import type { RunAnswer } from "../support/answers.js";
import { parseMetrics, total } from "../support/metrics-text.js";
import { onIsolationCluster } from "../support/isolation-cluster.js";

/** Rounds of two concurrent debits, each on a fresh customer: enough for the race to be met. */
const ROUNDS = 12;

/**
 * A customer's linked accounts at one bank may be overdrawn as long as their sum stays >= 0: a
 * rule over rows the debit does not name (it locks only the account it debits). Two concurrent
 * debits, of checking and of savings, each within the total alone, break it together at READ
 * COMMITTED (write skew), and cannot at SERIALIZABLE. Real transactions, sent together, through
 * the coordinator, to a bank that checks the rule in PostgreSQL.
 */
describe("write skew: an overdraft across a customer's accounts", function () {
  let cluster: ClusterFile;

  const started = onIsolationCluster();
  before(function () {
    cluster = started();
  });

  const admin = (bank: string) => ({
    headers: { authorization: `Bearer ${adminSecretOf(cluster, bank)}` },
  });

  async function open(bank: string, id: string, balance: number, customer?: string) {
    const res = await http.post(
      `${bankUrl(cluster, bank)}/v1/accounts`,
      { id, balance: String(balance), ...(customer ? { customer } : {}) },
      admin(bank),
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(201);
  }

  /** One round: a fresh customer with 100 + 100, and two debits of 150 sent together. */
  async function round(isolation: IsolationLevel) {
    const customer = uniqueAccount("skew");
    const [checking, savings] = [`${customer}-chk`, `${customer}-sav`];
    await open("bank-a", checking, 100, customer);
    await open("bank-a", savings, 100, customer);
    const payees = [uniqueAccount("payee"), uniqueAccount("payee")];
    for (const p of payees) await open("bank-b", p, 0);
    const debit = (from: string, to: string) =>
      http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
        isolation,
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: from, amount: "150" }] },
          { name: "bank-b", operations: [{ op: "credit", account: to, amount: "150" }] },
        ],
      });
    const answers = await Promise.all([
      debit(checking, payees[0] as string),
      debit(savings, payees[1] as string),
    ]);
    const view = await http.get<{ total: string }>(
      `${bankUrl(cluster, "bank-a")}/v1/customers/${customer}`,
      admin("bank-a"),
    );
    expect(view.status, JSON.stringify(view.data)).to.equal(200);
    return {
      committed: answers.filter((a) => a.data.outcome === "committed").length,
      reasons: answers.map((a) => a.data.reason ?? ""),
      attempts: answers.flatMap((a) => a.data.attempts ?? []),
      total: view.data.total,
    };
  }

  it("at read-committed, two concurrent debits can both commit and take the customer below zero", async function () {
    this.timeout(240_000);
    let skewed = 0;
    for (let i = 0; i < ROUNDS && skewed === 0; i++) {
      const r = await round("read-committed");
      // Each round is consistent with itself: both committed exactly when the total is -100.
      expect(r.committed === 2, `round ${i}: ${JSON.stringify(r)}`).to.equal(
        BigInt(r.total) === -100n,
      );
      if (r.committed === 2) skewed++;
    }
    expect(skewed, `write skew never seen in ${ROUNDS} rounds`).to.be.greaterThan(0);
  });

  it("at serializable, never: one debit fails to serialize, is run again, and is refused", async function () {
    this.timeout(240_000);
    const coordinatorBefore = await serializationFailures("coordinator");
    const bankBefore = await serializationFailures("bank-a");
    let retried = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const r = await round("serializable");
      expect(
        BigInt(r.total) >= 0n,
        `round ${i}: the customer went below zero: ${JSON.stringify(r)}`,
      ).to.equal(true);
      expect(r.committed, `round ${i}`).to.be.at.most(1);
      if (r.attempts.some((a) => /serialization-failure/.test(String(a.reason)))) retried++;
    }
    // The race was met (not only avoided by timing): PostgreSQL failed some attempts, which the
    // coordinator ran again; the metrics and the bank's log say so.
    expect(retried, "rounds where a serialization failure was retried").to.be.greaterThan(0);
    expect(await serializationFailures("coordinator")).to.be.greaterThan(coordinatorBefore);
    expect(await serializationFailures("bank-a")).to.be.greaterThan(bankBefore);
    const lines = readFileSync(join(cluster.dir, "logs", "bank-a.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes('"msg":"serialization failure"'));
    expect(lines.length, "bank-a's log lines for serialization failures").to.be.greaterThan(0);
    expect(JSON.parse(lines[0] as string)).to.include({
      sqlstate: "40001",
      isolation: "serializable",
      participant: "bank-a",
    });
  });

  /** The serialization failures a service counted (bank-a's own, or the coordinator's of bank-a). */
  async function serializationFailures(service: "coordinator" | "bank-a"): Promise<number> {
    const url = service === "coordinator" ? cluster.coordinator.url : bankUrl(cluster, service);
    const res = await http.get<string>(`${url}/metrics`, {
      headers: { authorization: `Bearer ${operatorSecretOf(cluster, service)}` },
      responseType: "text",
    });
    expect(res.status).to.equal(200);
    const scrape = parseMetrics(res.data);
    return service === "coordinator"
      ? total(scrape, "concord_serialization_failures_total", { participant: "bank-a" })
      : total(scrape, "concord_participant_serialization_failures_total", {
          isolation: "serializable",
        });
  }
});
