import type { HttpClient, HttpReply } from "../shared/http-client.js";
import type { Decision } from "../shared/messages.js";

/**
 * How the coordinator talks to participants. Participants are addressed by name only; their URLs
 * come from the coordinator's configuration, never from a client.
 */
export class ParticipantClient {
  constructor(
    private readonly http: HttpClient,
    private readonly registry: ReadonlyMap<string, string>,
    private readonly requestTimeoutMs: number,
  ) {}

  has(name: string): boolean {
    return this.registry.has(name);
  }

  names(): string[] {
    return [...this.registry.keys()];
  }

  private url(name: string, txid: string, action: string): string {
    const base = this.registry.get(name);
    if (base === undefined) throw new Error(`participant ${name} is not registered`);
    return `${base}/v1/2pc/${txid}/${action}`;
  }

  prepare(name: string, txid: string, operations: unknown[], timeoutMs: number, participants: readonly string[]): Promise<HttpReply> {
    return this.http.post(this.url(name, txid, "prepare"), { operations, timeoutMs, participants }, Math.min(timeoutMs, this.requestTimeoutMs));
  }

  onePhase(name: string, txid: string, operations: unknown[], timeoutMs: number): Promise<HttpReply> {
    return this.http.post(this.url(name, txid, "one-phase"), { operations, timeoutMs }, Math.max(timeoutMs, this.requestTimeoutMs));
  }

  decide(name: string, txid: string, decision: Decision): Promise<HttpReply> {
    return this.http.post(this.url(name, txid, decision), {}, this.requestTimeoutMs);
  }
}
