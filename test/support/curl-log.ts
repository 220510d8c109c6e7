/**
 * Records the curl calls a script makes (the README's examples): a `curl` first in PATH runs the
 * real one exactly as asked and keeps its arguments, the status and the body it got, so a test
 * can hold each call and its answer to the service's OpenAPI document.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CurlCall {
  method: string;
  url: string;
  headers: string[];
  /** The body sent (`-d`), as given. */
  data: string | undefined;
  status: number;
  /** The answer's body. */
  body: string;
}

export interface CurlLog {
  /** The environment to run the script with (PATH with the recording curl first). */
  env: Record<string, string>;
  /** The calls made so far, in order. */
  calls(): CurlCall[];
  remove(): void;
}

export function recordCurl(): CurlLog {
  const dir = mkdtempSync(join(tmpdir(), "concord-curl-"));
  const bin = join(dir, "bin");
  const log = join(dir, "log");
  mkdirSync(bin);
  mkdirSync(log);
  const realCurl = execFileSync("bash", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
  // The answer is written to a file and then printed, so the script sees what curl would print
  // (the examples use neither -o nor -w).
  writeFileSync(
    join(bin, "curl"),
    `#!/usr/bin/env bash
n="${log}/$(date +%s%N)-$$"
printf '%s\\0' "$@" > "$n.args"
code=$(${JSON.stringify(realCurl)} "$@" -o "$n.body" -w '%{http_code}'); rc=$?
printf '%s' "$code" > "$n.status"
cat "$n.body" 2>/dev/null
exit $rc
`,
  );
  chmodSync(join(bin, "curl"), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
    calls: () =>
      readdirSync(log)
        .filter((f) => f.endsWith(".args"))
        .sort()
        .map((f) => parseCall(join(log, f.slice(0, -".args".length)))),
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parseCall(base: string): CurlCall {
  const args = readFileSync(`${base}.args`, "utf8").split("\0").slice(0, -1);
  let method: string | undefined;
  let url = "";
  let data: string | undefined;
  const headers: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "-X" || a === "--request") method = args[++i];
    else if (a === "-H" || a === "--header") headers.push(args[++i] ?? "");
    else if (a === "-d" || a === "--data" || a === "--data-raw") data = args[++i];
    else if (!a.startsWith("-")) url = a;
  }
  return {
    method: method ?? (data === undefined ? "GET" : "POST"),
    url,
    headers,
    data,
    status: Number(readFileSync(`${base}.status`, "utf8")),
    body: readFileSync(`${base}.body`, "utf8"),
  };
}
