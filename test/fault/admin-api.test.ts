import { expect } from "chai";
import fc from "fast-check";
import { COORDINATOR_FAILPOINTS, PARTICIPANT_FAILPOINTS } from "../../shared/failpoints.js";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import type { FailpointList, Refusable } from "../support/answers.js";
import { bankUrl, http } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { openPair, transferThroughFaults } from "../support/fault-moves.js";

const FAILPOINT_NAMES = new Set<string>([...COORDINATOR_FAILPOINTS, ...PARTICIPANT_FAILPOINTS]);

describe("the admin API (failpoints)", function () {
  this.timeout(120_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  it("refuses every call without the admin secret, and changes nothing", async () => {
    for (const name of ["coordinator", "bank-a"]) {
      const url = `${h.url(name)}/v1/admin/failpoints`;
      expect((await http.get(url)).status).to.equal(401);
      const fp =
        name === "coordinator" ? "coordinator.after-decision" : "participant.before-prepare";
      const put = await http.put<Refusable>(
        `${url}/${fp}`,
        { action: "crash" },
        { headers: { authorization: "Bearer wrong" } },
      );
      expect(put.status).to.equal(401);
      expect(put.data.error?.message).to.match(/admin secret/);
      const list = await http.get<FailpointList>(url, {
        headers: { authorization: `Bearer ${adminSecretOf(h.cluster, name)}` },
      });
      expect(list.data.failpoints?.every((f) => f.spec === null)).to.equal(true);
    }
  });

  it("refuses an unknown failpoint or a malformed spec with 400", async () => {
    const auth = {
      headers: { authorization: `Bearer ${adminSecretOf(h.cluster, "coordinator")}` },
    };
    const unknown = await http.put<Refusable>(
      `${h.url("coordinator")}/v1/admin/failpoints/nowhere`,
      { action: "crash" },
      auth,
    );
    expect(unknown.status).to.equal(400);
    expect(unknown.data.error?.message).to.match(/unknown failpoint/);
    const bad = await http.put(
      `${h.url("coordinator")}/v1/admin/failpoints/coordinator.after-begin`,
      { action: "explode" },
      auth,
    );
    expect(bad.status).to.equal(400);
  });

  it("generated malformed failpoint names and specs get a 4xx and arm nothing (fast-check)", async () => {
    const auth = {
      headers: { authorization: `Bearer ${adminSecretOf(h.cluster, "coordinator")}` },
    };
    const badName = fc
      .oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          "coordinator.after-begin'; --",
          "..",
          "%00",
          "participant.before-prepare.x",
        ),
      )
      .filter((n) => n !== "" && n !== "." && n !== ".." && !FAILPOINT_NAMES.has(n));
    const badSpec = fc.oneof(
      fc.record({
        action: fc
          .string({ maxLength: 12 })
          .filter((a) => !["crash", "sleep", "error", "hang"].includes(a)),
      }),
      fc.record({ action: fc.constant("sleep") }),
      fc.record({
        action: fc.constant("sleep"),
        ms: fc.oneof(
          fc.double().filter((d) => !Number.isInteger(d) || d < 0 || d > 600_000),
          fc.integer({ max: -1 }),
          fc.string(),
        ),
      }),
      fc.record({
        action: fc.constant("crash"),
        probability: fc.oneof(
          fc.double({ min: 1.0001, max: 1e9 }),
          fc.double({ max: -0.0001, min: -1e9 }),
          fc.string(),
        ),
      }),
      fc.record({ action: fc.constant("crash"), extra: fc.jsonValue() }),
      fc.jsonValue().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)),
    );
    const request = fc.oneof(
      fc.tuple(badName, fc.constant({ action: "crash" })),
      fc.tuple(
        fc.constantFrom("coordinator.after-begin", "coordinator.after-decision"),
        badSpec as fc.Arbitrary<unknown>,
      ),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([name, spec]) => {
        const res = await http.put(
          `${h.url("coordinator")}/v1/admin/failpoints/${encodeURIComponent(name)}`,
          JSON.stringify(spec),
          { ...auth, headers: { ...auth.headers, "content-type": "application/json" } },
        );
        expect(
          res.status,
          `${name} ${JSON.stringify(spec)} -> ${JSON.stringify(res.data)}`,
        ).to.be.within(400, 499);
      }),
      { numRuns: 200 },
    );
    const list = await http.get<FailpointList>(`${h.url("coordinator")}/v1/admin/failpoints`, auth);
    expect(
      list.data.failpoints?.every((f) => f.spec === null),
      "nothing armed",
    ).to.equal(true);
  });

  it("does not exist unless explicitly enabled", async () => {
    const plain = await sharedCluster();
    const res = await http.get(`${plain.coordinator.url}/v1/admin/failpoints`, {
      headers: { authorization: `Bearer ${adminSecretOf(plain, "coordinator")}` },
    });
    expect(res.status).to.equal(404);
    // Nor does the recovery route beside it, at the coordinator or at a bank.
    for (const [name, url] of [
      ["coordinator", plain.coordinator.url],
      ["bank-a", bankUrl(plain, "bank-a")],
    ] as const) {
      const recovery = await http.get(`${url}/v1/admin/recovery`, {
        headers: { authorization: `Bearer ${adminSecretOf(plain, name)}` },
      });
      expect(recovery.status, `${name} GET /v1/admin/recovery`).to.equal(404);
    }
  });

  it("reports each failpoint's hits, and each service's finished recovery passes, growing", async () => {
    for (const name of ["coordinator", "bank-a"]) {
      const first = await h.recoveryPasses(name);
      await h.eventually(
        `${name}'s recovery passes growing`,
        async () => (await h.recoveryPasses(name)) > first,
      );
    }
    const fp = "coordinator.after-begin";
    await h.arm("coordinator", fp, { action: "sleep", ms: 0, count: 2 });
    expect(await h.failpointCounts("coordinator", fp)).to.deep.equal({ fired: 0, finished: 0 });
    const spec = await openPair(h);
    expect((await transferThroughFaults(h, spec))?.data.outcome).to.equal("committed");
    expect(await h.failpointCounts("coordinator", fp)).to.deep.equal({ fired: 1, finished: 1 });
  });
});
