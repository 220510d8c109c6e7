/**
 * A participant's isolation settings at start-up: its default and floor parse as levels, and a
 * default below the floor stops the start with a message naming both variables (it would refuse
 * every request that names no level).
 */
import { expect } from "chai";
import { isolationProblems, loadConfig, participantEnvSchema } from "../../shared/config.js";

const BASE = {
  CONCORD_PARTICIPANT_NAME: "bank-a",
  CONCORD_DATABASE_URL: "postgres://127.0.0.1/bank",
  CONCORD_PARTICIPANT_SECRET: "s".repeat(40),
};
const load = (env: Record<string, string>) =>
  loadConfig(participantEnvSchema, { ...BASE, ...env }, isolationProblems);

describe("isolation settings of a participant", () => {
  it("defaults to read-committed with no floor above it", () => {
    const config = load({});
    expect(config.CONCORD_ISOLATION_DEFAULT).to.equal("read-committed");
    expect(config.CONCORD_ISOLATION_FLOOR).to.equal("read-committed");
  });

  it("takes a default at or above its floor", () => {
    const config = load({
      CONCORD_ISOLATION_DEFAULT: "serializable",
      CONCORD_ISOLATION_FLOOR: "repeatable-read",
    });
    expect(config.CONCORD_ISOLATION_DEFAULT).to.equal("serializable");
  });

  it("refuses a default below the floor, naming both variables", () => {
    expect(() => load({ CONCORD_ISOLATION_FLOOR: "repeatable-read" })).to.throw(
      /CONCORD_ISOLATION_DEFAULT: read-committed is below CONCORD_ISOLATION_FLOOR \(repeatable-read\)/,
    );
  });

  it("refuses a level PostgreSQL does not run, naming the variable", () => {
    expect(() => load({ CONCORD_ISOLATION_FLOOR: "snapshot" })).to.throw(
      /CONCORD_ISOLATION_FLOOR: must be one of read-committed, repeatable-read, serializable/,
    );
  });
});
