import { signerFor, type Signer } from "../shared/auth.js";
import { contextHeaders, logContextOf, type LogContext } from "../shared/log-context.js";
import type { ParticipantDirectory } from "../shared/participant-directory.js";
import type { IsolationLevel } from "../shared/isolation.js";
import { TransportError, type HttpClient, type HttpReply } from "../shared/http-client.js";
import {
  batchReplyLineSchema,
  LIMITS,
  type Decision,
  type TwoPhaseAction,
} from "../shared/messages.js";

/** A message waiting for the end of the current event-loop turn. */
interface Pending {
  txid: string;
  action: TwoPhaseAction;
  /** The body as JSON text, serialized once: its length keeps a batch under the body limit. */
  json: string;
  timeoutMs: number;
  /** The request it is sent for (its id and Idempotency-Key), forwarded for the logs. */
  context: LogContext | undefined;
  resolve: (reply: HttpReply) => void;
  reject: (err: unknown) => void;
}

/** Leaves room under the participant's body limit for the batch envelope. */
const MAX_BATCH_BYTES = LIMITS.maxBodyBytes - 4096;
/** One message's envelope around its body: txid, action, keys and punctuation. */
const ENVELOPE_BYTES = 96;

/**
 * How the coordinator talks to participants. Participants are addressed by name only; their URLs
 * come from the coordinator's configuration, never from a client.
 *
 * Messages to one participant that arise in the same event-loop turn (many transactions in
 * flight) leave in one HTTP request to `/v1/2pc/batch`; a message that is alone goes to its own
 * route. On a 2-core machine each HTTP exchange costs far more CPU than the message inside it
 * (see the README's performance section), so this cuts the coordinator's and the participants'
 * cost per transaction under load without adding latency: the flush runs as soon as the turn
 * ends. Each message keeps its own reply; a batch that gets no answer fails every message in it,
 * exactly as separate requests would, and every 2PC message is idempotent.
 */
export class ParticipantClient {
  private readonly queues = new Map<string, Pending[]>();
  private flushScheduled = false;
  /** Signers by participant, made again when its secret changes (a reloaded participants file). */
  private readonly signers = new Map<string, { secret: string; signer: Signer }>();
  /** Told the descriptor hash each answer names (operation-catalog.ts noteHash). */
  onOperationsHash: ((name: string, hash: string | undefined) => void) | undefined;

  constructor(
    private readonly http: HttpClient,
    private readonly directory: ParticipantDirectory,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Whether clients may name this participant in a new transaction. */
  has(name: string): boolean {
    return this.directory.current().has(name);
  }

  names(): string[] {
    return [...this.directory.current().keys()];
  }

  /** Every request to a participant is signed with the secret it shares with us, for it alone. */
  private signer(name: string): Signer {
    const secret = this.directory.find(name)?.secret ?? "";
    const known = this.signers.get(name);
    if (known?.secret === secret) return known.signer;
    const signer = signerFor({ secret, keyId: "coordinator", audience: name });
    this.signers.set(name, { secret, signer });
    return signer;
  }

  /** The participant's descriptor: its operations' schema and rules. */
  describe(name: string): Promise<HttpReply> {
    return this.http.get(
      `${this.base(name)}/v1/descriptor`,
      this.requestTimeoutMs,
      this.signer(name),
    );
  }

  /** What the participant holds prepared (GET /v1/prepared), for the operators' in-doubt view. */
  listPrepared(name: string, timeoutMs: number): Promise<HttpReply> {
    return this.http.get(`${this.base(name)}/v1/prepared`, timeoutMs, this.signer(name));
  }

  prepare(
    name: string,
    txid: string,
    operations: unknown[],
    how: {
      timeoutMs: number;
      participants: readonly string[];
      ordered?: boolean;
      isolation?: IsolationLevel | undefined;
    },
  ): Promise<HttpReply> {
    const { timeoutMs, participants, ordered, isolation } = how;
    return this.send(
      name,
      txid,
      "prepare",
      {
        operations,
        timeoutMs,
        participants,
        ...(ordered ? { ordered } : {}),
        ...(isolation ? { isolation } : {}),
      },
      Math.min(timeoutMs, this.requestTimeoutMs),
    );
  }

  onePhase(
    name: string,
    txid: string,
    operations: unknown[],
    timeoutMs: number,
    isolation?: IsolationLevel,
  ): Promise<HttpReply> {
    return this.send(
      name,
      txid,
      "one-phase",
      { operations, timeoutMs, ...(isolation ? { isolation } : {}) },
      Math.max(timeoutMs, this.requestTimeoutMs),
    );
  }

  decide(name: string, txid: string, decision: Decision): Promise<HttpReply> {
    return this.send(name, txid, decision, {}, this.requestTimeoutMs);
  }

  /** A participant removed from the directory is still reached for the transactions it is in. */
  private base(name: string): string {
    const base = this.directory.find(name)?.url;
    if (base === undefined) throw new Error(`participant ${name} is not registered`);
    return base;
  }

  private send(
    name: string,
    txid: string,
    action: TwoPhaseAction,
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<HttpReply> {
    this.base(name);
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      const json = JSON.stringify(body);
      queue.push({ txid, action, json, timeoutMs, context: logContextOf(txid), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    for (const [name, queue] of queues) {
      for (const batch of splitBatches(queue)) void this.deliver(name, batch);
    }
  }

  private async deliver(name: string, batch: Pending[]): Promise<void> {
    const base = this.base(name);
    const [only] = batch;
    if (batch.length === 1 && only) {
      await this.http
        .postJson(
          `${base}/v1/2pc/${only.txid}/${only.action}`,
          only.json,
          only.timeoutMs,
          this.signer(name),
          contextHeaders(only.context),
        )
        .then((reply) => {
          this.onOperationsHash?.(name, reply.operationsHash);
          only.resolve(reply);
        }, only.reject);
      return;
    }
    const url = `${base}/v1/2pc/batch`;
    const timeoutMs = Math.max(...batch.map((m) => m.timeoutMs));
    // Each message is answered by its own line of the reply as soon as the participant has it
    // (see the batch route), so a message whose answer is quick never waits for a slow one.
    const answered = new Set<number>();
    const onLine = (line: unknown) => {
      const parsed = batchReplyLineSchema.safeParse(line);
      const m = parsed.success ? batch[parsed.data.index] : undefined;
      if (!parsed.success || !m || answered.has(parsed.data.index)) return;
      answered.add(parsed.data.index);
      m.resolve({ status: parsed.data.status, data: parsed.data.body });
    };
    const unanswered = () => batch.filter((_, i) => !answered.has(i));
    try {
      // Assembled from the bodies' JSON text: txid and action are from fixed alphabets.
      const json = `{"messages":[${batch.map((m) => `{"txid":"${m.txid}","action":"${m.action}","body":${m.json}}`).join(",")}]}`;
      const headers = contextHeaders(sharedContext(batch));
      const res = await this.http.postLines(
        url,
        json,
        timeoutMs,
        this.signer(name),
        onLine,
        headers,
      );
      this.onOperationsHash?.(name, res.operationsHash);
      // The batch as a whole was refused (unavailable, too large): every message hears that
      // answer, as if it had been sent alone and refused. A 200 that left a message unanswered
      // is a broken reply.
      for (const m of unanswered())
        m.resolve(
          res.status === 200
            ? {
                status: 502,
                data: {
                  error: {
                    code: "bad-batch-reply",
                    message: `no reply for this message in the batch reply from ${name}`,
                  },
                },
              }
            : res,
        );
    } catch (err) {
      // No answer for what was not answered yet: as if each had been sent alone and lost.
      for (const m of unanswered())
        m.reject(err instanceof TransportError ? err : new TransportError(url, err));
    }
  }
}

/**
 * The context of a batch whose messages all serve one request; a batch mixing requests has one
 * header for many, so it forwards none (the participant's lines then carry the batch's own
 * request id, and each message's txid).
 */
function sharedContext(batch: Pending[]): LogContext | undefined {
  const [first] = batch;
  const id = first?.context?.requestId;
  return id !== undefined && batch.every((m) => m.context?.requestId === id)
    ? first?.context
    : undefined;
}

/** Consecutive runs of messages within the count and size limits of one batch. */
function splitBatches(queue: Pending[]): Pending[][] {
  const batches: Pending[][] = [];
  let current: Pending[] = [];
  let bytes = 0;
  for (const m of queue) {
    const size = Buffer.byteLength(m.json) + ENVELOPE_BYTES;
    if (
      current.length > 0 &&
      (current.length >= LIMITS.maxBatchMessages || bytes + size > MAX_BATCH_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
