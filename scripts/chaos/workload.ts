/**
 * The chaos run's client: concurrent transfers between accounts at different banks, orders when
 * the cluster has an inventory (one request in four: a payment between two banks and a reserve
 * at the inventory, scripts/chaos/orders.ts), plus periodic consistent total reads (2PC read
 * transactions holding FOR SHARE locks until the decision). It records what it was told about
 * every transfer and order, for the checker's I4.
 */
import {
  CoordinatorClient,
  CoordinatorRequestError,
  CoordinatorResponseError,
  CoordinatorUnavailableError,
  type RunRequest,
  type RunResult,
} from "../../shared/client/index.js";
import { sleep } from "../../shared/clock.js";
import type { ClientEntry } from "../checker/facts.js";
import type { Account } from "./account.js";
import { drawOrder, type Shop } from "./orders.js";
import { pickFrom } from "./prng.js";

export type { Account } from "./account.js";

/** What the clients were told, by outcome; `error`: no answer (the checker's "error"). */
export type OutcomeCounts = Record<ClientEntry["outcome"], number>;

/** A client record entry, with what the request was (the checker reads txid and outcome). */
export type WorkloadEntry = ClientEntry & { kind: "transfer" | "order" };

export interface WorkloadResult {
  transfers: OutcomeCounts;
  /**
   * Orders, when the cluster has an inventory (else undefined); outOfStock: of the aborted,
   * those an inventory refused with `out-of-stock`; abortReasons: the aborted by reason.
   */
  orders:
    (OutcomeCounts & { outOfStock: number; abortReasons: Record<string, number> }) | undefined;
  /**
   * attempted: reads asked for; committed: reads that committed, within at most
   * READ_TRIES tries (a read changes nothing, so a client asks again when one was cut by a
   * fault); firstTry: of those, committed at the first try; failures: why tries failed.
   */
  reads: {
    attempted: number;
    committed: number;
    firstTry: number;
    violations: string[];
    failures: Record<string, number>;
  };
  record: WorkloadEntry[];
}

/**
 * The run's clients send each request once (no retries of their own, 15 s to answer), so what
 * the record holds is what one request was told; the transfer loop paces itself after a failure.
 */
const clientOptions = { retries: 0, timeoutMs: 15_000, deadlineMs: 15_000 };

/** What one request was told: a result, a refusal (with the transaction it aborted, if any), or nothing. */
type Told =
  | { kind: "result"; result: RunResult }
  | { kind: "refused"; error: CoordinatorRequestError }
  | { kind: "none"; why: string };

function toldOf(work: Promise<RunResult>): Promise<Told> {
  return work.then(
    (result): Told => ({ kind: "result", result }),
    (err: unknown): Told => {
      if (err instanceof CoordinatorRequestError) return { kind: "refused", error: err };
      if (err instanceof CoordinatorUnavailableError)
        return { kind: "none", why: err.lastStatus === undefined ? "no answer" : "unavailable" };
      if (err instanceof CoordinatorResponseError)
        return { kind: "none", why: `HTTP ${err.status}` };
      throw err;
    },
  );
}

/** A consistent read cut by a fault (a killed or paused process) is asked again, up to this many times. */
const READ_TRIES = 3;

/** With an inventory, the share of the workload's requests that are orders. */
const ORDER_SHARE = 0.25;

export class Workload {
  /** Transfers, with the client's API key. */
  private readonly client: CoordinatorClient;
  /** Consistent reads of every balance: an operator's act (the coordinator's admin secret). */
  private readonly operator: CoordinatorClient;

  private running = false;

  /** Read through a call: TypeScript would narrow `this.running` across the awaits in a loop. */
  private isRunning(): boolean {
    return this.running;
  }
  private readonly loops: Promise<void>[] = [];
  private readonly result: WorkloadResult = {
    transfers: { committed: 0, aborted: 0, unknown: 0, error: 0 },
    orders: undefined,
    reads: { attempted: 0, committed: 0, firstTry: 0, violations: [], failures: {} },
    record: [],
  };

  constructor(
    coordinatorUrl: string,
    /** The client API key (Authorization: Bearer): transfers. */
    apiKey: string,
    /** The coordinator's admin secret: reading balances is an operator's act. */
    operatorSecret: string,
    private readonly accounts: readonly Account[],
    private readonly expectedTotal: bigint,
    private readonly random: () => number,
    private readonly concurrency: number,
    /** The inventories and their items: orders are sent only when given. */
    private readonly shop?: Shop,
  ) {
    if (shop)
      this.result.orders = {
        committed: 0,
        aborted: 0,
        unknown: 0,
        error: 0,
        outOfStock: 0,
        abortReasons: {},
      };
    this.client = new CoordinatorClient({ url: coordinatorUrl, apiKey, ...clientOptions });
    this.operator = new CoordinatorClient({
      url: coordinatorUrl,
      apiKey: operatorSecret,
      ...clientOptions,
    });
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.transferLoop());
    this.loops.push(this.readLoop());
  }

  /** Stops issuing requests and waits for those in flight (each bounded by its timeout). */
  async stop(): Promise<WorkloadResult> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all([this.client.close(), this.operator.close()]);
    return this.result;
  }

  /** Transfers, and orders among them when there is a shop; one request in flight at a time. */
  private async transferLoop(): Promise<void> {
    while (this.running) {
      // Without a shop no draw is spent here, so a seed's transfers are what they were before.
      const shop = this.shop && this.random() < ORDER_SHARE ? this.shop : undefined;
      const request = shop ? drawOrder(this.random, this.accounts, shop) : this.drawTransfer();
      const told = await toldOf(this.client.run(request));
      this.note(told, shop ? "order" : "transfer");
      // While the coordinator is down every request fails at once; do not spin.
      const failed =
        told.kind === "none" ||
        (told.kind === "refused" && told.error.status >= 500) ||
        (told.kind === "result" && told.result.outcome === "unknown");
      if (failed) await sleep(50);
    }
  }

  private drawTransfer(): RunRequest {
    const from = pickFrom(this.random, this.accounts);
    let to = pickFrom(this.random, this.accounts);
    while (to.bank === from.bank) to = pickFrom(this.random, this.accounts);
    // A few overdraw on purpose: aborts must be as clean as commits.
    const amount = this.random() < 0.05 ? 1_000_000_000 : 1 + Math.floor(this.random() * 200);
    return {
      participants: [
        {
          name: from.bank,
          operations: [{ op: "debit", account: from.id, amount: String(amount) }],
        },
        {
          name: to.bank,
          operations: [{ op: "credit", account: to.id, amount: String(amount) }],
        },
      ],
      timeoutMs: 3000,
    };
  }

  private note(told: Told, kind: WorkloadEntry["kind"]): void {
    // A refusal with outcome "aborted" is one the participant explained; still an abort.
    const answer =
      told.kind === "result"
        ? told.result
        : told.kind === "refused"
          ? told.error.answer
          : undefined;
    const outcome: ClientEntry["outcome"] = answer?.outcome ?? "error";
    const counts = kind === "order" ? this.result.orders : this.result.transfers;
    if (counts) counts[outcome] += 1;
    const orders = kind === "order" && outcome === "aborted" ? this.result.orders : undefined;
    if (orders) {
      if (told.kind === "result" && isOutOfStock(told)) orders.outOfStock += 1;
      const why = shortened(whyNot(told));
      orders.abortReasons[why] = (orders.abortReasons[why] ?? 0) + 1;
    }
    if (answer) this.result.record.push({ txid: answer.txid, outcome, kind });
  }

  private async readLoop(): Promise<void> {
    const banks = [...new Set(this.accounts.map((a) => a.bank))];
    while (this.running) {
      await sleep(1000);
      if (!this.isRunning()) break;
      this.result.reads.attempted += 1;
      const body = {
        participants: banks.map((bank) => ({
          name: bank,
          operations: this.accounts
            .filter((a) => a.bank === bank)
            .map((a) => ({ op: "read", account: a.id, hold: true })),
        })),
        timeoutMs: 3000,
      };
      let committed: RunResult | undefined;
      for (let tryNo = 1; tryNo <= READ_TRIES && this.isRunning(); tryNo++) {
        const told = await toldOf(this.operator.run(body));
        if (told.kind === "result" && told.result.outcome === "committed") {
          if (tryNo === 1) this.result.reads.firstTry += 1;
          committed = told.result;
          break;
        }
        const why = shortened(whyNot(told));
        this.result.reads.failures[why] = (this.result.reads.failures[why] ?? 0) + 1;
        await sleep(200);
      }
      if (!committed) continue;
      this.result.reads.committed += 1;
      const total = committed.participants.reduce(
        (sum, p) => sum + (p.results ?? []).reduce<bigint>((s, r) => s + balanceOf(r), 0n),
        0n,
      );
      if (total !== this.expectedTotal)
        this.result.reads.violations.push(
          `read ${committed.txid} saw a total of ${total}, expected ${this.expectedTotal}`,
        );
    }
  }
}

/** A reason cut to 80 characters for a tally, marked where it was cut. */
function shortened(why: string): string {
  return why.length > 80 ? `${why.slice(0, 79)}…` : why;
}

/** An abort with an inventory's NO vote `out-of-stock` among its votes (a bank's may be too). */
function isOutOfStock(told: Extract<Told, { kind: "result" }>): boolean {
  const r = told.result;
  return (
    r.outcome === "aborted" &&
    r.participants.some((p) => p.vote === "no" && p.reason === "out-of-stock")
  );
}

/** Why a request did not commit: the abort's reason, the refusal's code, or no answer. */
function whyNot(told: Told): string {
  if (told.kind === "refused") return told.error.code;
  if (told.kind === "none") return told.why;
  const r = told.result;
  return (r.outcome === "committed" ? undefined : r.reason) ?? r.outcome;
}

/** The balance a bank's read returned (`{balance: "123"}`). */
function balanceOf(result: unknown): bigint {
  const balance = (result as { balance?: unknown } | undefined)?.balance;
  if (typeof balance !== "string") throw new Error(`a read returned ${JSON.stringify(result)}`);
  return BigInt(balance);
}
