// Builds (exactly `npm run build`: a clean dist, tsc, the assets) only when a source changed
// since the last build this script made, or dist is missing: the npm scripts that run a built
// command (cluster, demo, verify, ...) then start in a fraction of a second instead of after a
// full build. `npm test` keeps its own full clean build.
//
// What counts as a change: the newest modification time of the sources, or their set of files
// (one added, removed or renamed), differs from the stamp written after the last successful
// build. The sources: every file under coordinator, participant, shared, scripts and test
// (TypeScript, and the assets copy-assets.mjs copies: Lua, SQL, JSON, the console's HTML and
// CSS), plus tsconfig.json and package.json. Dotfiles and editor backups are not sources.
//
// Plain JavaScript on purpose: it must run before anything is compiled.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const SOURCE_DIRS = ["coordinator", "participant", "shared", "scripts", "test"];
export const SOURCE_FILES = ["tsconfig.json", "package.json"];
export const STAMP = join("dist", ".build-stamp.json");

const ignored = (name) => name.startsWith(".") || name.endsWith("~") || name.endsWith(".swp");

/** Every source file under `dir`, as paths relative to `root`. */
function walk(root, dir, out) {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (ignored(e.name) || e.name === "node_modules") continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) walk(root, path, out);
    else if (e.isFile()) out.push(path);
  }
}

/** What the sources look like now: the newest mtime and a digest of the sorted file list. */
export function fingerprint(root) {
  const files = [];
  for (const dir of SOURCE_DIRS) walk(root, dir, files);
  for (const f of SOURCE_FILES) if (existsSync(join(root, f))) files.push(f);
  files.sort();
  let newestMtimeMs = 0;
  for (const f of files) newestMtimeMs = Math.max(newestMtimeMs, statSync(join(root, f)).mtimeMs);
  const list = createHash("sha256").update(files.join("\n")).digest("hex");
  return { newestMtimeMs, files: files.length, list };
}

/**
 * Whether `root` needs a build, and why: dist or the stamp is missing, or the sources'
 * fingerprint differs from the stamp's. `now` is the fingerprint to compare (taken once).
 */
export function buildDecision(root, now = fingerprint(root)) {
  if (!existsSync(join(root, "dist"))) return { build: true, why: "dist is missing" };
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), "utf8"));
  } catch {
    return { build: true, why: "no build stamp (dist was built another way)" };
  }
  if (stamp.list !== now.list || stamp.files !== now.files)
    return { build: true, why: "a source file was added, removed or renamed" };
  if (stamp.newestMtimeMs !== now.newestMtimeMs)
    return { build: true, why: "a source file changed" };
  return { build: false, why: "nothing changed since the last build" };
}

/** Records the fingerprint the finished build was made from. */
export function writeStamp(root, print) {
  writeFileSync(join(root, STAMP), `${JSON.stringify(print)}\n`);
}

function main() {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  // Taken before the build: a file saved while it runs makes the next run build again.
  const now = fingerprint(root);
  const decision = buildDecision(root, now);
  if (!decision.build) return 0;
  if (process.env.CONCORD_BUILD_VERBOSE === "1")
    process.stderr.write(`building: ${decision.why}\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) return r.status ?? 1;
  writeStamp(root, now);
  return 0;
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === "")
  process.exit(main());
