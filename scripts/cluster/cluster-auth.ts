/**
 * Authenticating the scripts' and tests' requests to a local cluster with the secrets in its
 * cluster.json: the API key for the coordinator's transaction API, the admin secret for a
 * participant's reads (a bank's accounts and ledger, an inventory's items, its invariants), and
 * the signatures the coordinator (2PC routes) or a participant
 * (decision inquiry) would put on theirs.
 */
import type { InternalAxiosRequestConfig } from "axios";
import { signerFor, type Signer } from "../../shared/auth.js";
import { SIGNATURE_HEADER } from "../../shared/request-signing.js";
import { adminSecretOf, type ClusterFile } from "./cluster-file.js";

/** A participant's routes that only read, for its operators (its own admin secret). */
const ADMIN_READS = ["/v1/accounts", "/v1/customers", "/v1/ledger", "/v1/items", "/v1/invariants"];

export function apiKeyHeader(cluster: ClusterFile): Record<string, string> {
  return { authorization: `Bearer ${cluster.secrets.apiKey}` };
}

/** The body exactly as it will be sent, so a signature can cover it. */
function serialized(config: InternalAxiosRequestConfig): string {
  if (config.data === undefined || config.data === null) return "";
  if (typeof config.data === "string") return config.data;
  const text = JSON.stringify(config.data);
  config.data = text;
  if (!config.headers.has("content-type")) config.headers.set("content-type", "application/json");
  return text;
}

/** Adds the signature headers `sign` makes for this request as it will be sent. */
function signWith(
  config: InternalAxiosRequestConfig,
  method: string,
  url: URL,
  sign: Signer,
): void {
  const body = serialized(config);
  const contentType = body === "" ? "" : String(config.headers.get("content-type") ?? "");
  for (const [k, v] of Object.entries(sign(method, url.pathname + url.search, body, contentType)))
    config.headers.set(k, v);
}

/**
 * An axios request interceptor for the clusters `clusters()` lists: requests to their
 * coordinators and participants get the credentials a legitimate caller has. A request that
 * already carries an Authorization or signature header is left alone (tests of the checks).
 */
export function authenticateRequests(
  clusters: () => Iterable<ClusterFile>,
): (config: InternalAxiosRequestConfig) => InternalAxiosRequestConfig {
  return (config) => {
    if (!config.url || config.headers.has("authorization") || config.headers.has(SIGNATURE_HEADER))
      return config;
    const url = new URL(config.url, config.baseURL);
    const method = (config.method ?? "get").toUpperCase();
    for (const cluster of clusters()) {
      if (url.origin === new URL(cluster.coordinator.url).origin) {
        if (/^\/v1\/transactions\/[^/]+\/decision\/?$/.test(url.pathname)) {
          // Asked as the first bank would, in doubt.
          const bank = cluster.banks[0]?.name ?? "";
          signWith(
            config,
            method,
            url,
            signerFor({
              secret: cluster.secrets.participantSecrets[bank] ?? "",
              keyId: bank,
              audience: "coordinator",
            }),
          );
        } else if (url.pathname.startsWith("/v1/transactions")) {
          // Transfers as the first client; reads of balances, and looking at transactions (every
          // client's), as the operator.
          const text =
            typeof config.data === "string" ? config.data : JSON.stringify(config.data ?? "");
          const asOperator = method !== "POST" || /"op"\s*:\s*"read"/.test(text);
          config.headers.set(
            "authorization",
            `Bearer ${asOperator ? adminSecretOf(cluster, "coordinator") : cluster.secrets.apiKey}`,
          );
        }
        return config;
      }
      const bank = cluster.participants.find(
        (b) => new URL(b.participantUrl).origin === url.origin,
      );
      // Reads only: opening an account or creating an item stays an explicit act of the test or
      // script.
      if (bank && method === "GET" && ADMIN_READS.some((path) => url.pathname.startsWith(path))) {
        config.headers.set("authorization", `Bearer ${adminSecretOf(cluster, bank.name)}`);
        return config;
      }
      if (bank && url.pathname.startsWith("/v1/2pc")) {
        signWith(
          config,
          method,
          url,
          signerFor({
            secret: cluster.secrets.participantSecrets[bank.name] ?? "",
            keyId: "coordinator",
            audience: bank.name,
          }),
        );
        return config;
      }
    }
    return config;
  };
}
