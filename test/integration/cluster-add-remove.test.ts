/**
 * `npm run cluster -- add|remove` on a running cluster of its own (two banks, no inventory):
 * an inventory added while everything runs takes part in a transaction with both banks, with
 * no service restarted and the pair secrets in both peers' files; removed, it can no longer be
 * named; bad input and a participant in an unfinished transaction are refused, changing nothing.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import {
  adminSecretOf,
  clusterFilePath,
  participantOf,
  peerPairKey,
  readClusterFile,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { participantsFilePath, peersFilePath } from "../../scripts/cluster/directory-files.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { isOurProcess } from "../../scripts/cluster/processes.js";
import { sleep } from "../../shared/clock.js";
import { newTxid } from "../../shared/ids.js";
import {
  account,
  bankUrl,
  http,
  openAccount,
  registerCluster,
  settled,
  uniqueAccount,
} from "../support/bank-client.js";
import { TEST_ENV } from "../support/cluster-fixture.js";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(DIST, "scripts", "cluster.js");

/** Runs `npm run cluster -- <args>` (the built script), with the test cluster's folder. */
function cli(dir: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args, "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (status) => {
      done({ status, output });
    });
  });
}

type DirectoryFile = Record<string, Record<string, { url: string; secret: string }>>;
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as DirectoryFile;
const peersOf = (dir: string, name: string) => readJson(peersFilePath(dir, name)).peers ?? {};
const participantsOf = (dir: string) => readJson(participantsFilePath(dir)).participants ?? {};

/** cluster.json and every directory file, as bytes: what a refused command must leave alone. */
function filesOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {
    "cluster.json": readFileSync(clusterFilePath(dir), "utf8"),
    "participants.json": readFileSync(participantsFilePath(dir), "utf8"),
  };
  for (const f of readdirSync(join(dir, "peers")))
    files[`peers/${f}`] = readFileSync(join(dir, "peers", f), "utf8");
  return files;
}

const messageOf = (data: unknown): string =>
  (data as { error?: { message?: string } } | undefined)?.error?.message ?? JSON.stringify(data);

describe("adding and removing participants while the cluster runs (npm run cluster -- add|remove)", function () {
  this.timeout(180_000);
  let dir: string;
  let cluster: ClusterFile;
  let pidsBefore: [string, number][];
  const reload = () => {
    cluster = registerCluster(readClusterFile(dir) as ClusterFile);
    return cluster;
  };
  const pidsOf = (c: ClusterFile, names: string[]) =>
    names.map((n): [string, number] => [n, c.processes.find((p) => p.name === n)?.pid ?? 0]);
  const order = (alice: string, shop: string, item: string) => ({
    participants: [
      { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "300" }] },
      { name: "bank-b", operations: [{ op: "credit", account: shop, amount: "300" }] },
      { name: "inventory", operations: [{ op: "reserve", item, quantity: 3 }] },
    ],
  });
  const run = (body: unknown) =>
    http.post<{ outcome?: string }>(`${cluster.coordinator.url}/v1/transactions`, body);

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "concord-add-remove-"));
    cluster = registerCluster(await startCluster({ dir, banks: 2, inventory: 0, env: TEST_ENV }));
    pidsBefore = pidsOf(cluster, ["coordinator", "bank-a", "bank-b"]);
  });

  after(async function () {
    if (!dir) return;
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives the coordinator its participants and each participant its peers in files of the cluster folder, mode 0600", function () {
    expect(cluster.processes.find((p) => p.name === "coordinator")?.env).to.include({
      CONCORD_PARTICIPANTS_FILE: participantsFilePath(dir),
    });
    expect(Object.keys(participantsOf(dir))).to.deep.equal(["bank-a", "bank-b"]);
    expect(participantsOf(dir)["bank-a"]?.secret).to.equal(
      cluster.secrets.participantSecrets["bank-a"],
    );
    expect(Object.keys(peersOf(dir, "bank-a"))).to.deep.equal(["bank-b"]);
    for (const path of [participantsFilePath(dir), peersFilePath(dir, "bank-a")])
      expect(statSync(path).mode & 0o777, path).to.equal(0o600);
  });

  it("refuses bad input to add and remove with a message, changing nothing", async function () {
    const before = filesOf(dir);
    const cases: [string[], RegExp][] = [
      [["add", "inventory", "--application", "warehouse"], /unknown application "warehouse"/],
      [["add", "inventory"], /add needs --application/],
      [["add", "bank-a", "--application", "bank"], /already has a participant named bank-a/],
      [["add", "Bad_Name", "--application", "bank"], /invalid participant name "Bad_Name"/],
      [["add", "coordinator", "--application", "inventory"], /invalid participant name/],
      [["add", "redis-coordinator", "--application", "bank"], /already has a process named/],
      [["add", "--application", "bank"], /add needs the participant's name/],
      [["remove", "nobody"], /no participant "nobody"/],
      [["remove"], /remove needs the participant's name/],
      [["remove", "bank-a", "--application", "bank"], /--application is for add only/],
    ];
    for (const [args, message] of cases) {
      const { status, output } = await cli(dir, args);
      expect(status, `${args.join(" ")}: ${output}`).to.not.equal(0);
      expect(output, args.join(" ")).to.match(message);
    }
    expect(filesOf(dir)).to.deep.equal(before);
    expect(pidsOf(reload(), ["coordinator", "bank-a", "bank-b"])).to.deep.equal(pidsBefore);
  });

  it("refuses to remove a participant that holds a prepared transaction, changing nothing", async function () {
    const holder = uniqueAccount("holder");
    await openAccount(cluster, "bank-b", holder, 10);
    const before = filesOf(dir);
    // Prepared at bank-b as the coordinator would (a transaction the coordinator never logged).
    const txid = newTxid();
    const prepared = await http.post(`${bankUrl(cluster, "bank-b")}/v1/2pc/${txid}/prepare`, {
      operations: [{ op: "debit", account: holder, amount: "1" }],
    });
    expect(prepared.status, JSON.stringify(prepared.data)).to.equal(200);
    const { status, output } = await cli(dir, ["remove", "bank-b"]);
    await http.post(`${bankUrl(cluster, "bank-b")}/v1/2pc/${txid}/abort`, {});
    expect(status, output).to.equal(1);
    expect(output).to.match(/bank-b is still in transactions: 1 prepared at its PostgreSQL/);
    expect(filesOf(dir)).to.deep.equal(before);
    const bankB = cluster.processes.find((p) => p.name === "bank-b");
    expect(isOurProcess(bankB?.pid, bankB?.marker ?? "")).to.equal(true);
  });

  it("adds an inventory that takes part in a transaction with both banks, restarting nothing", async function () {
    const { status, output } = await cli(dir, ["add", "inventory", "--application", "inventory"]);
    expect(status, output).to.equal(0);
    reload();
    expect(cluster.participants.map((p) => [p.name, p.application])).to.deep.equal([
      ["bank-a", "bank"],
      ["bank-b", "bank"],
      ["inventory", "inventory"],
    ]);
    const inventory = participantOf(cluster, "inventory");
    const widget = uniqueAccount("widget");
    const created = await http.post(
      `${inventory.participantUrl}/v1/items`,
      { id: widget, stock: 10 },
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` } },
    );
    expect(created.status, JSON.stringify(created.data)).to.equal(201);
    const alice = uniqueAccount("alice");
    const shop = uniqueAccount("shop");
    await openAccount(cluster, "bank-a", alice, 1000);
    await openAccount(cluster, "bank-b", shop, 0);

    // add returns once the coordinator takes it; poll briefly all the same.
    let res = await run(order(alice, shop, widget));
    for (let i = 0; i < 20 && res.status === 400; i++) {
      await sleep(250);
      res = await run(order(alice, shop, widget));
    }
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(700n);
    expect((await account(cluster, "bank-b", shop)).balance).to.equal(300n);

    expect(pidsOf(cluster, ["coordinator", "bank-a", "bank-b"])).to.deep.equal(pidsBefore);
    for (const [name, pid] of pidsBefore) {
      const marker = cluster.processes.find((p) => p.name === name)?.marker ?? "";
      expect(isOurProcess(pid, marker), `${name} still the same process`).to.equal(true);
    }
    const pair = cluster.secrets.peerSecrets[peerPairKey("bank-a", "inventory")];
    expect(pair).to.be.a("string").with.length.greaterThan(31);
    expect(peersOf(dir, "bank-a").inventory).to.deep.equal({
      url: inventory.participantUrl,
      secret: pair,
    });
    expect(peersOf(dir, "inventory")["bank-a"]?.secret).to.equal(pair);
    expect(Object.keys(peersOf(dir, "inventory"))).to.deep.equal(["bank-a", "bank-b"]);
    expect(participantsOf(dir).inventory?.secret).to.equal(
      cluster.secrets.participantSecrets.inventory,
    );
  });

  it("removes the inventory: a transaction naming it then gets 400 unknown participant", async function () {
    await settled(cluster);
    const inventory = cluster.processes.filter((p) => p.name.endsWith("inventory"));
    expect(inventory.map((p) => p.name).sort()).to.deep.equal([
      "inventory",
      "postgres-inventory",
      "redis-inventory",
    ]);
    const { status, output } = await cli(dir, ["remove", "inventory"]);
    expect(status, output).to.equal(0);
    reload();

    const body = order(uniqueAccount("alice"), uniqueAccount("shop"), "widget");
    let res = await run(body);
    for (let i = 0; i < 20 && res.status !== 400; i++) {
      await sleep(250);
      res = await run(body);
    }
    expect(res.status, JSON.stringify(res.data)).to.equal(400);
    expect(messageOf(res.data)).to.match(/unknown participant "inventory"/);

    expect(cluster.participants.map((p) => p.name)).to.deep.equal(["bank-a", "bank-b"]);
    expect(cluster.processes.some((p) => p.name.endsWith("inventory"))).to.equal(false);
    expect(cluster.secrets.participantSecrets).to.not.have.property("inventory");
    for (const p of inventory) expect(isOurProcess(p.pid, p.marker), p.name).to.equal(false);
    expect(Object.keys(participantsOf(dir))).to.deep.equal(["bank-a", "bank-b"]);
    expect(Object.keys(peersOf(dir, "bank-a"))).to.deep.equal(["bank-b"]);
    expect(pidsOf(cluster, ["coordinator", "bank-a", "bank-b"])).to.deep.equal(pidsBefore);
  });
});
