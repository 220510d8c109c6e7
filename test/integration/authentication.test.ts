import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import {
  account,
  allSecrets,
  bankUrl,
  http,
  loggedCount,
  peerSigner,
  raw,
  transferBody,
} from "../support/bank-client.js";
import type { ParticipantStatus, PrepareAnswer, Refusable } from "../support/answers.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

/** Who may call what: every refused request gets 401 and changes nothing. */
describe("authentication: API keys for clients, HMAC signatures between services", function () {
  const ctx = usePairPerTest();

  const coordinator = () => ctx.cluster.coordinator.url;
  const logged = () => loggedCount(ctx.cluster);
  /** Signs as the coordinator would for `bank`, with `secretOf` that bank's secret unless told otherwise. */
  const signedAs = (
    bank: string,
    p: { secretOf?: string; keyId?: string; audience?: string } = {},
  ) =>
    signerFor({
      secret: ctx.cluster.secrets.participantSecrets[p.secretOf ?? bank] ?? "",
      keyId: p.keyId ?? "coordinator",
      audience: p.audience ?? bank,
    });
  /** Sends a POST to a participant exactly as signed (the body string is what was signed). */
  const postSigned = (bank: string, path: string, body: unknown, sign = signedAs(bank)) => {
    const text = JSON.stringify(body);
    return raw.post<PrepareAnswer>(`${bankUrl(ctx.cluster, bank)}${path}`, text, {
      headers: {
        "content-type": "application/json",
        ...sign("POST", path, text, "application/json"),
      },
    });
  };
  const statusAt = async (bank: string, txid: string) =>
    (await http.get<ParticipantStatus>(`${bankUrl(ctx.cluster, bank)}/v1/2pc/${txid}`)).data;

  it("the transaction API refuses a request without an API key, or with a wrong one, and logs nothing", async function () {
    const { cluster, alice, bob } = ctx;
    const before = await logged();
    const body = transferBody({
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 10,
    });
    const none = await raw.post<Refusable>(`${coordinator()}/v1/transactions`, body);
    expect(none.status).to.equal(401);
    expect(none.data.error?.message).to.match(/API key/);
    const wrong = await raw.post(`${coordinator()}/v1/transactions`, body, {
      headers: { authorization: "Bearer not-the-key-not-the-key-not-the-key" },
    });
    expect(wrong.status).to.equal(401);
    expect((await raw.get(`${coordinator()}/v1/transactions?limit=5`)).status).to.equal(401);
    expect(await logged()).to.equal(before);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("health endpoints stay open", async function () {
    const { cluster } = ctx;
    expect((await raw.get(`${coordinator()}/healthz`)).status).to.equal(200);
    expect((await raw.get(`${bankUrl(cluster, "bank-a")}/healthz`)).status).to.equal(200);
  });

  it("a participant refuses unsigned, wrongly signed and misaddressed 2PC requests with 401, and prepares nothing", async function () {
    const { cluster, alice } = ctx;
    const txid = newTxid();
    const path = `/v1/2pc/${txid}/prepare`;
    const body = { operations: [{ op: "debit", account: alice, amount: "100" }] };
    const unsigned = await raw.post<Refusable>(`${bankUrl(cluster, "bank-a")}${path}`, body);
    expect(unsigned.status).to.equal(401);
    expect(unsigned.data.error?.message).to.match(/signature/);
    // Signed with bank-b's secret, or for bank-b, and sent to bank-a.
    expect(
      (await postSigned("bank-a", path, body, signedAs("bank-a", { secretOf: "bank-b" }))).status,
    ).to.equal(401);
    expect((await postSigned("bank-a", path, body, signedAs("bank-b"))).status).to.equal(401);
    // A peer's key on a route only the coordinator may use.
    expect(
      (await postSigned("bank-a", path, body, peerSigner(cluster, "bank-b", "bank-a"))).status,
    ).to.equal(401);
    expect(await statusAt("bank-a", txid)).to.deep.include({
      prepared: false,
      outcome: null,
      journal: null,
    });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("a captured, validly signed COMMIT sent again is refused as a replay; the money moved once", async function () {
    const { cluster, alice } = ctx;
    const txid = newTxid();
    const prepare = await postSigned("bank-a", `/v1/2pc/${txid}/prepare`, {
      operations: [{ op: "debit", account: alice, amount: "100" }],
    });
    expect(prepare.data.vote).to.equal("yes");
    const path = `/v1/2pc/${txid}/commit`;
    const text = "{}";
    const headers = {
      "content-type": "application/json",
      ...signedAs("bank-a")("POST", path, text, "application/json"),
    };
    const first = await raw.post(`${bankUrl(cluster, "bank-a")}${path}`, text, { headers });
    expect(first.status).to.equal(200);
    const again = await raw.post<Refusable>(`${bankUrl(cluster, "bank-a")}${path}`, text, {
      headers,
    });
    expect(again.status).to.equal(401);
    expect(again.data.error?.message).to.match(/replay/);
    // The same signature on a changed body or another bank is refused too.
    const elsewhere = await raw.post(`${bankUrl(cluster, "bank-b")}${path}`, text, { headers });
    expect(elsewhere.status).to.equal(401);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(900n);
  });

  it("the coordinator's decision inquiry answers only a participant's signature, and an unsigned one writes no presumed abort", async function () {
    const { cluster } = ctx;
    const txid = newTxid();
    const unsigned = await raw.get(`${coordinator()}/v1/transactions/${txid}/decision`);
    expect(unsigned.status).to.equal(401);
    // With a client API key it is still refused: only participants ask for decisions.
    const withKey = await raw.get(`${coordinator()}/v1/transactions/${txid}/decision`, {
      headers: { authorization: `Bearer ${cluster.secrets.apiKey}` },
    });
    expect(withKey.status).to.equal(403);
    expect((await http.get(`${coordinator()}/v1/transactions/${txid}`)).status).to.equal(404);
    const path = `/v1/transactions/${txid}/decision`;
    const asBank = signerFor({
      secret: cluster.secrets.participantSecrets["bank-a"] ?? "",
      keyId: "bank-a",
      audience: "coordinator",
    });
    const signed = await raw.get(`${coordinator()}${path}`, {
      headers: asBank("GET", path, "", ""),
    });
    expect(signed.status).to.equal(200);
    expect(signed.data).to.deep.equal({ txid, decision: "abort" });
  });

  it("peers may ask each other with the secret of their pair", async function () {
    const { cluster } = ctx;
    const txid = newTxid();
    const path = `/v1/2pc/${txid}/inquiry`;
    const res = await postSigned("bank-a", path, {}, peerSigner(cluster, "bank-b", "bank-a"));
    expect(res.status).to.equal(200);
    expect(res.data).to.deep.equal({ txid, decision: "abort" });
  });

  it("no secret of the cluster appears in any service's log", function () {
    const { cluster } = ctx;
    const secrets = allSecrets(cluster);
    const logs = join(cluster.dir, "logs");
    for (const file of readdirSync(logs)) {
      const text = readFileSync(join(logs, file), "utf8");
      for (const s of secrets)
        expect(text.includes(s), `${file} contains a secret`).to.equal(false);
    }
  });
});
