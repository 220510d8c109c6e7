/**
 * Runs every script in test/unit/protocol-scripts/: the protocol core's specification, one file
 * per part (see test/support/protocol-script.ts for the format). A script fails at its first
 * block whose output differs, naming the file and line.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { itEachScript, ScriptRunner } from "../support/protocol-script.js";

// The scripts stay in the source tree (the build copies no data): from dist/test/unit, go up.
const SCRIPTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../test/unit/protocol-scripts",
);

describe("protocol core, by script (test/unit/protocol-scripts)", () => {
  itEachScript(SCRIPTS, (blocks) => {
    // One runner per file: a script's blocks build on each other.
    const runner = new ScriptRunner();
    return blocks.map((b) => runner.run(b.command));
  });
});
