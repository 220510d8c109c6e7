/**
 * One order of the order scenario: one transaction over three participants (the customer's bank,
 * the shop's bank, the inventory) sent through the client library, with the rows it touches read
 * right before and right after, so that the checks can say what it changed.
 */
import {
  CoordinatorRequestError,
  CoordinatorUnavailableError,
  type Attempt,
  type CoordinatorClient,
  type ParticipantOperations,
} from "../shared/client/index.js";
import { waitUntilSettled } from "./cluster/admin-client.js";
import type { ClusterFile } from "./cluster/cluster-file.js";
import { readBalance, readItem } from "./demo-cluster.js";

/** The shop's account id, at every bank. */
export const SHOP = "shop";

/** Balances by `bank/account`, and each item's stock and sold, as the participants tell them. */
export interface Snapshot {
  balances: Map<string, bigint>;
  items: Map<string, { stock: number; sold: number }>;
}

export const accountKey = (bank: string, id: string) => `${bank}/${id}`;

/** What the scenario runs on: banks, the inventory's name, customers and the catalogue. */
export interface World {
  banks: string[];
  inventory: string;
  customers: { id: string; bank: string }[];
  items: { id: string; price: bigint }[];
}

export interface Order {
  n: number;
  customer: { id: string; bank: string };
  shopBank: string;
  item: string;
  quantity: number;
  /** Minor units: price × quantity. */
  amount: bigint;
  /** The refusal reasons the plan expects (any of them); empty when it should commit. */
  expected: string[];
}

/** The rows one order touches: the customer's and the shop's balances, the item's counts. */
export interface Touched {
  customer: bigint;
  shop: bigint;
  stock: number;
  sold: number;
}

export interface OrderResult {
  order: Order;
  /** committed, aborted, unknown, or `refused` (a 4xx) / `error` (no answer). */
  outcome: string;
  reason: string;
  txid: string;
  /** Every attempt's txid and outcome (the coordinator retries transient conflicts). */
  attempts: Attempt[];
  before: Touched;
  after: Touched;
}

/** The order's one transaction: debit, credit, reserve. */
export function orderParticipants(world: World, o: Order): ParticipantOperations[] {
  const amount = o.amount.toString();
  return [
    {
      name: o.customer.bank,
      operations: [{ op: "debit", account: o.customer.id, amount }],
    },
    { name: o.shopBank, operations: [{ op: "credit", account: SHOP, amount }] },
    {
      name: world.inventory,
      operations: [{ op: "reserve", item: o.item, quantity: o.quantity }],
    },
  ];
}

export async function placeOrder(
  cluster: ClusterFile,
  client: CoordinatorClient,
  world: World,
  order: Order,
): Promise<OrderResult> {
  const before = await touched(cluster, world, order);
  const told = await client.run({ participants: orderParticipants(world, order) }).then(
    (r) => ({
      outcome: r.outcome,
      reason: r.outcome === "aborted" ? (r.refusedBy?.reason ?? r.reason ?? "") : "",
      txid: r.txid,
      attempts: r.attempts,
    }),
    (err: unknown) => toldOfError(err),
  );
  // The answer may come before phase 2 is done at every participant: read at rest.
  await waitUntilSettled(cluster, 10_000);
  const after = await touched(cluster, world, order);
  return { order, ...told, before, after };
}

function toldOfError(err: unknown): Omit<OrderResult, "order" | "before" | "after"> {
  if (err instanceof CoordinatorRequestError)
    return {
      outcome: "refused",
      reason: `${err.status} ${err.code}`,
      txid: err.answer?.txid ?? "",
      attempts: err.answer?.attempts ?? [],
    };
  if (err instanceof CoordinatorUnavailableError)
    return { outcome: "error", reason: err.message, txid: "", attempts: [] };
  throw err;
}

async function touched(cluster: ClusterFile, world: World, o: Order): Promise<Touched> {
  const item = await readItem(cluster, world.inventory, o.item);
  return {
    customer: await readBalance(cluster, o.customer.bank, o.customer.id),
    shop: await readBalance(cluster, o.shopBank, SHOP),
    ...item,
  };
}
