/**
 * The README's runnable examples: each ```sh block right after a `<!-- readme-example: NAME -->`
 * line, run as written with bash from the repository's folder, against a cluster named by the
 * CLUSTER variable the examples read (their default is the cluster a user would have).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function readmeExample(name: string): string {
  const readme = readFileSync(join(process.cwd(), "README.md"), "utf8");
  const marker = `<!-- readme-example: ${name} -->\n\`\`\`sh\n`;
  const start = readme.indexOf(marker);
  if (start < 0) throw new Error(`README.md has no example named ${name}`);
  const end = readme.indexOf("\n```", start + marker.length);
  return readme.slice(start + marker.length, end + 1);
}

/**
 * Runs an example with `set -euo pipefail`; returns its exit code and output. `env` adds to the
 * little environment it gets (curl-log.ts puts its recording curl first in PATH).
 */
export function runReadmeExample(
  name: string,
  clusterFile: string,
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", readmeExample(name)], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      CLUSTER: clusterFile,
      ...env,
    },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
