import { readFileSync } from "node:fs";
import { expect } from "chai";
import {
  adminSecretOf,
  operatorSecretOf,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { http, openAccount, raw, transfer, uniqueAccount } from "../support/bank-client.js";
import type { RunAnswer } from "../support/answers.js";
import { usePairPerTest } from "../support/cluster-fixture.js";
import { parseMetrics, total, type Scrape } from "../support/metrics-text.js";

/** Every service of the cluster with the URL it serves /metrics at. */
function services(cluster: ClusterFile): { name: string; url: string }[] {
  return [
    { name: "coordinator", url: cluster.coordinator.url },
    ...cluster.participants.map((p) => ({ name: p.name, url: p.participantUrl })),
  ];
}

async function scrape(cluster: ClusterFile, service: string, url: string): Promise<Scrape> {
  const res = await raw.get<string>(`${url}/metrics`, {
    headers: { authorization: `Bearer ${operatorSecretOf(cluster, service)}` },
    responseType: "text",
  });
  expect(res.status, `${service}: ${res.data}`).to.equal(200);
  return parseMetrics(res.data);
}

/** The metric names the README's "Metrics and logs" section lists. */
function documentedMetrics(): Set<string> {
  const readme = readFileSync("README.md", "utf8");
  const start = readme.indexOf("## Metrics and logs");
  expect(start, "README has a Metrics and logs section").to.be.greaterThan(0);
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  return new Set([...section.matchAll(/`(concord_[a-z_]+)/g)].map((m) => m[1] as string));
}

describe("metrics: /metrics on every service", function () {
  const ctx = usePairPerTest();

  it("answers 401 without a credential, 403 with the admin secret, 200 with the operator secret", async function () {
    for (const { name, url } of services(ctx.cluster)) {
      const none = await raw.get(`${url}/metrics`);
      expect(none.status, `${name} without a credential`).to.equal(401);
      const admin = await raw.get(`${url}/metrics`, {
        headers: { authorization: `Bearer ${adminSecretOf(ctx.cluster, name)}` },
      });
      expect(admin.status, `${name} with the admin secret`).to.equal(403);
      const res = await raw.get<string>(`${url}/metrics`, {
        headers: { authorization: `Bearer ${operatorSecretOf(ctx.cluster, name)}` },
        responseType: "text",
      });
      expect(res.status, name).to.equal(200);
      expect(String(res.headers["content-type"])).to.match(/^text\/plain; version=0\.0\.4/);
      // Every series carries its service's name.
      for (const s of parseMetrics(res.data).samples)
        expect(s.labels.service, s.name).to.equal(name);
    }
  });

  it("a committed and an aborted transfer move the coordinator's and the participants' counters by exactly that", async function () {
    const { cluster, alice, bob } = ctx;
    const coordinator = () => scrape(cluster, "coordinator", cluster.coordinator.url);
    const bankA = () => scrape(cluster, "bank-a", cluster.banks[0]?.participantUrl ?? "");
    const [c0, a0] = [await coordinator(), await bankA()];
    const spec = { from: { bank: "bank-a", account: alice }, to: { bank: "bank-b", account: bob } };
    expect((await transfer(cluster, { ...spec, amount: 10 })).data.outcome).to.equal("committed");
    const refused = await transfer(cluster, { ...spec, amount: 1_000_000 });
    expect(refused.data.outcome).to.equal("aborted");
    const [c1, a1] = [await coordinator(), await bankA()];
    const delta = (before: Scrape, after: Scrape, name: string, labels = {}) =>
      total(after, name, labels) - total(before, name, labels);

    const committed = { outcome: "committed", reason: "none" };
    const aborted = { outcome: "aborted", reason: "insufficient-funds" };
    for (const name of ["concord_attempts_total", "concord_transactions_total"]) {
      expect(delta(c0, c1, name, committed), `${name} committed`).to.equal(1);
      expect(delta(c0, c1, name, aborted), `${name} aborted`).to.equal(1);
      expect(delta(c0, c1, name), `${name} all`).to.equal(2);
    }
    expect(delta(c0, c1, "concord_retries_total")).to.equal(0);
    for (const phase of ["prepare", "decide", "end_to_end"])
      expect(delta(c0, c1, "concord_phase_duration_seconds_count", { phase }), phase).to.equal(2);
    const run = { method: "POST", route: "/v1/transactions" };
    expect(delta(c0, c1, "concord_http_requests_total", run)).to.equal(2);
    expect(total(c1, "concord_transactions_in_flight")).to.equal(0);

    const votes = (vote: string) => ({ message: "prepare", result: vote });
    expect(delta(a0, a1, "concord_participant_messages_total", votes("yes"))).to.equal(1);
    expect(delta(a0, a1, "concord_participant_messages_total", votes("no"))).to.equal(1);
    const commits = { message: "commit", result: "committed" };
    expect(delta(a0, a1, "concord_participant_messages_total", commits)).to.equal(1);
    const noFunds = { vote: "no", reason: "insufficient-funds" };
    expect(delta(a0, a1, "concord_participant_votes_total", noFunds)).to.equal(1);
    const prepares = { message: "prepare" };
    expect(delta(a0, a1, "concord_participant_message_duration_seconds_count", prepares)).to.equal(
      2,
    );
    expect(total(a1, "concord_participant_prepared_transactions")).to.be.a("number");
  });

  it("a lock conflict between concurrent transfers on one row shows in concord_lock_conflicts_total", async function () {
    this.timeout(120_000);
    const { cluster } = ctx;
    const a = uniqueAccount("hot");
    const b = uniqueAccount("hot");
    await openAccount(cluster, "bank-a", a, 10_000);
    await openAccount(cluster, "bank-b", b, 10_000);
    const before = await scrape(cluster, "coordinator", cluster.coordinator.url);
    const move = (forward: boolean) =>
      http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
        participants: [
          {
            name: "bank-a",
            operations: [{ op: forward ? "debit" : "credit", account: a, amount: "1" }],
          },
          {
            name: "bank-b",
            operations: [{ op: forward ? "credit" : "debit", account: b, amount: "1" }],
          },
        ],
      });
    // Both directions at once over one pair of rows: wait-die refuses the younger ("conflict")
    // and the coordinator runs it again. Rounds until one conflict was seen, at most 20.
    let conflicts = 0;
    for (let round = 0; round < 20 && conflicts === 0; round++) {
      const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => move(i % 2 === 0)));
      for (const r of replies) {
        expect(r.data.outcome).to.equal("committed");
        conflicts += (r.data.attempts ?? []).filter((x) =>
          /: conflict$/.test(x.reason ?? ""),
        ).length;
      }
    }
    expect(conflicts, "no conflict provoked in 20 rounds").to.be.greaterThan(0);
    const after = await scrape(cluster, "coordinator", cluster.coordinator.url);
    const seen = (s: Scrape) => total(s, "concord_lock_conflicts_total", { reason: "conflict" });
    // Every attempt that ended on a conflict had at least one such NO (another participant's
    // NO in the same attempt counts too).
    expect(seen(after) - seen(before)).to.be.at.least(conflicts);
    expect(total(after, "concord_retries_total", { reason: "conflict" })).to.be.at.least(conflicts);
  });

  it("names only metrics the README lists", async function () {
    const documented = documentedMetrics();
    for (const { name, url } of services(ctx.cluster)) {
      const { types } = await scrape(ctx.cluster, name, url);
      for (const metric of types.keys()) {
        if (metric.startsWith("concord_process_")) continue; // Node's defaults, listed as a family
        expect(documented.has(metric), `${name}: ${metric} is not in the README`).to.equal(true);
      }
    }
    expect([...documented].some((m) => m.startsWith("concord_process_"))).to.equal(true);
  });
});
