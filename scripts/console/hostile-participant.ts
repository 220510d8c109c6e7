/**
 * A participant whose refusal carries HTML: it votes NO (or aborts a one-phase transaction) with
 * a reason that is markup. The coordinator passes a participant's reason on as text (up to 200
 * characters, coordinator/participant-replies.ts and shared/messages.ts; nothing strips it), so
 * it reaches the transaction's record and the console, which must show it as characters. Used
 * by the console's browser test and the screenshot script; it checks no signature, as it holds
 * nothing.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { noopAnswer } from "../bench/noop-answer.js";
import { participantsFilePath } from "../cluster/directory-files.js";
import {
  describeParticipant,
  DESCRIPTOR_HASH_HEADER,
} from "../../shared/participant-descriptor.js";

export const HTML_REASON = `<img src=x onerror="document.title='pwned'"><b>bold</b>`;

export interface HostileParticipant {
  name: string;
  url: string;
  close(): Promise<void>;
}

function answer(txid: string, action: string): { status: number; body: unknown } {
  if (action === "prepare") return { status: 200, body: { vote: "no", reason: HTML_REASON } };
  if (action === "one-phase")
    return { status: 200, body: { outcome: "aborted", reason: HTML_REASON } };
  return noopAnswer(txid, action);
}

function reply(res: ServerResponse, hash: string, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", [DESCRIPTOR_HASH_HEADER]: hash });
  res.end(JSON.stringify(body));
}

/** Starts it on 127.0.0.1 and adds it to the coordinator's participants file in `clusterDir`. */
export async function startHostileParticipant(
  clusterDir: string,
  name = "hostile",
): Promise<HostileParticipant> {
  const descriptor = describeParticipant({
    participant: name,
    application: "hostile",
    operationsSchema: { type: "array", minItems: 1, maxItems: 4 },
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      const single = /^\/v1\/2pc\/([0-9a-f-]+)\/([a-z-]+)$/.exec(path);
      if (path === "/v1/prepared")
        reply(res, descriptor.hash, 200, { participant: name, prepared: [], truncated: false });
      else if (path === "/v1/descriptor" || path === "/healthz")
        reply(res, descriptor.hash, 200, path === "/healthz" ? { ok: true } : descriptor);
      else if (path === "/v1/2pc/batch") {
        const { messages } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          messages: { txid: string; action: string }[];
        };
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.end(
          messages
            .map((m, i) => `${JSON.stringify({ index: i, ...answer(m.txid, m.action) })}\n`)
            .join(""),
        );
      } else if (single) {
        const a = answer(single[1] ?? "", single[2] ?? "");
        reply(res, descriptor.hash, a.status, a.body);
      } else reply(res, descriptor.hash, 404, { error: { code: "not-found", message: path } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("no address");
  const url = `http://127.0.0.1:${address.port}`;
  addToParticipantsFile(clusterDir, name, url);
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return { name, url, close };
}

/** Written whole and renamed into place: the coordinator reads the file again when it changes. */
function addToParticipantsFile(clusterDir: string, name: string, url: string): void {
  const path = participantsFilePath(clusterDir);
  const file = JSON.parse(readFileSync(path, "utf8")) as {
    participants: Record<string, { url: string; secret: string }>;
  };
  file.participants[name] = { url, secret: randomBytes(32).toString("base64url") };
  writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
