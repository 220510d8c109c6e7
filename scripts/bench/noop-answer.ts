import {
  describeParticipant,
  type ParticipantDescriptor,
} from "../../shared/participant-descriptor.js";

/**
 * The descriptor of a participant that executes nothing: any list of up to 64 operations, no
 * rules. The coordinator checks requests against it like any participant's.
 */
export const NOOP_DESCRIPTOR: ParticipantDescriptor = describeParticipant({
  participant: "noop",
  application: "noop",
  operationsSchema: { type: "array", minItems: 1, maxItems: 64 },
});

/**
 * What a participant that executes nothing answers to one 2PC message: YES to every PREPARE, an
 * acknowledgement to every decision. The benchmark's no-op participants and the tests' fake
 * participants both answer so.
 */
export function noopAnswer(txid: string, action: string): { status: number; body: unknown } {
  switch (action) {
    case "prepare":
      return { status: 200, body: { vote: "yes" } };
    case "commit":
      return { status: 200, body: { txid, state: "committed" } };
    case "abort":
      return { status: 200, body: { txid, state: "aborted" } };
    case "one-phase":
      // One-phase answers carry `outcome` for the coordinator's schema and `state` as the others do.
      return { status: 200, body: { txid, state: "committed", outcome: "committed" } };
    default:
      return {
        status: 404,
        body: { error: { code: "not-found", message: `no action ${action}` } },
      };
  }
}
