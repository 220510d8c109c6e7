import { expect } from "chai";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  DEFAULT_SIGNATURE_WINDOW_MS,
  ReplayGuard,
  SIGNATURE_HEADER,
  signRequest,
  verifyRequest,
} from "../../shared/request-signing.js";
import { PARTICIPANT_ROUTES } from "../../participant/framework/routes.js";
import { voteSchema } from "../../shared/messages.js";
import type { RouteSpec } from "../../shared/routes.js";

/**
 * docs/wire-protocol.md gives test vectors for implementers in other languages. They are read
 * from the document here, so the document cannot drift from shared/request-signing.ts.
 */
const DOC_URL = new URL("../../../docs/wire-protocol.md", import.meta.url);

interface Vector {
  name: string;
  secret: string;
  keyId: string;
  audience: string;
  method: string;
  path: string;
  contentType: string;
  contentEncoding: string;
  ts: string;
  nonce: string;
  body: string;
  bodySha256: string;
  signature: string;
  header: string;
  /** The canonical string as the document shows it. */
  canonical: string;
}

/** The text of the ```text block right after `<!-- <kind>: <name> -->`. */
function blockAfter(doc: string, marker: string): string {
  const at = doc.indexOf(marker);
  if (at < 0) throw new Error(`docs/wire-protocol.md has no ${marker}`);
  const open = doc.indexOf("```text\n", at);
  const close = doc.indexOf("\n```", open + 8);
  if (open < 0 || close < 0) throw new Error(`no text block after ${marker}`);
  return doc.slice(open + "```text\n".length, close);
}

/** `label: value` lines; `(empty)` is the empty string. Values keep everything after the blanks. */
function fields(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    const value = line.slice(colon + 1).replace(/^ +/, "");
    map.set(line.slice(0, colon), value === "(empty)" ? "" : value);
  }
  return map;
}

function readVectors(doc: string): Vector[] {
  const names = [...doc.matchAll(/<!-- signature-vector: ([a-z-]+) -->/g)].map((m) => m[1] ?? "");
  return names.map((name) => {
    const f = fields(blockAfter(doc, `<!-- signature-vector: ${name} -->`));
    const get = (label: string): string => {
      const value = f.get(label);
      if (value === undefined) throw new Error(`vector ${name} has no "${label}:" line`);
      return value;
    };
    return {
      name,
      secret: get("secret"),
      keyId: get("key id"),
      audience: get("audience"),
      method: get("method"),
      path: get("path"),
      contentType: get("content-type"),
      contentEncoding: get("content-encoding"),
      ts: get("timestamp"),
      nonce: get("nonce"),
      body: get("body"),
      bodySha256: get("body sha-256"),
      signature: get("signature"),
      header: get("header"),
      canonical: blockAfter(doc, `<!-- signature-canonical: ${name} -->`),
    };
  });
}

describe("the signature test vectors of docs/wire-protocol.md", () => {
  const doc = readFileSync(DOC_URL, "utf8");
  const vectors = readVectors(doc);

  it("gives a vector with a body and one without", () => {
    expect(vectors.map((v) => v.name)).to.deep.equal(["prepare", "decision-inquiry"]);
    expect(vectors.map((v) => v.body === "")).to.deep.equal([false, true]);
  });

  it("names the header and the clock window the code uses", () => {
    expect(doc).to.include("Concord-Signature: v2;key=");
    expect("Concord-Signature".toLowerCase()).to.equal(SIGNATURE_HEADER);
    expect(DEFAULT_SIGNATURE_WINDOW_MS).to.equal(30_000);
    expect(doc).to.include("**30 000 ms**");
  });

  for (const name of ["prepare", "decision-inquiry"]) {
    describe(`vector ${name}`, () => {
      const vector = (): Vector => {
        const v = vectors.find((x) => x.name === name);
        if (!v) throw new Error(`no vector ${name}`);
        return v;
      };
      const request = (v: Vector) => ({
        audience: v.audience,
        method: v.method,
        path: v.path,
        body: v.body,
        contentType: v.contentType,
        contentEncoding: v.contentEncoding,
      });
      const verify = (v: Vector, over: { nowMs?: number; replay?: ReplayGuard } = {}) =>
        verifyRequest({
          header: v.header,
          secretFor: (keyId) => (keyId === v.keyId ? v.secret : undefined),
          replay: over.replay ?? new ReplayGuard(),
          nowMs: over.nowMs ?? Number(v.ts),
          ...request(v),
        });

      it("its body hash is the SHA-256 of the body's bytes", () => {
        const v = vector();
        expect(createHash("sha256").update(v.body, "utf8").digest("hex")).to.equal(v.bodySha256);
      });

      it("its canonical string follows the document's ten-field rule", () => {
        const v = vector();
        const rebuilt = [
          "concord-v2",
          v.audience,
          v.keyId,
          v.method.toUpperCase(),
          v.path,
          v.contentType.trim().toLowerCase(),
          v.contentEncoding.trim().toLowerCase(),
          v.ts,
          v.nonce,
          v.bodySha256,
        ].join("\n");
        expect(v.canonical).to.equal(rebuilt);
      });

      it("its signature is the HMAC-SHA256 of the canonical string, base64url, key = the secret's UTF-8", () => {
        const v = vector();
        const sig = createHmac("sha256", Buffer.from(v.secret, "utf8"))
          .update(v.canonical, "utf8")
          .digest("base64url");
        expect(sig).to.equal(v.signature);
        expect(v.header).to.equal(
          `v2;key=${v.keyId};ts=${v.ts};nonce=${v.nonce};sig=${v.signature}`,
        );
      });

      it("shared/request-signing.ts signs the request to exactly the document's header", () => {
        const v = vector();
        const header = signRequest({
          secret: v.secret,
          keyId: v.keyId,
          nowMs: Number(v.ts),
          nonce: v.nonce,
          ...request(v),
        });
        expect(header).to.equal(v.header);
      });

      it("the verifier accepts it once at its timestamp, and refuses a replay", () => {
        const v = vector();
        const replay = new ReplayGuard();
        expect(verify(v, { replay })).to.deep.equal({ ok: true, keyId: v.keyId });
        expect(verify(v, { replay })).to.deep.equal({
          ok: false,
          reason: "signature already used (replay)",
        });
      });

      it("the verifier takes a clock up to 30 000 ms away either way, and no further", () => {
        const v = vector();
        const ts = Number(v.ts);
        for (const nowMs of [ts - 30_000, ts + 30_000])
          expect(verify(v, { nowMs }).ok, String(nowMs - ts)).to.equal(true);
        for (const nowMs of [ts - 30_001, ts + 30_001])
          expect(verify(v, { nowMs }).ok, String(nowMs - ts)).to.equal(false);
      });

      it("the verifier refuses it for any other audience, method, path, body or Content-Type", () => {
        const v = vector();
        const changed = [
          { audience: `${v.audience}x` },
          { method: v.method === "GET" ? "POST" : "GET" },
          { path: `${v.path}?x=1` },
          { body: `${v.body} ` },
          { contentType: v.contentType === "" ? "application/json" : "text/plain" },
        ];
        for (const over of changed) {
          const result = verifyRequest({
            header: v.header,
            secretFor: (keyId) => (keyId === v.keyId ? v.secret : undefined),
            replay: new ReplayGuard(),
            nowMs: Number(v.ts),
            ...request(v),
            ...over,
          });
          expect(result, JSON.stringify(over)).to.deep.equal({
            ok: false,
            reason: "signature does not match",
          });
        }
      });
    });
  }
});

describe("docs/wire-protocol.md against the participant's code", () => {
  const doc = readFileSync(DOC_URL, "utf8");

  it("names every route the participant framework mounts", () => {
    const routes = Object.values(PARTICIPANT_ROUTES as Record<string, RouteSpec>)
      // The invariants are the operators' business, not the protocol's.
      .filter((r) => r.path !== "/v1/invariants")
      .map((r) => `${r.method} ${r.path}`);
    expect(routes.filter((r) => !doc.includes(`\`${r}\``))).to.deep.equal([]);
    expect(doc).to.include("`GET /v1/descriptor`");
  });

  it("explains every vote", () => {
    expect(voteSchema.options.filter((v) => !doc.includes(`| \`${v}\` |`))).to.deep.equal([]);
  });
});
