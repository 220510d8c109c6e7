/**
 * The benchmark's HTTP: a minimal JSON client on a keep-alive agent (admin calls, the recovery
 * measurement's raw requests), and the coordinator clients (concord/client) that the
 * transactions are run through, sharing one undici pool of the same size. The benchmark should
 * measure the server, not the client.
 */
import { Agent, request } from "node:http";
import { Agent as UndiciAgent } from "undici";
import { CoordinatorClient } from "../../shared/client/index.js";

export class KeepAliveJson {
  private readonly agent: Agent;
  private readonly pool: UndiciAgent;
  private readonly clients = new Map<string, CoordinatorClient>();

  constructor(
    maxSockets: number,
    private readonly timeoutMs = 30_000,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.pool = new UndiciAgent({ connections: maxSockets, keepAliveTimeout: 30_000 });
  }

  /**
   * The client of the coordinator at `url` with `apiKey`. It sends each request once: a failure
   * is the cell's error to count, not something to hide behind a retry. (The transactions are
   * run with `idempotent: false`: an Idempotency-Key is one more durable write in the decision
   * log per transaction, which the published numbers never included.)
   */
  coordinator(url: string, apiKey: string): CoordinatorClient {
    const key = `${url} ${apiKey}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new CoordinatorClient({
        url,
        apiKey,
        dispatcher: this.pool,
        retries: 0,
        timeoutMs: this.timeoutMs,
        deadlineMs: this.timeoutMs,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  post(
    url: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: {
            "content-type": "application/json",
            "content-length": String(payload.length),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON: keep the text for the error message */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`no answer from ${url} within ${this.timeoutMs} ms`)),
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
    void this.pool.destroy().catch(() => undefined);
  }
}
