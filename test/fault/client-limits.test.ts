import { expect } from "chai";
import type { AxiosResponse } from "axios";
import type { RunAnswer, TransactionList } from "../support/answers.js";
import { http, transferBody, type TransferSpec } from "../support/bank-client.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { openPair, preparedAt, toldOutcome } from "../support/fault-moves.js";

/**
 * Per-client limits (per API key) and the participants' prepared-slot reserve. One client holding
 * transactions open (a slow participant keeps them prepared elsewhere until their deadline) used
 * to fill a bank's prepared-transaction slots, and every other client's transfer then failed
 * with an internal error.
 */
describe("limits per client and prepared-slot exhaustion (processes restarted with tight limits)", function () {
  this.timeout(180_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  const key = (id: "client-1" | "client-2") => ({
    authorization: `Bearer ${h.cluster.secrets.apiKeys[id]}`,
  });

  /** Restarts a service with `env` for this start only; the returned function restarts it as recorded. */
  async function restartWith(
    name: string,
    env: Record<string, string>,
  ): Promise<() => Promise<void>> {
    h.signal(name, "SIGTERM");
    await h.waitDead(name);
    await h.restart(name, env);
    return async () => {
      h.signal(name, "SIGTERM");
      await h.waitDead(name);
      await h.restart(name);
    };
  }

  function send(
    spec: TransferSpec,
    who: "client-1" | "client-2",
    timeoutMs: number,
  ): Promise<AxiosResponse<RunAnswer>> {
    return http
      .post<RunAnswer>(
        `${h.url("coordinator")}/v1/transactions`,
        { ...(transferBody(spec) as object), timeoutMs },
        { headers: key(who) },
      )
      .then((res) => {
        if (res.data.txid && res.status === 200) h.record(res.data.txid, toldOutcome(res));
        return res;
      });
  }

  it("a client at its in-flight limit gets 429 with Retry-After while another client's transfers commit", async () => {
    const restore = await restartWith("coordinator", { CONCORD_CLIENT_MAX_IN_FLIGHT: "4" });
    try {
      // bank-c answers its PREPAREs late: client-1's transfers to bank-c stay prepared at bank-a
      // until their deadline, as a client holding transactions open would keep them.
      await h.arm("bank-c", "participant.before-prepare", { action: "sleep", ms: 4000 });
      const holds = await Promise.all(
        Array.from({ length: 10 }, () => openPair(h, "bank-a", "bank-c")),
      );
      const held = holds.map((spec) => send(spec, "client-1", 3000));
      await h.eventually(
        "client-1's transfers prepared at bank-a",
        async () => (await preparedAt(h, "bank-a")).length >= 1,
      );
      const others = await Promise.all(
        Array.from({ length: 3 }, () => openPair(h, "bank-a", "bank-b")),
      );
      const theirs = await Promise.all(others.map((spec) => send(spec, "client-2", 5000)));
      for (const res of theirs)
        expect(res.data.outcome, JSON.stringify(res.data)).to.equal("committed");

      const mine = await Promise.all(held);
      const refused = mine.filter((r) => r.status === 429);
      const ran = mine.filter((r) => r.status === 200);
      expect(ran.length, "client-1's transactions that ran").to.be.at.most(4);
      expect(refused.length).to.equal(10 - ran.length);
      for (const r of refused) {
        expect(r.data.error).to.include({ code: "too-many-requests", limit: "in-flight" });
        expect(Number(r.headers["retry-after"])).to.be.greaterThan(0);
        expect(r.data.txid, "a refused request begins no transaction").to.equal(undefined);
      }
      // bank-c answered too late: every transaction that ran aborted, and nothing stays prepared.
      for (const r of ran) expect(r.data.outcome).to.equal("aborted");
    } finally {
      await h.disarmAll();
      await restore();
    }
    await h.verify();
  });

  it("a bank with its prepared slots nearly full votes NO with reason busy, never an error, and the rest of the system carries on", async () => {
    // bank-a may hold 3 prepared transactions: 128 slots (the cluster's max_prepared_transactions) minus a reserve of 125.
    const restore = await restartWith("bank-a", { CONCORD_PREPARED_RESERVE: "125" });
    try {
      await h.arm("bank-c", "participant.before-prepare", { action: "sleep", ms: 6000 });
      // One at a time, each prepared at bank-a before the next is sent, so the count is exact.
      const pending: Promise<AxiosResponse<RunAnswer>>[] = [];
      for (let i = 1; i <= 3; i++) {
        pending.push(send(await openPair(h, "bank-a", "bank-c"), "client-1", 5000));
        await h.eventually(
          `${i} prepared at bank-a`,
          async () => (await preparedAt(h, "bank-a")).length >= i,
        );
      }
      const refused = await send(await openPair(h, "bank-a", "bank-c"), "client-1", 5000);
      expect(refused.status, JSON.stringify(refused.data)).to.equal(200);
      expect(refused.data.outcome).to.equal("aborted");
      const atBankA = refused.data.participants?.find((p) => p.name === "bank-a");
      expect(atBankA).to.include({ vote: "no", reason: "busy" });
      // The three held ones end as their deadline dictates (bank-c answers too late): aborted, no error.
      for (const r of await Promise.all(pending)) {
        expect(r.status, JSON.stringify(r.data)).to.equal(200);
        expect(r.data.outcome).to.equal("aborted");
      }
      await h.disarmAll();
      // With the slots free again, bank-a prepares and commits as before.
      const after = await send(await openPair(h, "bank-a", "bank-b"), "client-1", 5000);
      expect(after.data.outcome).to.equal("committed");
    } finally {
      await h.disarmAll();
      await restore();
    }
    await h.verify();
  });

  it("a client over its rate gets 429 with Retry-After; another client is not slowed", async () => {
    const restore = await restartWith("coordinator", {
      CONCORD_CLIENT_RATE_PER_SECOND: "1",
      CONCORD_CLIENT_RATE_BURST: "2",
    });
    try {
      const list = (who: "client-1" | "client-2") =>
        http.get<TransactionList>(`${h.url("coordinator")}/v1/transactions?limit=1`, {
          headers: key(who),
        });
      const burst = [];
      for (let i = 0; i < 5; i++) burst.push(await list("client-1"));
      const statuses = burst.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length, statuses.join(",")).to.be.within(2, 3);
      const limited = burst.find((r) => r.status === 429);
      expect(limited?.data.error).to.include({ code: "too-many-requests", limit: "rate" });
      expect(Number(limited?.headers["retry-after"])).to.be.greaterThan(0);
      expect((await list("client-2")).status).to.equal(200);
    } finally {
      await restore();
    }
  });

  it("a transaction whose deadline would take a client past its held-time budget is refused with 429 before anything is logged", async () => {
    const restore = await restartWith("coordinator", { CONCORD_CLIENT_MAX_HELD_MS: "5000" });
    try {
      const spec = await openPair(h);
      const over = await send(spec, "client-1", 6000);
      expect(over.status).to.equal(429);
      expect(over.data.error).to.include({ code: "too-many-requests", limit: "held-time" });
      // Within the budget it runs.
      const within = await send(spec, "client-1", 4000);
      expect(within.data.outcome).to.equal("committed");
    } finally {
      await restore();
    }
    await h.verify();
  });
});
