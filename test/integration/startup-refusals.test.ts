import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  databaseUrl,
  ensureDatabase,
  initPostgres,
  postgresDataRoot,
  postgresReady,
  postgresSpec,
  postgresUser,
  removeOutsideData,
} from "../../scripts/cluster/postgres.js";
import {
  freePort,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../../scripts/cluster/processes.js";
import { redisReady, redisSpec, redisUrl } from "../../scripts/cluster/redis.js";
import { ADMIN_ACL_RULES, ADMIN_REDIS_USER } from "../../shared/redis-acl.js";

const DIST = join(process.cwd(), "dist");

/** Runs a service's main until it exits (or is killed after `ms`) and returns its exit code and output. */
const SECRET = "a-test-secret-of-at-least-32-characters";
const COORDINATOR_SECRETS = {
  CONCORD_API_KEYS: SECRET,
  CONCORD_PARTICIPANT_SECRETS: `bank-a=${SECRET}`,
};

function runService(
  main: string,
  env: Record<string, string>,
  ms = 20_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(DIST, main)], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A Redis with only an operators' user (password "pw"): these tests are about refusals, not ACLs. */
const ADMIN_ONLY = [{ name: ADMIN_REDIS_USER, password: "pw", rules: ADMIN_ACL_RULES }];

describe("start-up refuses unsafe stores", function () {
  let dir: string;
  const started: ProcessSpec[] = [];
  const pids: number[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "concord-refusals-"));
  });

  after(async function () {
    this.timeout(60_000);
    for (const [i, spec] of started.entries())
      await stopProcess(pids[i] as number, spec.marker, spec.stopSignal);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(spec: ProcessSpec, ready: () => Promise<boolean>): Promise<void> {
    const pid = spawnDetached(spec);
    started.push(spec);
    pids.push(pid);
    await waitUntil(spec.name, ready, { timeoutMs: 60_000, log: spec.log });
  }

  it("the coordinator refuses a Redis without appendfsync always, and says how to fix it", async function () {
    this.timeout(60_000);
    const port = await freePort();
    await start(
      redisSpec({
        name: "redis-volatile",
        dataDir: join(dir, "redis"),
        port,
        users: ADMIN_ONLY,
        log: join(dir, "redis.log"),
        durable: false,
      }),
      () => redisReady(redisUrl(port, ADMIN_REDIS_USER, "pw")),
    );
    const env = {
      CONCORD_REDIS_URL: redisUrl(port, ADMIN_REDIS_USER, "pw"),
      CONCORD_PARTICIPANTS: "bank-a=http://127.0.0.1:1",
      CONCORD_PORT: "0",
      ...COORDINATOR_SECRETS,
    };
    const refused = await runService("coordinator/main.js", env);
    expect(refused.code).to.equal(1);
    expect(refused.output)
      .to.match(/not durable/)
      .and.match(/appendfsync always/)
      .and.match(/CONCORD_ACCEPT_NONDURABLE_REDIS/);

    // With the risk explicitly accepted it starts, and says so loudly.
    const accepted = await runService(
      "coordinator/main.js",
      { ...env, CONCORD_ACCEPT_NONDURABLE_REDIS: "true" },
      3000,
    );
    expect(accepted.code).to.equal(null, accepted.output); // still running when killed
    expect(accepted.output).to.match(/NON-DURABLE LOG/);
  });

  it("a participant refuses a PostgreSQL with max_prepared_transactions = 0, and says how to fix it", async function () {
    this.timeout(120_000);
    const user = postgresUser();
    const dataDir = join(postgresDataRoot(dir, user), "no-prepared");
    initPostgres(dataDir, "pw", user);
    const pgPort = await freePort();
    await start(
      postgresSpec({
        name: "postgres-no-prepared",
        dataDir,
        port: pgPort,
        log: join(dir, "pg.log"),
        user,
        maxPrepared: 0,
      }),
      () => postgresReady(pgPort, "pw"),
    );
    await ensureDatabase(pgPort, "pw", "bank");
    const redisPort = await freePort();
    await start(
      redisSpec({
        name: "redis-journal",
        dataDir: join(dir, "redis-j"),
        port: redisPort,
        users: ADMIN_ONLY,
        log: join(dir, "redis-j.log"),
      }),
      () => redisReady(redisUrl(redisPort, ADMIN_REDIS_USER, "pw")),
    );
    const refused = await runService("participant/bank/main.js", {
      CONCORD_PARTICIPANT_NAME: "bank-a",
      CONCORD_PARTICIPANT_SECRET: SECRET,
      CONCORD_DATABASE_URL: databaseUrl(pgPort, "pw", "bank"),
      CONCORD_REDIS_URL: redisUrl(redisPort, ADMIN_REDIS_USER, "pw"),
      CONCORD_PORT: "0",
    });
    expect(refused.code).to.equal(1);
    expect(refused.output)
      .to.match(/max_prepared_transactions = 0/)
      .and.match(/-c max_prepared_transactions=N/);
  });

  it("a service with a malformed configuration stops and names the variable", async function () {
    this.timeout(30_000);
    const res = await runService("coordinator/main.js", {
      CONCORD_PARTICIPANTS: "bank-a=ftp://x",
      CONCORD_PORT: "70000",
    });
    expect(res.code).to.equal(1);
    expect(res.output)
      .to.match(/CONCORD_PARTICIPANTS/)
      .and.match(/CONCORD_PORT/);
  });

  it("services refuse to start without their secrets, naming what is missing and echoing no secret", async function () {
    this.timeout(30_000);
    const none = await runService("coordinator/main.js", {
      CONCORD_PARTICIPANTS: "bank-a=http://127.0.0.1:1,bank-b=http://127.0.0.1:2",
      CONCORD_PORT: "0",
    });
    expect(none.code).to.equal(1);
    expect(none.output)
      .to.match(/CONCORD_API_KEYS/)
      .and.match(/CONCORD_PARTICIPANT_SECRETS/);
    const short = "short-secret-value";
    const partial = await runService("coordinator/main.js", {
      CONCORD_PARTICIPANTS: "bank-a=http://127.0.0.1:1,bank-b=http://127.0.0.1:2",
      CONCORD_PORT: "0",
      CONCORD_API_KEYS: SECRET,
      CONCORD_PARTICIPANT_SECRETS: `bank-a=${SECRET}`,
    });
    expect(partial.code).to.equal(1);
    expect(partial.output).to.match(/no secret for bank-b/);
    expect(partial.output).not.to.include(SECRET);
    const weak = await runService("participant/bank/main.js", {
      CONCORD_PARTICIPANT_NAME: "bank-a",
      CONCORD_DATABASE_URL: "postgres://x@127.0.0.1:1/x",
      CONCORD_PARTICIPANT_SECRET: short,
      CONCORD_PORT: "0",
    });
    expect(weak.code).to.equal(1);
    expect(weak.output).to.match(/CONCORD_PARTICIPANT_SECRET: must be at least 32 characters/);
    expect(weak.output).not.to.include(short);
  });
});
