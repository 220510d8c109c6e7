/** The refusals of the operator actions (operator-api.ts): 409, and nothing was changed. */
import { ConcordError } from "../shared/errors.js";
import type { ErrorCode } from "../shared/wire-errors.js";

export class OperatorRefusal extends ConcordError {
  readonly httpStatus = 409;
  constructor(
    readonly code: Extract<
      ErrorCode,
      "undecided" | "already-finished" | "one-phase" | "already-committed"
    >,
    message: string,
  ) {
    super(message);
  }
}
