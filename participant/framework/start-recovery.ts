/** Recovery of a participant's transactions in doubt, wired from its configuration. */
import type { ParticipantConfig } from "../../shared/config.js";
import type { DurableLog } from "../../shared/durable-log.js";
import type { Failpoints } from "../../shared/failpoints.js";
import type { Logger } from "../../shared/logger.js";
import { COORDINATOR_KEY_ID, signerFor } from "../../shared/auth.js";
import { createHttpClient } from "../../shared/http-client.js";
import type { Participant } from "./participant.js";
import type { ParticipantDirectory } from "../../shared/participant-directory.js";
import { ParticipantRecovery, type ParticipantRecoveryOptions } from "./recovery.js";

/** Resolves the transactions left in doubt, asking the coordinator and then the peers. */
export function startRecovery<Ops>(
  config: ParticipantConfig,
  parts: {
    participant: Participant<Ops>;
    journal: DurableLog;
    logger: Logger;
    failpoints: Failpoints;
    peers: ParticipantDirectory;
    /** Told what recovery did with each prepared transaction (metrics). */
    onAction?: ParticipantRecoveryOptions["onAction"];
  },
): ParticipantRecovery<Ops> {
  const name = config.CONCORD_PARTICIPANT_NAME;
  // Live views: a peer added to or removed from the peers file is seen at the next ask.
  const peerSecrets = parts.peers.secrets;
  const recovery = new ParticipantRecovery(
    parts.participant,
    parts.journal,
    createHttpClient({ maxSockets: 16 }),
    parts.logger,
    parts.failpoints,
    {
      coordinatorUrl: config.CONCORD_COORDINATOR_URL,
      peers: parts.peers.urls,
      signForCoordinator: signerFor({
        secret: config.CONCORD_PARTICIPANT_SECRET,
        keyId: name,
        audience: COORDINATOR_KEY_ID,
      }),
      signForPeer: (peer) => {
        const secret = peerSecrets.get(peer);
        return secret === undefined
          ? undefined
          : signerFor({ secret, keyId: name, audience: peer });
      },
      minAgeMs: config.CONCORD_RECOVERY_MIN_AGE_MS,
      requestTimeoutMs: 2000,
      ...(parts.onAction ? { onAction: parts.onAction } : {}),
    },
  );
  recovery.start(config.CONCORD_RECOVERY_INTERVAL_MS);
  return recovery;
}
