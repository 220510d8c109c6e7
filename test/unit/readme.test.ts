import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { coordinatorEnvSchema, participantEnvSchema } from "../../shared/config.js";
import { withRouteTable } from "../../scripts/route-table.js";

/** The README is the first thing a new user reads: it must not drift from the code. */
describe("README", () => {
  const readme = readFileSync(join(process.cwd(), "README.md"), "utf8");
  const scripts = (
    JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    }
  ).scripts;

  it("documents every configuration variable of the coordinator and the participant", () => {
    const keys = [
      ...Object.keys(coordinatorEnvSchema.shape),
      ...Object.keys(participantEnvSchema.shape),
    ];
    const missing = [...new Set(keys)].filter((k) => !readme.includes(`\`${k}\``));
    expect(missing).to.deep.equal([]);
  });

  it("names only npm scripts that exist", () => {
    const named = [...readme.matchAll(/npm (?:run ([a-z:-]+)|(test))\b/g)].map(
      (m) => m[1] ?? m[2] ?? "",
    );
    expect(named.length).to.be.greaterThan(0);
    expect(named.filter((n) => n !== "test" && !scripts[n])).to.deep.equal([]);
    expect(scripts.test).to.be.a("string");
    expect(scripts.demo).to.be.a("string");
  });

  it("shows the route table generated from the routes the services mount (npm run routes -- --write)", () => {
    expect(
      withRouteTable(readme) === readme,
      "README.md's route table is out of date: run npm run routes -- --write",
    ).to.equal(true);
  });
});
