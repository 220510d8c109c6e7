/**
 * scripts/build-if-changed.mjs: the decision whether the npm scripts build first. Tested on a
 * scratch folder shaped like the project, through the decision function (never by wall time).
 */
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface Fingerprint {
  newestMtimeMs: number;
  files: number;
  list: string;
}
interface BuildIfChanged {
  fingerprint(root: string): Fingerprint;
  buildDecision(root: string, now?: Fingerprint): { build: boolean; why: string };
  writeStamp(root: string, print: Fingerprint): void;
}

// The script is plain JavaScript beside the sources (it runs before anything is compiled):
// dist/test/unit -> the project's root.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

describe("build-if-changed: builds only when a source changed", function () {
  let m: BuildIfChanged;
  let root: string;

  before(async function () {
    const url = pathToFileURL(join(ROOT, "scripts", "build-if-changed.mjs")).href;
    m = (await import(url)) as BuildIfChanged;
  });

  beforeEach(function () {
    root = mkdtempSync(join(tmpdir(), "concord-build-stamp-"));
    for (const dir of ["coordinator", "shared/lua", "scripts", "test", "dist"])
      mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, "coordinator", "main.ts"), "export {};\n");
    writeFileSync(join(root, "shared", "lua", "begin-4.lua"), "return 1\n");
    writeFileSync(join(root, "tsconfig.json"), "{}\n");
    writeFileSync(join(root, "package.json"), "{}\n");
    // As after a build: every source a little in the past, then the stamp.
    const past = new Date(Date.now() - 60_000);
    for (const f of [
      "coordinator/main.ts",
      "shared/lua/begin-4.lua",
      "tsconfig.json",
      "package.json",
    ])
      utimesSync(join(root, f), past, past);
    m.writeStamp(root, m.fingerprint(root));
  });

  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
  });

  it("does not build when nothing changed", function () {
    expect(m.buildDecision(root).build).to.equal(false);
    expect(m.buildDecision(root).build, "asked twice").to.equal(false);
  });

  it("builds when a source file, an asset or the configuration changed", function () {
    const base = Date.now();
    for (const [i, f] of [
      "coordinator/main.ts",
      "shared/lua/begin-4.lua",
      "tsconfig.json",
      "package.json",
    ].entries()) {
      m.writeStamp(root, m.fingerprint(root));
      // Each change later than the one before, by whole seconds: two iterations can fall in the
      // same millisecond, and a time equal to the stamp's newest is no change.
      const later = new Date(base + 5_000 * (i + 1));
      utimesSync(join(root, f), later, later);
      const decision = m.buildDecision(root);
      expect(decision, f).to.deep.equal({ build: true, why: "a source file changed" });
    }
  });

  it("builds when a source file is added or removed, whatever its time", function () {
    const added = join(root, "scripts", "new.ts");
    writeFileSync(added, "export {};\n");
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(added, old, old);
    expect(m.buildDecision(root).build, "added").to.equal(true);
    m.writeStamp(root, m.fingerprint(root));
    unlinkSync(added);
    expect(m.buildDecision(root).build, "removed").to.equal(true);
  });

  it("builds when dist or the stamp is missing; editor and dot files do not count", function () {
    writeFileSync(join(root, "coordinator", ".main.ts.swp"), "x");
    writeFileSync(join(root, "coordinator", "main.ts~"), "x");
    expect(m.buildDecision(root).build, "editor files").to.equal(false);
    rmSync(join(root, "dist", ".build-stamp.json"));
    expect(m.buildDecision(root).build, "no stamp").to.equal(true);
    rmSync(join(root, "dist"), { recursive: true });
    expect(m.buildDecision(root)).to.deep.equal({ build: true, why: "dist is missing" });
  });
});
