/**
 * The chaos run's client: concurrent transfers between accounts at different banks, plus
 * periodic consistent total reads (2PC read transactions holding FOR SHARE locks until the
 * decision). It records what it was told about every transfer, for the checker's I4.
 */
import axios, { type AxiosResponse } from "axios";
import type { TransactionAnswer } from "../transaction-answer.js";
import { sleep } from "../../shared/clock.js";
import type { ClientEntry } from "../checker/facts.js";
import { pickFrom } from "./prng.js";

export interface Account {
  bank: string;
  id: string;
}

export interface WorkloadResult {
  transfers: { committed: number; aborted: number; unknown: number; error: number };
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
  record: ClientEntry[];
}

const http = axios.create({ validateStatus: () => true, timeout: 15_000 });
/** A consistent read cut by a fault (a killed or paused process) is asked again, up to this many times. */
const READ_TRIES = 3;

export class Workload {
  private auth(as: "client" | "operator" = "client") {
    return {
      headers: { authorization: `Bearer ${as === "client" ? this.apiKey : this.operatorSecret}` },
    };
  }

  private running = false;

  /** Read through a call: TypeScript would narrow `this.running` across the awaits in a loop. */
  private isRunning(): boolean {
    return this.running;
  }
  private readonly loops: Promise<void>[] = [];
  private readonly result: WorkloadResult = {
    transfers: { committed: 0, aborted: 0, unknown: 0, error: 0 },
    reads: { attempted: 0, committed: 0, firstTry: 0, violations: [], failures: {} },
    record: [],
  };

  constructor(
    private readonly coordinatorUrl: string,
    /** The client API key (Authorization: Bearer): transfers. */
    private readonly apiKey: string,
    /** The coordinator's admin secret: reading balances is an operator's act. */
    private readonly operatorSecret: string,
    private readonly accounts: readonly Account[],
    private readonly expectedTotal: bigint,
    private readonly random: () => number,
    private readonly concurrency: number,
  ) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.transferLoop());
    this.loops.push(this.readLoop());
  }

  /** Stops issuing requests and waits for those in flight (each bounded by its timeout). */
  async stop(): Promise<WorkloadResult> {
    this.running = false;
    await Promise.all(this.loops);
    return this.result;
  }

  private async transferLoop(): Promise<void> {
    while (this.running) {
      const from = pickFrom(this.random, this.accounts);
      let to = pickFrom(this.random, this.accounts);
      while (to.bank === from.bank) to = pickFrom(this.random, this.accounts);
      // A few overdraw on purpose: aborts must be as clean as commits.
      const amount = this.random() < 0.05 ? 1_000_000_000 : 1 + Math.floor(this.random() * 200);
      const res = await http
        .post(
          `${this.coordinatorUrl}/v1/transactions`,
          {
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
          },
          this.auth(),
        )
        .catch(() => undefined);
      this.note(res?.status, res?.data as { txid?: string; outcome?: string } | undefined);
      // While the coordinator is down every request fails at once; do not spin.
      if (!res || res.status >= 500) await sleep(50);
    }
  }

  private note(
    status: number | undefined,
    data: { txid?: string; outcome?: string } | undefined,
  ): void {
    const outcome = data?.outcome;
    const kind: ClientEntry["outcome"] =
      outcome === "committed" || outcome === "aborted"
        ? outcome
        : outcome === "unknown"
          ? "unknown"
          : "error";
    // A 4xx with outcome "aborted" is a refusal the participant explained; still an abort.
    this.result.transfers[kind] += 1;
    if (data?.txid && status !== undefined)
      this.result.record.push({ txid: data.txid, outcome: kind });
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
      let res: AxiosResponse<TransactionAnswer> | undefined;
      for (let tryNo = 1; tryNo <= READ_TRIES && this.isRunning(); tryNo++) {
        res = await http
          .post<TransactionAnswer>(
            `${this.coordinatorUrl}/v1/transactions`,
            body,
            this.auth("operator"),
          )
          .catch(() => undefined);
        if (res?.status === 200 && res.data?.outcome === "committed") {
          if (tryNo === 1) this.result.reads.firstTry += 1;
          break;
        }
        const why = res
          ? (res.data?.reason ?? res.data?.error?.code ?? `HTTP ${res.status}`).slice(0, 80)
          : "no answer";
        this.result.reads.failures[why] = (this.result.reads.failures[why] ?? 0) + 1;
        await sleep(200);
      }
      if (res?.status !== 200 || res.data?.outcome !== "committed") continue;
      this.result.reads.committed += 1;
      const total = (res.data.participants ?? []).reduce(
        (sum, p) => sum + (p.results ?? []).reduce((s, r) => s + BigInt(r.balance), 0n),
        0n,
      );
      if (total !== this.expectedTotal)
        this.result.reads.violations.push(
          `read ${res.data.txid ?? "?"} saw a total of ${total}, expected ${this.expectedTotal}`,
        );
    }
  }
}
