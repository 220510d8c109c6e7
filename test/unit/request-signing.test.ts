import { expect } from "chai";
import {
  ReplayGuard,
  signRequest,
  verifyRequest,
  type VerifyInput,
} from "../../shared/request-signing.js";

describe("request signing (HMAC between services)", () => {
  const secrets: Record<string, string> = { coordinator: "s3cret-for-bank-a" };
  const now = 1_795_000_000_000;
  const request = {
    method: "POST",
    path: "/v1/2pc/01a201ac-432e-753f-b6a0-57a73b13a112/commit",
    body: "{}",
    audience: "bank-a",
  };
  const sign = (over: Partial<Parameters<typeof signRequest>[0]> = {}) =>
    signRequest({
      secret: "s3cret-for-bank-a",
      keyId: "coordinator",
      nowMs: now,
      ...request,
      ...over,
    });
  const verify = (header: string, over: Partial<VerifyInput> = {}) =>
    verifyRequest({
      header,
      secretFor: (k) => secrets[k],
      replay: new ReplayGuard(),
      nowMs: now,
      ...request,
      ...over,
    });

  it("accepts a request signed with the right secret for this audience", () => {
    expect(verify(sign())).to.deep.equal({ ok: true, keyId: "coordinator" });
  });

  it("rejects a changed body, method, path or audience", () => {
    const header = sign();
    expect(verify(header, { body: '{"x":1}' }).ok).to.equal(false);
    expect(verify(header, { method: "GET" }).ok).to.equal(false);
    expect(
      verify(header, { path: "/v1/2pc/01a201ac-432e-753f-b6a0-57a73b13a112/abort" }).ok,
    ).to.equal(false);
    // Signed for bank-a, presented to bank-b (even were their secrets equal).
    expect(verify(header, { audience: "bank-b" })).to.deep.equal({
      ok: false,
      reason: "signature does not match",
    });
  });

  it("rejects a wrong secret, an unknown key and a missing or malformed header", () => {
    expect(verify(sign({ secret: "guess" })).ok).to.equal(false);
    expect(verify(sign({ keyId: "bank-b" }))).to.deep.equal({
      ok: false,
      reason: "key bank-b is not accepted here",
    });
    expect(verify("")).to.deep.equal({ ok: false, reason: "missing concord-signature header" });
    expect(verify("v1;key=coordinator;ts=1;nonce=x;sig=y").ok).to.equal(false);
    expect(verify(`${sign()};extra=1`).ok).to.equal(false);
  });

  it("rejects a signature older or newer than the window", () => {
    expect(verify(sign({ nowMs: now - 31_000 })).ok).to.equal(false);
    expect(verify(sign({ nowMs: now + 31_000 })).ok).to.equal(false);
    expect(verify(sign({ nowMs: now - 29_000 })).ok).to.equal(true);
  });

  it("accepts each signed request once: a replay inside the window is refused", () => {
    const replay = new ReplayGuard();
    const header = sign();
    expect(verify(header, { replay }).ok).to.equal(true);
    expect(verify(header, { replay })).to.deep.equal({
      ok: false,
      reason: "signature already used (replay)",
    });
    // A fresh signature of the same request is a new request.
    expect(verify(sign(), { replay }).ok).to.equal(true);
  });

  it("does not let an invalid signature use up a nonce", () => {
    const replay = new ReplayGuard();
    const nonce = "0123456789abcdef0123456789abcdef";
    expect(verify(sign({ nonce, secret: "guess" }), { replay }).ok).to.equal(false);
    expect(verify(sign({ nonce }), { replay }).ok).to.equal(true);
  });

  it("forgets nonces once the timestamp check alone rejects them, and stays bounded", () => {
    const replay = new ReplayGuard(1000, 2);
    expect(replay.admit("a", 0)).to.equal(true);
    expect(replay.admit("b", 10)).to.equal(true);
    expect(replay.admit("c", 20)).to.equal(false); // full
    expect(replay.admit("c", 2500)).to.equal(true); // a and b aged out
    expect(replay.admit("c", 2600)).to.equal(false);
  });
});
