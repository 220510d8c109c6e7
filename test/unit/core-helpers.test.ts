/**
 * The small pure helpers the protocol relies on: retry backoff, txids and gids (which reach SQL
 * as literals), the per-key mutex of the participant, the shard of a txid in the log, and the
 * bank's amount and operation schemas.
 */
import { expect } from "chai";
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from "../../shared/backoff.js";
import { gidFor, isTxid, newTxid, TXID_PATTERN, txidTimeMs } from "../../shared/ids.js";
import { KeyedMutex } from "../../participant/framework/keyed-mutex.js";
import { SHARD_COUNT, shardOf } from "../../shared/durable-log.js";
import {
  amountSchema,
  bankOperationSchema,
  MAX_AMOUNT,
} from "../../participant/bank/bank-operations.js";

const ceilingOf = (attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number =>
  Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function, to hand control between concurrent tasks. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("backoff", () => {
  const almostOne = () => 0.999_999;
  const zero = () => 0;

  it("grows with each attempt until it reaches the cap", () => {
    const delays = Array.from({ length: 12 }, (_, attempt) =>
      backoffDelayMs(attempt, DEFAULT_BACKOFF, almostOne),
    );
    for (let i = 1; i < delays.length; i++)
      expect(delays[i]).to.be.at.least(delays[i - 1] as number);
    expect(delays[1]).to.be.greaterThan(delays[0] as number);
    expect(delays[5]).to.be.greaterThan(delays[4] as number);
    expect(delays.at(-1)).to.be.within(DEFAULT_BACKOFF.capMs - 1, DEFAULT_BACKOFF.capMs);
  });

  it("never exceeds the cap, even after thousands of attempts", () => {
    for (const attempt of [7, 20, 31, 100, 10_000, Number.MAX_SAFE_INTEGER]) {
      const delay = backoffDelayMs(attempt, DEFAULT_BACKOFF, almostOne);
      expect(delay, `attempt ${attempt}`)
        .to.be.a("number")
        .and.to.be.within(DEFAULT_BACKOFF.capMs / 2, DEFAULT_BACKOFF.capMs);
    }
  });

  it("stays within [ceiling/2, ceiling] of the attempt's ceiling for any random value", () => {
    const policies: BackoffPolicy[] = [
      DEFAULT_BACKOFF,
      { baseMs: 10, capMs: 1000 },
      { baseMs: 100, capMs: 30_000 },
    ];
    for (const policy of policies) {
      for (let attempt = 0; attempt < 40; attempt++) {
        const ceiling = ceilingOf(attempt, policy);
        for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.999_999]) {
          const delay = backoffDelayMs(attempt, policy, () => r);
          // Delays are whole milliseconds: the lower bound is ceiling/2 rounded down.
          expect(delay, `attempt ${attempt}, random ${r}, ceiling ${ceiling}`).to.be.within(
            Math.floor(ceiling / 2),
            ceiling,
          );
          expect(Number.isInteger(delay)).to.equal(true);
        }
      }
    }
  });

  it("takes its jitter from the injected random source, deterministically", () => {
    const attempt = 3;
    const ceiling = ceilingOf(attempt);
    expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, zero)).to.equal(Math.floor(ceiling / 2));
    expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 0.5)).to.equal(
      Math.floor(ceiling / 2 + ceiling / 4),
    );
    expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 0.5)).to.equal(
      backoffDelayMs(attempt, DEFAULT_BACKOFF, () => 0.5),
    );
    expect(backoffDelayMs(attempt, DEFAULT_BACKOFF, zero)).to.be.lessThan(
      backoffDelayMs(attempt, DEFAULT_BACKOFF, almostOne),
    );
    let calls = 0;
    backoffDelayMs(attempt, DEFAULT_BACKOFF, () => {
      calls++;
      return 0.3;
    });
    expect(calls).to.equal(1);
  });

  it("with the default Math.random, retries of the same attempt are spread over the range", () => {
    const delays = new Set(Array.from({ length: 200 }, () => backoffDelayMs(6)));
    for (const d of delays) expect(d).to.be.within(Math.floor(ceilingOf(6) / 2), ceilingOf(6));
    expect(delays.size).to.be.greaterThan(10);
  });
});

describe("ids", () => {
  const txid = "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90";

  it("txidTimeMs reads back the creation time a UUID v7 txid carries", () => {
    const before = Date.now();
    const id = newTxid();
    const after = Date.now();
    expect(txidTimeMs(id)).to.be.within(before, after);
    expect(txidTimeMs("0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90")).to.equal(0x0190a6d26b1e);
  });

  it("newTxid returns a lowercase UUID v7 that gidFor accepts", () => {
    const id = newTxid();
    expect(id).to.match(TXID_PATTERN);
    expect(id[14]).to.equal("7");
    expect(isTxid(id)).to.equal(true);
    expect(gidFor("bank-a", id)).to.equal(`concord:bank-a:${id}`);
  });

  it("newTxid values sort by creation time, within one millisecond and across milliseconds", async () => {
    const burst = Array.from({ length: 1000 }, () => newTxid());
    expect([...burst].sort()).to.deep.equal(burst);
    expect(new Set(burst).size).to.equal(burst.length);
    const earlier = newTxid();
    await sleepMs(3);
    const later = newTxid();
    expect(earlier < later).to.equal(true);
  });

  it("gidFor rejects txids that are not plain lowercase UUIDs", () => {
    const bad = [
      "",
      txid.toUpperCase(),
      `${txid}'`,
      `'${txid}`,
      `${txid}"`,
      ` ${txid}`,
      `${txid} `,
      `${txid}\n`,
      `${txid}; DROP TABLE accounts; --`,
      "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d9'",
      "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d9;",
      "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d9g",
      "0190a6d26b1e7c3a9f002c5e1a7b8d90",
      `{${txid}}`,
      "x' OR '1'='1",
    ];
    for (const t of bad)
      expect(() => gidFor("bank-a", t), JSON.stringify(t)).to.throw(/invalid txid/);
    expect(() => gidFor("bank-a", 42 as unknown as string)).to.throw(/invalid txid/);
  });

  it("gidFor rejects participant names with quotes, spaces, uppercase or SQL metacharacters", () => {
    const bad = [
      "",
      "Bank",
      "BANK-A",
      "bank a",
      " bank",
      "bank'",
      'bank"a',
      "bank;a",
      "bank:a",
      "bank_a",
      "bank/a",
      "bank\\a",
      "1bank",
      "-bank",
      "a".repeat(33),
      "bank\n",
      "bänk",
    ];
    for (const name of bad)
      expect(() => gidFor(name, txid), JSON.stringify(name)).to.throw(/invalid participant name/);
  });

  it("gidFor accepts plain slugs up to 32 characters and puts the name in the gid", () => {
    for (const name of ["a", "bank-a", "bank--", "b2", "a".repeat(32)])
      expect(gidFor(name, txid)).to.equal(`concord:${name}:${txid}`);
  });
});

describe("KeyedMutex", () => {
  it("work on the same key never overlaps and runs in the order it was queued", async () => {
    const mutex = new KeyedMutex();
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const delays = [5, 0, 3, 1, 4, 0, 2, 6, 1, 0];
    await Promise.all(
      delays.map((delay, i) =>
        mutex.run("tx-1", async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          order.push(i);
          await sleepMs(delay);
          running--;
        }),
      ),
    );
    expect(maxRunning).to.equal(1);
    expect(order).to.deep.equal(delays.map((_, i) => i));
  });

  it("work on different keys runs concurrently", async () => {
    const mutex = new KeyedMutex();
    const aStarted = signal();
    const bStarted = signal();
    // Each task waits for the other to start: serialized, they would wait for ever.
    const both = Promise.all([
      mutex.run("tx-a", async () => {
        aStarted.resolve();
        await bStarted.promise;
        return "a";
      }),
      mutex.run("tx-b", async () => {
        bStarted.resolve();
        await aStarted.promise;
        return "b";
      }),
    ]);
    const timeout = sleepMs(1000).then(() => "timed out");
    expect(await Promise.race([both, timeout])).to.deep.equal(["a", "b"]);
    expect(mutex.size).to.equal(0);
  });

  it("returns the work's result and holds a key only while work is queued", async () => {
    const mutex = new KeyedMutex();
    const gate = signal();
    const first = mutex.run("k", async () => {
      await gate.promise;
      return 1;
    });
    const second = mutex.run("k", () => Promise.resolve(2));
    const other = mutex.run("other", async () => {
      await gate.promise;
      return 3;
    });
    expect(mutex.size).to.equal(2);
    gate.resolve();
    expect(await Promise.all([first, second, other])).to.deep.equal([1, 2, 3]);
    expect(mutex.size).to.equal(0);
  });

  it("work that throws releases the key: the error reaches the caller, queued work still runs, the map empties", async () => {
    const mutex = new KeyedMutex();
    const ran: string[] = [];
    const failing = mutex.run("k", async () => {
      await sleepMs(2);
      ran.push("failing");
      throw new Error("prepare failed");
    });
    const next = mutex.run("k", () => {
      ran.push("next");
      return Promise.resolve("ok");
    });
    const syncThrow = mutex.run("j", () => {
      throw new Error("sync");
    });
    const results = await Promise.allSettled([failing, next, syncThrow]);
    expect(results[0]).to.deep.include({ status: "rejected" });
    expect((results[0] as PromiseRejectedResult).reason)
      .to.be.instanceOf(Error)
      .with.property("message", "prepare failed");
    expect(results[1]).to.deep.equal({ status: "fulfilled", value: "ok" });
    expect(results[2]).to.deep.include({ status: "rejected" });
    expect(ran).to.deep.equal(["failing", "next"]);
    expect(mutex.size).to.equal(0);
    // The key is usable again afterwards.
    expect(await mutex.run("k", () => Promise.resolve("again"))).to.equal("again");
    expect(mutex.size).to.equal(0);
  });

  it("after many rounds of mixed success and failure over many keys the map is empty", async () => {
    const mutex = new KeyedMutex();
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `tx-${i % 7}`;
      tasks.push(
        mutex.run(key, async () => {
          await sleepMs(i % 3);
          if (i % 5 === 0) throw new Error(`task ${i}`);
          return i;
        }),
      );
    }
    const settled = await Promise.allSettled(tasks);
    expect(settled.filter((r) => r.status === "rejected")).to.have.length(60);
    expect(mutex.size).to.equal(0);
  });
});

describe("shardOf", () => {
  it("is FNV-1a of the txid modulo SHARD_COUNT, so other processes and languages agree", () => {
    // Published FNV-1a 32-bit test vectors: "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
    expect(shardOf("")).to.equal(0x811c9dc5 % SHARD_COUNT);
    expect(shardOf("a")).to.equal(0xe40c292c % SHARD_COUNT);
    expect(shardOf("foobar")).to.equal(0xbf9cf968 % SHARD_COUNT);
  });

  it("is stable and always an integer in [0, SHARD_COUNT), spread over every shard", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const txid = newTxid();
      const shard = shardOf(txid);
      expect(Number.isInteger(shard)).to.equal(true);
      expect(shard).to.be.within(0, SHARD_COUNT - 1);
      expect(shardOf(txid)).to.equal(shard);
      seen.add(shard);
    }
    expect(seen.size).to.equal(SHARD_COUNT);
  });
});

describe("bank operations", () => {
  it("amountSchema accepts positive integers as strings, up to MAX_AMOUNT", () => {
    for (const amount of [
      "1",
      "9",
      "10",
      "1250",
      MAX_AMOUNT.toString(),
      (MAX_AMOUNT - 1n).toString(),
    ]) {
      expect(amountSchema.safeParse(amount).success, amount).to.equal(true);
    }
  });

  it("amountSchema rejects fractions, exponents, signs, leading zeros, whitespace and empty strings", () => {
    for (const amount of [
      "1.5",
      "1.0",
      "1e3",
      "1E3",
      "-1",
      "+1",
      "01",
      "00",
      "0",
      "",
      " 1",
      "1 ",
      "\t1",
      "1\n",
      "0x10",
      "1_000",
      "1,000",
      "Infinity",
      "NaN",
      "١",
    ]) {
      expect(amountSchema.safeParse(amount).success, JSON.stringify(amount)).to.equal(false);
    }
  });

  it("amountSchema rejects amounts sent as JSON numbers, which a parser may already have rounded", () => {
    const body = JSON.parse('{"a": 1, "b": 1000, "c": 9007199254740993, "d": 1.5}') as Record<
      string,
      unknown
    >;
    for (const value of Object.values(body))
      expect(amountSchema.safeParse(value).success, String(value)).to.equal(false);
    expect(amountSchema.safeParse(1n).success).to.equal(false);
    expect(amountSchema.safeParse(null).success).to.equal(false);
  });

  it("amountSchema rejects values above MAX_AMOUNT", () => {
    for (const amount of [
      (MAX_AMOUNT + 1n).toString(),
      "9999999999999999",
      (MAX_AMOUNT * 10n).toString(),
      "9".repeat(40),
    ]) {
      expect(amountSchema.safeParse(amount).success, amount).to.equal(false);
    }
  });

  it("bankOperationSchema accepts debit, credit (with an expected version) and read", () => {
    const ok = [
      { op: "debit", account: "alice", amount: "100" },
      { op: "credit", account: "bob_2", amount: "100", expectedVersion: 3 },
      { op: "read", account: "carol-1" },
    ];
    for (const op of ok)
      expect(bankOperationSchema.safeParse(op).success, JSON.stringify(op)).to.equal(true);
  });

  it("bankOperationSchema rejects unknown fields, unknown ops and malformed accounts", () => {
    const bad: unknown[] = [
      { op: "debit", account: "alice", amount: "100", extra: 1 },
      { op: "credit", account: "alice", amount: "100", currency: "EUR" },
      { op: "read", account: "alice", amount: "100" },
      { op: "transfer", account: "alice", amount: "100" },
      { op: "debit", account: "alice", amount: 100 },
      { op: "debit", account: "alice" },
      { op: "debit", account: "alice; DROP TABLE accounts", amount: "1" },
      { op: "debit", account: "", amount: "1" },
      { op: "debit", account: "a".repeat(65), amount: "1" },
      { op: "debit", account: "alice", amount: "1", expectedVersion: -1 },
      { op: "debit", account: "alice", amount: "1", expectedVersion: 1.5 },
    ];
    for (const op of bad)
      expect(bankOperationSchema.safeParse(op).success, JSON.stringify(op)).to.equal(false);
  });
});
