/**
 * Runs every script in test/unit/protocol-scripts/: the protocol core's specification, one file
 * per part (see test/support/protocol-script.ts for the format). A script fails at its first
 * block whose output differs, naming the file and line.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { parseScript, rewriteScript, ScriptRunner } from "../support/protocol-script.js";

// The scripts stay in the source tree (the build copies no data): from dist/test/unit, go up.
const SCRIPTS = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../test/unit/protocol-scripts",
);
const REWRITE = process.env.CONCORD_REWRITE_SCRIPTS === "1";

describe("protocol core, by script (test/unit/protocol-scripts)", () => {
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
        const runner = new ScriptRunner();
        const blocks = parseScript(text);
        const outputs = blocks.map((b) => runner.run(b.command));
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
});
