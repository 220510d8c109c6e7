/**
 * The operator role: its own secret, accepted only where a route names operators, and refused at
 * start-up when it equals the admin secret or a client's API key (one holder, two roles).
 */
import { expect } from "chai";
import type { Request } from "express";
import { Authenticator } from "../../shared/auth.js";
import { coordinatorEnvSchema, loadConfig, participantEnvSchema } from "../../shared/config.js";
import { ForbiddenError, UnauthorizedError } from "../../shared/errors.js";

const OPERATOR = "o".repeat(40);
const ADMIN = "a".repeat(40);
const KEY = "k".repeat(40);

function bearer(token: string): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  return { header: (name: string) => headers[name.toLowerCase()] } as unknown as Request;
}

describe("operator role", () => {
  const auth = new Authenticator({
    audience: "coordinator",
    apiKeys: new Map([["client-1", KEY]]),
    adminSecret: ADMIN,
    operatorSecret: OPERATOR,
  });

  it("takes the operator secret on an operator route and names the caller operator", () => {
    expect(auth.authenticate(bearer(OPERATOR), ["operator"])).to.deep.equal({
      kind: "operator",
      id: "operator",
    });
  });

  it("refuses the operator secret on an admin or client route with 403 naming the secret", () => {
    expect(() => auth.authenticate(bearer(OPERATOR), ["admin"]))
      .to.throw(ForbiddenError)
      .with.property("message")
      .that.matches(/the operator secret cannot call this route/);
    expect(() => auth.authenticate(bearer(OPERATOR), ["client"])).to.throw(ForbiddenError);
  });

  it("refuses the admin secret and an API key on an operator route", () => {
    expect(() => auth.authenticate(bearer(ADMIN), ["operator"])).to.throw(ForbiddenError);
    expect(() => auth.authenticate(bearer(KEY), ["operator"])).to.throw(ForbiddenError);
    expect(() => auth.authenticate(bearer("x".repeat(40)), ["operator"])).to.throw(
      UnauthorizedError,
    );
  });

  const coordinatorEnv = {
    CONCORD_PARTICIPANTS: "bank-a=http://127.0.0.1:7101",
    CONCORD_PARTICIPANT_SECRETS: `bank-a=${"s".repeat(40)}`,
    CONCORD_API_KEYS: `client-1=${KEY}`,
    CONCORD_ADMIN_SECRET: ADMIN,
  };

  it("starts a coordinator whose operator secret is its own", () => {
    const config = loadConfig(coordinatorEnvSchema, {
      ...coordinatorEnv,
      CONCORD_OPERATOR_SECRET: OPERATOR,
    });
    expect(config.CONCORD_OPERATOR_SECRET).to.equal(OPERATOR);
  });

  it("refuses an operator secret equal to the admin secret or an API key, without echoing it", () => {
    for (const [same, words] of [
      [ADMIN, /must differ from CONCORD_ADMIN_SECRET/],
      [KEY, /must differ from every client API key/],
    ] as const) {
      let message = "";
      try {
        loadConfig(coordinatorEnvSchema, { ...coordinatorEnv, CONCORD_OPERATOR_SECRET: same });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).to.match(words);
      expect(message).not.to.include(same);
    }
  });

  it("refuses a short operator secret at a participant", () => {
    expect(() =>
      loadConfig(participantEnvSchema, {
        CONCORD_PARTICIPANT_NAME: "bank-a",
        CONCORD_DATABASE_URL: "postgres://127.0.0.1/bank",
        CONCORD_PARTICIPANT_SECRET: "s".repeat(40),
        CONCORD_OPERATOR_SECRET: "short",
      }),
    ).to.throw(/CONCORD_OPERATOR_SECRET/);
  });
});
