/**
 * For the graceful-drain tests: a service process started as a child of the test (so its exit
 * code is seen), and a bounded load of transfers whose every answer, refusal or broken connection
 * is recorded with whether it was sent before or after the signal.
 */
import axios from "axios";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { Agent } from "node:http";
import { sleep } from "../../shared/clock.js";
import { waitUntil, type ProcessSpec } from "../../scripts/cluster/processes.js";
import { transferBody, type TransferSpec } from "./bank-client.js";

export interface Child {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `spec` as a child of this process and waits for `GET /healthz` to answer 200. */
export async function spawnChild(spec: ProcessSpec, url: string): Promise<Child> {
  const fd = openSync(spec.log, "a", 0o600);
  const child = spawn(spec.command, spec.args, {
    stdio: ["ignore", fd, fd],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...spec.env },
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));
  if (child.pid === undefined) throw new Error(`${spec.name} did not start`);
  try {
    await waitUntil(spec.name, async () => (await fetch(`${url}/healthz`)).status === 200, {
      timeoutMs: 30_000,
      alive: () => !gone,
      log: spec.log,
    });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return { pid: child.pid, exited };
}

/** The JSON lines of a service's log whose message matches. */
export function logLines(file: string, msg: RegExp): Record<string, unknown>[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.msg === "string" && msg.test(l.msg));
}

export type SentKind = "answered" | "draining" | "refused" | "reset" | "other";

export interface Sent {
  key: string;
  /** The signal had been sent when the request left. */
  sentAfterSignal: boolean;
  /** The signal had been sent when the answer (or the error) came. */
  endedAfterSignal: boolean;
  kind: SentKind;
  status?: number;
  outcome?: string;
  txid?: string;
  detail?: string;
}

interface RunBody {
  txid?: string;
  outcome?: string;
  error?: { code?: string };
}

/**
 * Workers, one per pair of accounts, each sending transfers of 1 one after the other with a fresh
 * Idempotency-Key, over keep-alive connections, until stopped, refused (the process is gone) or
 * `maxPerWorker` requests were sent.
 */
export class DrainLoad {
  readonly sent: Sent[] = [];
  signalled = false;
  private stopped = false;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly client = axios.create({
    validateStatus: () => true,
    timeout: 60_000,
    httpAgent: this.agent,
  });

  constructor(
    private readonly o: {
      url: string;
      apiKey: string;
      pairs: TransferSpec[];
      maxPerWorker: number;
      /** Tag of the keys: the log is searched for them afterwards. */
      tag: string;
    },
  ) {}

  start(): Promise<void> {
    return Promise.all(this.o.pairs.map((pair, i) => this.worker(pair, i))).then(() => {
      this.agent.destroy();
    });
  }

  stop(): void {
    this.stopped = true;
  }

  answered(): number {
    return this.sent.filter((s) => s.kind === "answered").length;
  }

  private async worker(pair: TransferSpec, worker: number): Promise<void> {
    for (let n = 0; n < this.o.maxPerWorker && !this.stopped; n++) {
      const key = `${this.o.tag}-${worker}-${n}`;
      const sentAfterSignal = this.signalled;
      const sent = await this.client
        .post<RunBody>(`${this.o.url}/v1/transactions`, transferBody({ ...pair, amount: 1 }), {
          headers: { authorization: `Bearer ${this.o.apiKey}`, "idempotency-key": key },
        })
        .then(
          (res) => kindOfAnswer(res.status, res.data),
          (err: unknown) => kindOfError(err),
        );
      this.sent.push({ key, sentAfterSignal, endedAfterSignal: this.signalled, ...sent });
      if (sent.kind === "refused") return;
      // Refused or cut off: what a client does before it tries again.
      if (sent.kind !== "answered") await sleep(20);
    }
  }
}

function kindOfAnswer(status: number, body: RunBody): Omit<Sent, "key" | `${string}Signal`> {
  const at = {
    status,
    ...(body.outcome ? { outcome: body.outcome } : {}),
    ...(body.txid ? { txid: body.txid } : {}),
  };
  if (status === 200) return { kind: "answered", ...at };
  if (status === 503 && body.error?.code === "draining") return { kind: "draining", ...at };
  return { kind: "other", ...at, detail: JSON.stringify(body).slice(0, 300) };
}

function kindOfError(err: unknown): Omit<Sent, "key" | `${string}Signal`> {
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED") return { kind: "refused" };
  if (code === "ECONNRESET" || code === "EPIPE") return { kind: "reset", detail: code };
  return { kind: "other", detail: String(err) };
}
