import { UnsafeConfigurationError } from "./errors.js";

/**
 * Runs a service's start-up. A configuration the service must refuse (a non-durable Redis,
 * prepared transactions disabled, a bad variable) ends it with one clear line and exit code 1;
 * anything else is a bug and is printed whole.
 */
export function runMain(role: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const expected =
      err instanceof UnsafeConfigurationError ||
      (err instanceof Error && err.message.startsWith("invalid configuration"));
    const message = expected
      ? err.message
      : String(err instanceof Error ? (err.stack ?? err) : err);
    process.stderr.write(`${role}: refusing to start: ${message}\n`);
    process.exit(1);
  });
}
