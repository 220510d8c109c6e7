/**
 * Participant recovery: every prepared transaction of this participant that has waited long
 * enough is resolved — from the journal if the decision is there (a crash between journaling
 * COMMIT and COMMIT PREPARED), otherwise by asking the coordinator, otherwise by asking the
 * peers (cooperative termination). With no answer anywhere it waits and asks again: a prepared
 * participant never guesses. Runs at start-up and then on an interval.
 */
import type { DurableLog } from "../../shared/durable-log.js";
import type { Failpoints } from "../../shared/failpoints.js";
import type { Signer } from "../../shared/auth.js";
import type { HttpClient } from "../../shared/http-client.js";
import type { Logger } from "../../shared/logger.js";
import {
  decisionInquiryResponseSchema,
  peerInquiryResponseSchema,
  type Decision,
} from "../../shared/messages.js";
import type { Participant } from "./participant.js";

export interface ParticipantRecoveryOptions {
  coordinatorUrl: string | undefined;
  peers: ReadonlyMap<string, string>;
  /** Signs decision inquiries to the coordinator (our own secret, our name as the key id). */
  signForCoordinator: Signer;
  /** Signs inquiries to a peer with the secret of that pair; undefined: that peer is not asked. */
  signForPeer: (peer: string) => Signer | undefined;
  minAgeMs: number;
  requestTimeoutMs: number;
  /**
   * Told what recovery did with a prepared transaction (metrics): `commit` or `abort` and where
   * the decision came from, or `wait` when nobody knows it yet. It cannot change what is done.
   */
  onAction?: (action: "commit" | "abort" | "wait", source: Source | "none") => void;
}

type Source = "journal" | "coordinator" | "peer";

export class ParticipantRecovery<Ops> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private finishedPasses = 0;

  /** Passes finished since start-up (successful or not): tests wait on it instead of sleeping. */
  get passes(): number {
    return this.finishedPasses;
  }

  constructor(
    private readonly participant: Participant<Ops>,
    private readonly journal: DurableLog,
    private readonly http: HttpClient,
    private readonly logger: Logger,
    private readonly failpoints: Failpoints,
    private readonly options: ParticipantRecoveryOptions,
  ) {}

  start(intervalMs: number): void {
    // The first pass takes every prepared transaction, however young: this process has just
    // started, so nothing prepared is in the middle of being handled here.
    let minAgeMs = 0;
    const tick = () => {
      this.sweep(minAgeMs)
        .catch((err: unknown) => {
          this.logger.warn({ err: String(err) }, "participant recovery pass failed; will retry");
        })
        .finally(() => {
          minAgeMs = this.options.minAgeMs;
          if (this.timer) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass; returns how many transactions it resolved. Concurrent calls share a pass. */
  sweep(minAgeMs = this.options.minAgeMs): Promise<number> {
    this.running ??= this.sweepOnce(minAgeMs).finally(() => {
      this.running = undefined;
      this.finishedPasses++;
    });
    return this.running;
  }

  private async sweepOnce(minAgeMs: number): Promise<number> {
    await this.participant.endFinishedJournalRecords(100);
    const txids = (await this.participant.preparedTxids(minAgeMs)).filter(
      (t) => !this.participant.isBusy(t),
    );
    let resolved = 0;
    for (const txid of txids) {
      try {
        if (await this.resolve(txid)) resolved++;
      } catch (err) {
        this.logger.warn(
          { txid, err: String(err) },
          "could not resolve prepared transaction; will retry",
        );
      }
    }
    return resolved;
  }

  private async resolve(txid: string): Promise<boolean> {
    const found = await this.findDecision(txid);
    if (!found) {
      this.logger.warn(
        { txid },
        "in doubt: neither the journal, the coordinator nor any peer knows the decision; waiting",
      );
      this.tell("wait", "none");
      return false;
    }
    await this.failpoints.hit("participant.recovery-before-resolve");
    if (found.decision === "commit") await this.participant.commit(txid);
    else await this.participant.abort(txid);
    this.logger.info(
      { txid, decision: found.decision, source: found.source },
      "recovered prepared transaction",
    );
    this.tell(found.decision, found.source);
    return true;
  }

  private tell(action: "commit" | "abort" | "wait", source: Source | "none"): void {
    try {
      this.options.onAction?.(action, source);
    } catch (err) {
      this.logger.warn({ err: String(err) }, "recovery observer failed");
    }
  }

  private async findDecision(
    txid: string,
  ): Promise<{ decision: Decision; source: Source } | undefined> {
    const record = await this.journal.get(txid);
    if (record?.decision) return { decision: record.decision, source: "journal" };
    const fromCoordinator = await this.askCoordinator(txid);
    if (fromCoordinator === "pending") return undefined;
    if (fromCoordinator) return { decision: fromCoordinator, source: "coordinator" };
    const fromPeer = await this.askPeers(txid, record?.participants ?? []);
    return fromPeer ? { decision: fromPeer, source: "peer" } : undefined;
  }

  /** The coordinator's answer, "pending" while it is still deciding, or undefined if unreachable. */
  private async askCoordinator(txid: string): Promise<Decision | "pending" | undefined> {
    if (!this.options.coordinatorUrl) return undefined;
    try {
      const res = await this.http.get(
        `${this.options.coordinatorUrl}/v1/transactions/${txid}/decision`,
        this.options.requestTimeoutMs,
        this.options.signForCoordinator,
      );
      const parsed = decisionInquiryResponseSchema.safeParse(res.data);
      if (res.status === 200 && parsed.success) return parsed.data.decision;
      this.logger.warn(
        { txid, status: res.status },
        "coordinator could not answer a decision inquiry",
      );
    } catch (err) {
      this.logger.warn(
        { txid, err: (err as Error).message },
        "coordinator unreachable for a decision inquiry",
      );
    }
    return undefined;
  }

  /** Cooperative termination: the first peer that knows the decision tells it. */
  private async askPeers(
    txid: string,
    participants: readonly string[],
  ): Promise<Decision | undefined> {
    for (const name of participants) {
      if (name === this.participant.name) continue;
      const url = this.options.peers.get(name);
      const sign = this.options.signForPeer(name);
      if (!url || !sign) continue;
      try {
        const res = await this.http.post(
          `${url}/v1/2pc/${txid}/inquiry`,
          {},
          this.options.requestTimeoutMs,
          sign,
        );
        const parsed = peerInquiryResponseSchema.safeParse(res.data);
        if (res.status === 200 && parsed.success && parsed.data.decision !== "unknown") {
          this.logger.info(
            { txid, peer: name, decision: parsed.data.decision },
            "a peer knew the decision",
          );
          return parsed.data.decision;
        }
      } catch (err) {
        this.logger.warn({ txid, peer: name, err: (err as Error).message }, "peer unreachable");
      }
    }
    return undefined;
  }
}
