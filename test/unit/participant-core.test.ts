/**
 * Runs every script in test/unit/participant-scripts/: the participant core's specification
 * (see test/support/participant-script.ts for the format). A script fails at its first block
 * whose output differs, naming the file and line. Beside the scripts, every path of every
 * message is walked once more here to check that each ends, within a few steps, in an answer, a
 * refusal or an invariant error.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { parseScript, pathEnds, rewriteScript, runCommand } from "../support/participant-script.js";

const SCRIPTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../test/unit/participant-scripts",
);
const REWRITE = process.env.CONCORD_REWRITE_SCRIPTS === "1";

describe("participant core, by script (test/unit/participant-scripts)", () => {
  const files = readdirSync(SCRIPTS)
    .filter((f) => f.endsWith(".txt"))
    .sort();

  it("has scripts to run", () => {
    expect(files.length).to.be.greaterThan(0);
  });

  for (const file of files) {
    it(
      file
        .replace(/\.txt$/, "")
        .replace(/^\d+-/, "")
        .replaceAll("-", " "),
      () => {
        const path = join(SCRIPTS, file);
        const text = readFileSync(path, "utf8");
        const blocks = parseScript(text);
        const outputs = blocks.map((b) => runCommand(b.command));
        if (REWRITE) {
          writeFileSync(path, rewriteScript(text, outputs));
          return;
        }
        blocks.forEach((block, i) => {
          expect(outputs[i], `${file}:${block.line}: ${block.command}`).to.equal(block.expected);
        });
      },
    );
  }

  for (const message of ["prepare", "one-phase", "commit", "abort", "peer-inquiry"]) {
    it(`every path of ${message} ends in an answer, a refusal or an invariant error`, () => {
      const ends = pathEnds(message);
      expect(ends.length).to.be.greaterThan(1);
      for (const end of ends)
        expect(end).to.match(/^(answer|refuse) |^error: participant invariant/);
    });
  }
});
