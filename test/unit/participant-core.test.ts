/**
 * Runs every script in test/unit/participant-scripts/: the participant core's specification
 * (see test/support/participant-script.ts for the format). A script fails at its first block
 * whose output differs, naming the file and line. Beside the scripts, every path of every
 * message is walked once more here to check that each ends, within a few steps, in an answer, a
 * refusal or an invariant error.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { pathEnds, runCommand } from "../support/participant-script.js";
import { itEachScript } from "../support/protocol-script.js";

const SCRIPTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../test/unit/participant-scripts",
);

describe("participant core, by script (test/unit/participant-scripts)", () => {
  // Output lines keep their indentation: the path trees nest by it.
  itEachScript(SCRIPTS, (blocks) => blocks.map((b) => runCommand(b.command)), true);

  for (const message of ["prepare", "one-phase", "commit", "abort", "peer-inquiry"]) {
    it(`every path of ${message} ends in an answer, a refusal or an invariant error`, () => {
      const ends = pathEnds(message);
      expect(ends.length).to.be.greaterThan(1);
      for (const end of ends)
        expect(end).to.match(/^(answer|refuse) |^error: participant invariant/);
    });
  }
});
