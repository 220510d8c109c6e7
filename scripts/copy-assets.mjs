// tsc copies only TypeScript output; the Lua scripts of the durable log (with their includes,
// shared/lua/includes), the SQL the local cluster runs to create each bank's database and
// role, and the web console's HTML and CSS (its scripts are compiled by tsc), ship beside it. The output folder is dist unless given: `node scripts/copy-assets.mjs
// <outDir>` matches `tsc --outDir <outDir>`.
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";

const outDir = process.argv[2] ?? "dist";
// Copied afresh, so that a script renamed or deleted in the sources is gone from the build too.
for (const dir of ["shared/lua", "scripts/postgres", "coordinator/console/static"]) {
  rmSync(join(outDir, dir), { recursive: true, force: true });
  cpSync(dir, join(outDir, dir), { recursive: true });
}
