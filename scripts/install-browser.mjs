// Installs the browser the web console's test drives: Debian's chromium at /usr/bin/chromium,
// through apt-get (npm's browser downloads, e.g. `playwright install`, cannot be reached from
// the closed networks Concord is built on). Nothing is done when it is there already. Needs
// root and apt-get; says so, and what to run instead, when either is missing.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";

function fail(message) {
  process.stderr.write(`install-browser: ${message}\n`);
  process.exit(1);
}

if (existsSync(CHROMIUM)) {
  process.stdout.write(`install-browser: ${CHROMIUM} is installed\n`);
  process.exit(0);
}
if (process.platform !== "linux") fail(`install a Chromium at ${CHROMIUM} by hand (not Linux)`);
const aptGet = ["/usr/bin/apt-get", "/bin/apt-get"].find((p) => existsSync(p));
if (!aptGet)
  fail(`no apt-get here: install Debian's or your system's chromium so that ${CHROMIUM} exists`);
if (typeof process.getuid === "function" && process.getuid() !== 0)
  fail(
    `apt-get needs root: run \`sudo node scripts/install-browser.mjs\` (or \`sudo apt-get install -y chromium\`)`,
  );
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
try {
  execFileSync(aptGet, ["update"], { stdio: "inherit", env });
  execFileSync(aptGet, ["install", "-y", "--no-install-recommends", "chromium"], {
    stdio: "inherit",
    env,
  });
} catch (err) {
  fail(`apt-get failed (${err instanceof Error ? err.message : String(err)})`);
}
if (!existsSync(CHROMIUM)) fail(`apt-get installed chromium, but ${CHROMIUM} is not there`);
process.stdout.write(`install-browser: installed ${CHROMIUM}\n`);
