/**
 * What each participant publishes about its operations (GET /v1/descriptor: the JSON Schema of
 * its operation list and the rules of its operation kinds), kept by the coordinator so that a
 * request is checked against the schema of every participant it names before anything is
 * logged. The coordinator itself knows no application.
 *
 * A descriptor is fetched when a participant is first named (or at start), again when a
 * participant's answer names a different one (the DESCRIPTOR_HASH_HEADER on every answer: the
 * participant was upgraded), and every `refreshMs` in the background.
 */
import type { ValidateFunction } from "ajv";
import { UnavailableError, ValidationError } from "../shared/errors.js";
import type { HttpReply } from "../shared/http-client.js";
import type { Logger } from "../shared/logger.js";
import type { IsolationPolicy } from "../shared/isolation.js";
import type { OperationRules } from "../shared/operation-rules.js";
import {
  participantDescriptorSchema,
  type ParticipantDescriptor,
} from "../shared/participant-descriptor.js";
import { compileOperationsSchema, describeFailure } from "./schema-check.js";

interface Entry {
  descriptor: ParticipantDescriptor;
  validate: ValidateFunction;
}

export class OperationCatalog {
  private readonly entries = new Map<string, Entry>();
  private readonly fetching = new Map<string, Promise<void>>();
  /**
   * The hash of a descriptor refused (a schema outside the accepted subset), by participant:
   * answers naming it do not fetch it again, or every 2PC answer would. The periodic refresh
   * still asks.
   */
  private readonly refused = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** GET the participant's descriptor (signed as the coordinator). */
    private readonly fetchDescriptor: (name: string) => Promise<HttpReply>,
    private readonly names: () => string[],
    private readonly logger: Logger,
  ) {}

  /** Fetches every participant's descriptor now, then every `refreshMs`. */
  start(refreshMs: number): void {
    const refreshAll = () => {
      for (const name of this.names()) void this.refresh(name).catch(() => undefined);
    };
    refreshAll();
    this.timer = setInterval(refreshAll, refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The rules a participant published, or undefined (none, or not known yet). */
  rules(name: string): OperationRules | undefined {
    return this.entries.get(name)?.descriptor.rules;
  }

  /**
   * The isolation levels a participant runs (its default, its floor), or undefined when its
   * descriptor names none: a participant from before isolation levels runs its database's
   * default and checks nothing.
   */
  isolation(name: string): IsolationPolicy | undefined {
    return this.entries.get(name)?.descriptor.isolation;
  }

  /** The HTTP status a NO vote's reason means when it is the client's fault, if it is. */
  clientFaultStatus(name: string, reason: string): number | undefined {
    const faults = this.rules(name)?.clientFaults;
    return faults ? faults[reason] : undefined;
  }

  /** A participant's answer named its descriptor: fetch it again if that is a new one. */
  noteHash(name: string, hash: string | undefined): void {
    const known = this.entries.get(name)?.descriptor.hash;
    if (hash === undefined || hash === known || hash === this.refused.get(name)) return;
    void this.refresh(name).catch(() => undefined);
  }

  /**
   * Checks one participant's operations against its published schema; throws a 400 naming the
   * field. A participant whose schema is not known yet is asked for it first; if it cannot be
   * had, the request is refused with a 503 (nothing was logged) rather than let through.
   */
  async check(name: string, operations: unknown, where: string): Promise<void> {
    let entry = this.entries.get(name);
    if (!entry) {
      await this.refresh(name).catch((err: unknown) => {
        throw new UnavailableError(
          `the operations schema of participant ${name} is not known (${(err as Error).message}); nothing was logged, try again`,
        );
      });
      entry = this.entries.get(name);
      if (!entry) throw new UnavailableError(`participant ${name} published no operations schema`);
    }
    if (entry.validate(operations)) return;
    const { message, field } = describeFailure(entry.validate.errors ?? [], where);
    throw new ValidationError(message, field);
  }

  /** One fetch at a time per participant; concurrent callers share it. */
  refresh(name: string): Promise<void> {
    const running = this.fetching.get(name);
    if (running) return running;
    const fetch = this.fetchAndCompile(name).finally(() => this.fetching.delete(name));
    this.fetching.set(name, fetch);
    return fetch;
  }

  private async fetchAndCompile(name: string): Promise<void> {
    const reply = await this.fetchDescriptor(name);
    if (reply.status !== 200)
      throw new Error(`GET /v1/descriptor of ${name} answered ${reply.status}`);
    const parsed = participantDescriptorSchema.safeParse(reply.data);
    if (!parsed.success)
      throw new Error(`the descriptor of ${name} is malformed: ${parsed.error.issues[0]?.message}`);
    // Its `participant` is not compared with `name`: the request was signed for `name` alone,
    // so a service of another name would have refused it.
    const descriptor = parsed.data;
    if (this.entries.get(name)?.descriptor.hash === descriptor.hash) return;
    let validate: ValidateFunction;
    try {
      validate = compileOperationsSchema(descriptor.operationsSchema);
    } catch (err) {
      this.refused.set(name, descriptor.hash);
      this.logger.error(
        { participant: name, err: (err as Error).message },
        "participant's operations schema refused; keeping the one before",
      );
      throw err;
    }
    this.refused.delete(name);
    this.entries.set(name, { descriptor, validate });
    this.logger.info(
      { participant: name, application: descriptor.application, hash: descriptor.hash },
      "participant's operations schema loaded",
    );
  }
}
