/**
 * A constraint an application's statements break (CHECK, unique, foreign key, NOT NULL) is a NO
 * vote, or a one-phase abort, whose reason names it — never a 500 — unless the application's own
 * `refusalFor` names the refusal first. A small test-only application, started with
 * startParticipant on a fresh database of the shared cluster's PostgreSQL and its journal on the
 * cluster's Redis, is sent signed PREPAREs and one-phase requests, as the coordinator sends them.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { z } from "zod";
import type { AxiosResponse } from "axios";
import { VoteNoError, type Application } from "../../participant/framework/application.js";
import { startParticipant, type RunningParticipant } from "../../participant/framework/start.js";
import type { ParticipantEvent } from "../../participant/framework/participant-events.js";
import type { BankEntry } from "../../scripts/cluster/cluster-file.js";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import { raw } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.js";

const kinds = [
  "ok",
  "check",
  "unique",
  "foreign-key",
  "not-null",
  "too-many",
  "sql-check",
] as const;
type Kind = (typeof kinds)[number];
const opsSchema = z.array(z.object({ op: z.enum(kinds), id: z.string().max(40) }).strict()).min(1);
type Ops = z.infer<typeof opsSchema>;

/** Each kind's statement; `$1` is the operation's id. */
const SQL: Record<Exclude<Kind, "sql-check">, string> = {
  ok: "INSERT INTO cv_items (id, qty, label) VALUES ($1, 1, 'fine')",
  check: "INSERT INTO cv_items (id, qty, label) VALUES ($1, -1, 'negative')",
  unique: "INSERT INTO cv_items (id, qty, label, code) VALUES ($1, 1, 'dup', 'taken')",
  "foreign-key": "INSERT INTO cv_notes (id, item) VALUES ($1, 'no-such-item')",
  "not-null": "INSERT INTO cv_items (id, qty, label) VALUES ($1, 1, NULL)",
  "too-many": "INSERT INTO cv_items (id, qty, label) VALUES ($1, 1000, 'many')",
};

/** Constraints of every kind; `cv_items_qty_max` is the one the application names itself. */
const application: Application<Ops> = {
  name: "constraint-test",
  migrations: [
    {
      relation: "cv_items",
      sql: `CREATE TABLE cv_items (
              id text PRIMARY KEY,
              qty integer NOT NULL CONSTRAINT cv_items_qty_positive CHECK (qty > 0)
                                   CONSTRAINT cv_items_qty_max CHECK (qty <= 100),
              label text NOT NULL,
              code text UNIQUE
            );
            INSERT INTO cv_items (id, qty, label, code) VALUES ('seed', 1, 'seed', 'taken')`,
    },
    {
      relation: "cv_notes",
      sql: "CREATE TABLE cv_notes (id text PRIMARY KEY, item text NOT NULL REFERENCES cv_items (id))",
    },
  ],
  operations: opsSchema,
  async execute(client, _txid, ops) {
    for (const o of ops) if (o.op !== "sql-check") await client.query(SQL[o.op], [o.id]);
    return { readOnly: false };
  },
  // `sql-check` goes as SQL text, in the one round trip of `statements`.
  statements(_txid, ops, literal) {
    if (!ops.every((o) => o.op === "sql-check")) return undefined;
    return {
      sql: ops.map(
        (o) => `INSERT INTO cv_items (id, qty, label) VALUES (${literal(o.id)}, 0, 'x')`,
      ),
      interpret: () => [],
    };
  },
  refusalFor(err) {
    const constraint = (err as { constraint?: unknown }).constraint;
    return constraint === "cv_items_qty_max"
      ? new VoteNoError("too-many", { max: 100 })
      : undefined;
  },
};

interface Answer {
  vote?: string;
  outcome?: string;
  reason?: string;
  detail?: Record<string, unknown>;
  error?: { code?: string; message?: string };
}

describe("constraint violations are NO votes that name the constraint (real PostgreSQL)", function () {
  const name = `cv-${process.pid}`;
  const secret = randomBytes(32).toString("hex");
  const database = `concord_cv_${process.pid}`;
  let participant: RunningParticipant | undefined;
  let adminUrl = "";
  let scratch: ScratchDatabase | undefined;
  const events: ParticipantEvent[] = [];

  const send = async (path: string, body: unknown): Promise<AxiosResponse<Answer>> => {
    const running = participant;
    if (!running) throw new Error("the participant did not start");
    const json = JSON.stringify(body);
    const sign = signerFor({ secret, keyId: "coordinator", audience: name });
    const headers = {
      "content-type": "application/json",
      ...sign("POST", path, json, "application/json"),
    };
    return raw.post<Answer>(`${running.url}${path}`, json, {
      headers,
      transformRequest: [(d: unknown) => d],
    });
  };
  const prepare = (txid: string, ops: Ops) =>
    send(`/v1/2pc/${txid}/prepare`, { operations: ops, participants: [name, "other"] });
  const onePhase = (txid: string, ops: Ops) =>
    send(`/v1/2pc/${txid}/one-phase`, { operations: ops });
  const abort = (txid: string) => send(`/v1/2pc/${txid}/abort`, {});

  async function inDb<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
    const db = new pg.Client({ connectionString: adminUrl });
    await db.connect();
    try {
      return await work(db);
    } finally {
      await db.end();
    }
  }
  const preparedHere = () =>
    inDb(async (db) => {
      const { rows } = await db.query(
        "SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1)",
        [`concord:${name}:`],
      );
      return rows.length;
    });

  before(async function () {
    this.timeout(180_000);
    const cluster = await sharedCluster();
    const server = cluster.banks[0] as BankEntry;
    scratch = await createScratchDatabase(server.adminDatabaseUrl, database);
    adminUrl = scratch.adminUrl;
    participant = await startParticipant({
      application,
      handleSignals: false,
      onEvent: (e) => events.push(e),
      env: {},
      config: {
        CONCORD_PARTICIPANT_NAME: name,
        CONCORD_PARTICIPANT_SECRET: secret,
        CONCORD_DATABASE_URL: adminUrl,
        CONCORD_REDIS_URL: server.adminRedisUrl,
        CONCORD_PORT: "0",
        CONCORD_PG_POOL_SIZE: "6",
        CONCORD_PG_DECISION_POOL_SIZE: "2",
        CONCORD_RECOVERY_MIN_AGE_MS: "600000",
        CONCORD_LOG_LEVEL: "warn",
      },
    });
  });

  afterEach(async function () {
    expect(await preparedHere(), "prepared transactions left behind").to.equal(0);
  });

  after(async function () {
    this.timeout(60_000);
    await participant?.stop();
    await scratch?.drop();
  });

  const expected: Record<"check" | "unique" | "foreign-key" | "not-null", Answer> = {
    check: {
      reason: "constraint:cv_items_qty_positive",
      detail: { constraint: "cv_items_qty_positive", kind: "check", table: "cv_items" },
    },
    unique: {
      reason: "constraint:cv_items_code_key",
      detail: { constraint: "cv_items_code_key", kind: "unique", table: "cv_items" },
    },
    "foreign-key": {
      reason: "constraint:cv_notes_item_fkey",
      detail: { constraint: "cv_notes_item_fkey", kind: "foreign-key", table: "cv_notes" },
    },
    "not-null": {
      reason: "constraint:not-null:cv_items.label",
      detail: {
        constraint: "not-null:cv_items.label",
        kind: "not-null",
        table: "cv_items",
        column: "label",
      },
    },
  };

  for (const [kind, want] of Object.entries(expected)) {
    it(`a ${kind} violation in PREPARE is a NO vote naming the constraint, and stays NO`, async function () {
      const txid = newTxid();
      const res = await prepare(txid, [
        { op: "ok", id: `a-${txid}` },
        { op: kind as Kind, id: `b-${txid}` },
      ]);
      expect(res.status, JSON.stringify(res.data)).to.equal(200);
      expect(res.data).to.deep.equal({ isolation: "read-committed", vote: "no", ...want });
      // The tombstone makes it permanent: a repeated PREPARE gets the NO, and nothing was written.
      const again = await prepare(txid, [{ op: "ok", id: `c-${txid}` }]);
      expect(again.data).to.deep.equal({
        isolation: "read-committed",
        vote: "no",
        reason: "already-aborted",
      });
      const rows = await inDb(
        async (db) =>
          (await db.query("SELECT 1 FROM cv_items WHERE id LIKE $1", [`%-${txid}`])).rowCount,
      );
      expect(rows).to.equal(0);
    });

    it(`a ${kind} violation in one phase aborts with the constraint as its reason`, async function () {
      const txid = newTxid();
      const res = await onePhase(txid, [{ op: kind as Kind, id: `a-${txid}` }]);
      expect(res.status, JSON.stringify(res.data)).to.equal(200);
      expect(res.data).to.deep.equal({ isolation: "read-committed", outcome: "aborted", ...want });
    });
  }

  it("a violation raised by the application's SQL text (statements) is a NO vote too", async function () {
    const res = await prepare(newTxid(), [{ op: "sql-check", id: `s-${process.pid}` }]);
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data).to.deep.equal({ isolation: "read-committed", vote: "no", ...expected.check });
  });

  it("the application's own refusalFor names the refusal first", async function () {
    const res = await prepare(newTxid(), [{ op: "too-many", id: `m-${process.pid}` }]);
    expect(res.data).to.deep.equal({
      isolation: "read-committed",
      vote: "no",
      reason: "too-many",
      detail: { max: 100 },
    });
    const one = await onePhase(newTxid(), [{ op: "too-many", id: `n-${process.pid}` }]);
    expect(one.data).to.deep.equal({
      isolation: "read-committed",
      outcome: "aborted",
      reason: "too-many",
      detail: { max: 100 },
    });
  });

  it("the framework's own outcome row still means seen before: a one-phase commit repeated is committed", async function () {
    const txid = newTxid();
    const first = await onePhase(txid, [{ op: "ok", id: `o-${txid}` }]);
    expect(first.data).to.deep.equal({ isolation: "read-committed", outcome: "committed" });
    const again = await onePhase(txid, [{ op: "ok", id: `o-${txid}` }]);
    expect(again.data).to.deep.equal({ isolation: "read-committed", outcome: "committed" });
  });

  it("operations that break nothing vote YES and abort cleanly", async function () {
    const txid = newTxid();
    const res = await prepare(txid, [{ op: "ok", id: `y-${txid}` }]);
    expect(res.data).to.deep.equal({ isolation: "read-committed", vote: "yes" });
    expect((await abort(txid)).data).to.deep.include({ state: "aborted" });
  });

  it("the observer (startParticipant's onEvent) hears every answer, votes and reasons included", async function () {
    const txid = newTxid();
    await prepare(txid, [{ op: "check", id: `e-${txid}` }]);
    const yes = newTxid();
    await prepare(yes, [{ op: "ok", id: `e-${yes}` }]);
    await abort(yes);
    const mine = events.filter((e) => e.txid === txid || e.txid === yes);
    expect(mine.map((e) => [e.message, e.result])).to.deep.equal([
      ["prepare", { kind: "vote", vote: "no", reason: "constraint:cv_items_qty_positive" }],
      ["prepare", { kind: "vote", vote: "yes" }],
      ["abort", { kind: "ack", state: "aborted" }],
    ]);
    expect(mine.every((e) => e.participant === name && e.durationMs >= 0)).to.equal(true);
  });
});
