/** A tiny argument parser for the scripts: `--name value` and `--flag`, with errors that say what to fix. */
export class UsageError extends Error {}

export function parseArgs(
  argv: string[],
  spec: Record<string, "string" | "number" | "boolean">,
): { positional: string[]; flags: Record<string, string | number | boolean> } {
  const positional: string[] = [];
  const flags: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
    const kind = spec[rawName];
    if (!kind)
      throw new UsageError(
        `unknown option --${rawName}; known: ${Object.keys(spec)
          .map((k) => `--${k}`)
          .join(", ")}`,
      );
    if (kind === "boolean") {
      flags[rawName] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${rawName} needs a value`);
    if (kind === "number") {
      const n = Number(value);
      if (!Number.isFinite(n))
        throw new UsageError(`--${rawName} must be a number, got ${JSON.stringify(value)}`);
      flags[rawName] = n;
    } else flags[rawName] = value;
  }
  return { positional, flags };
}

/** Runs a CLI's main: usage errors exit 2 with the message, anything else exits 1. */
export function runCli(
  name: string,
  usage: string,
  main: () => Promise<number | undefined> | number | undefined,
): void {
  // Through a promise, so that a synchronous main's throw is handled as an async one's rejection.
  Promise.resolve()
    .then(main)
    .then((code) => process.exit(code ?? 0))
    .catch((err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${name}: ${err.message}\n\n${usage}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
