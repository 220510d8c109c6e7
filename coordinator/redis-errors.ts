import { UnavailableError } from "../shared/errors.js";
import { isConnectionFailure } from "../shared/http-server.js";

/** Redis errors become a clear 503 instead of a 500. */
export async function withRedis<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (
      isConnectionFailure(err) ||
      (err instanceof Error && /max retries|Stream isn't writeable/i.test(err.message))
    ) {
      throw new UnavailableError(
        `the decision log (Redis) is unreachable: ${(err as Error).message}`,
      );
    }
    throw err;
  }
}
