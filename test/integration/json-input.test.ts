import { expect } from "chai";
import { gzipSync } from "node:zlib";
import { adminSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  http,
  loggedCount,
  openAccount,
  preparedLeft,
  raw,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import type { ParticipantStatus, Refusable } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

/**
 * JSON keys that reach an object's prototype (`__proto__`, `constructor`, `prototype`) are
 * refused anywhere in a body, at every service, before any route runs; compressed bodies are
 * refused; a signature covers Content-Type and Content-Encoding.
 */
describe("request bodies: prototype keys, compression and signed headers", function () {
  let cluster: ClusterFile;
  let alice: string;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    alice = uniqueAccount("alice");
    await openAccount(cluster, "bank-a", alice, 1000);
  });

  const coordinatorSigner = (bank: string) =>
    signerFor({
      secret: cluster.secrets.participantSecrets[bank] ?? "",
      keyId: "coordinator",
      audience: bank,
    });
  /** A 2PC request exactly as the coordinator would sign it, body sent as the given text. */
  const signed2pc = (
    bank: string,
    path: string,
    text: string,
    headers: Record<string, string> = {},
  ) =>
    raw.post(`${bankUrl(cluster, bank)}${path}`, text, {
      headers: {
        "content-type": "application/json",
        ...coordinatorSigner(bank)("POST", path, text, "application/json"),
        ...headers,
      },
      transformRequest: [(d: unknown) => d],
    });

  // Each is a body a route would otherwise take, with a forbidden key planted somewhere.
  const credit = (extra: string) => `{"op":"credit","account":"${alice}","amount":"1"${extra}}`;
  const plants = [
    `, "__proto__": {"isAdmin": true}`,
    `, "constructor": {"prototype": {"x": 1}}`,
    `, "prototype": 1`,
    // The same key behind JSON escapes: what the parser sees, not what the text spells.
    `, "\\u005f_proto__": {}`,
    `, "nested": [{"deeper": {"__proto__": null}}]`,
  ];

  it("the coordinator refuses a transaction with a prototype key anywhere, with 400, and logs nothing", async function () {
    const before = await loggedCount(cluster);
    for (const plant of plants) {
      const text = `{"participants":[{"name":"bank-a","operations":[{"op":"debit","account":"${alice}","amount":"1"},${credit(plant)}]}]}`;
      const res = await raw.post<Refusable>(`${cluster.coordinator.url}/v1/transactions`, text, {
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${cluster.secrets.apiKey}`,
        },
        transformRequest: [(d: unknown) => d],
      });
      expect(res.status, `${plant}: ${JSON.stringify(res.data)}`).to.equal(400);
      expect(res.data.error?.message).to.match(/is not allowed/);
    }
    expect(await loggedCount(cluster)).to.equal(before);
  });

  it("a participant refuses them on every 2PC route and inside a batch message body, exactly as on the message's own route", async function () {
    const start = await snapshot(cluster);
    for (const plant of plants) {
      const txid = newTxid();
      const prepare = await signed2pc(
        "bank-a",
        `/v1/2pc/${txid}/one-phase`,
        `{"operations":[${credit(plant)}]}`,
      );
      expect(prepare.status, plant).to.equal(400);
      const abort = await signed2pc("bank-a", `/v1/2pc/${txid}/abort`, `{${plant.slice(1)}}`);
      expect(abort.status, plant).to.equal(400);
      const batch = await signed2pc(
        "bank-a",
        "/v1/2pc/batch",
        `{"messages":[{"txid":"${txid}","action":"abort","body":{${plant.slice(1)}}}]}`,
      );
      expect(batch.status, plant).to.equal(400);
      // Nothing ran: no tombstone, no journal entry for the txid.
      const status = await http.get(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}`);
      expect(status.data).to.deep.include({ prepared: false, outcome: null, journal: null });
    }
    const end = await snapshot(cluster);
    expect(end.total).to.equal(start.total);
    expect(end.ledgerEntries).to.equal(start.ledgerEntries);
    expect(await preparedLeft(cluster)).to.equal(0);
  });

  it("the bank's own routes refuse them too, and a value spelled like a forbidden key is fine", async function () {
    const auth = { authorization: `Bearer ${adminSecretOf(cluster, "bank-a")}` };
    const id = uniqueAccount("proto");
    const refused = await raw.post(
      `${bankUrl(cluster, "bank-a")}/v1/accounts`,
      `{"id":"${id}","balance":"5","__proto__":{"balance":"9"}}`,
      {
        headers: { "content-type": "application/json", ...auth },
        transformRequest: [(d: unknown) => d],
      },
    );
    expect(refused.status).to.equal(400);
    expect((await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/${id}`)).status).to.equal(
      404,
    );
    // Nor can the key hide in another encoding of the same JSON.
    const utf16 = await raw.post(
      `${bankUrl(cluster, "bank-a")}/v1/accounts`,
      Buffer.from(`{"id":"${id}","balance":"5","__proto__":{}}`, "utf16le"),
      {
        headers: { "content-type": "application/json; charset=utf-16le", ...auth },
      },
    );
    expect(utf16.status).to.equal(415);
    expect((await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/${id}`)).status).to.equal(
      404,
    );
    // Only keys are refused: an account may be called "constructor".
    const name = `constructor-${process.pid}`;
    const ok = await http.post(
      `${bankUrl(cluster, "bank-a")}/v1/accounts`,
      { id: name, balance: "0" },
      { headers: auth },
    );
    expect([201, 409]).to.include(ok.status);
  });

  it("compressed bodies are refused with 415 at every service, before any route runs", async function () {
    const text = JSON.stringify({ participants: [] });
    const gz = gzipSync(text);
    const client = await raw.post(`${cluster.coordinator.url}/v1/transactions`, gz, {
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
        authorization: `Bearer ${cluster.secrets.apiKey}`,
      },
    });
    expect(client.status).to.equal(415);
    const path = `/v1/2pc/${newTxid()}/abort`;
    const body = gzipSync("{}");
    const res = await raw.post(`${bankUrl(cluster, "bank-a")}${path}`, body, {
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    });
    expect(res.status).to.equal(415);
    expect(
      (
        await http.get<ParticipantStatus>(
          `${bankUrl(cluster, "bank-a")}${path.replace(/\/abort$/, "")}`,
        )
      ).data.outcome,
    ).to.equal(null);
  });

  it("a signature covers Content-Type: the same signed request relabelled is refused", async function () {
    const path = `/v1/2pc/${newTxid()}/abort`;
    const sign = coordinatorSigner("bank-a");
    const relabelled = await raw.post<Refusable>(`${bankUrl(cluster, "bank-a")}${path}`, "{}", {
      headers: {
        "content-type": "application/json; charset=utf-8",
        ...sign("POST", path, "{}", "application/json"),
      },
      transformRequest: [(d: unknown) => d],
    });
    expect(relabelled.status).to.equal(401);
    expect(relabelled.data.error?.message).to.match(/does not match/);
    const honest = await signed2pc("bank-a", path, "{}");
    expect(honest.status).to.equal(200);
  });
});
