/**
 * Orders in the chaos workload: one transaction over three participants, where a customer's
 * account at one bank is debited, a shop's account at another bank is credited with the same
 * amount, and a small quantity of an item is reserved at an inventory. All or nothing: an item out
 * of stock (the inventory's NO vote `out-of-stock`) aborts the payment too.
 */
import axios from "axios";
import type { RunRequest } from "../../shared/client/index.js";
import { adminSecretOf, type ClusterFile } from "../cluster/cluster-file.js";
import { between, pickFrom } from "./prng.js";
import type { Account } from "./account.js";

export interface StockedItem {
  id: string;
  stock: number;
}

/** Where orders reserve: the cluster's inventories, each holding every item below. */
export interface Shop {
  inventories: readonly string[];
  /** Items with stock enough for any run. */
  plentiful: readonly StockedItem[];
  /** An item with a few units only: once they are sold, every order of it aborts out of stock. */
  scarce: StockedItem;
}

export const SHOP_ITEMS = {
  plentiful: [0, 1, 2, 3].map((i): StockedItem => ({ id: `item-${String(i)}`, stock: 1_000_000 })),
  scarce: { id: "item-scarce", stock: 12 },
};

/** Of all orders, the share that asks for the scarce item. */
const SCARCE_SHARE = 0.2;
/** The most units one order reserves (at least one). */
const MAX_QUANTITY = 3;
/** The most one order pays (at least 1). */
const MAX_PRICE = 200;

/**
 * Creates the shop's items at every inventory of the cluster (its admin route, POST /v1/items,
 * with the inventory's admin secret); undefined when the cluster has no inventory.
 */
export async function stockShop(cluster: ClusterFile): Promise<Shop | undefined> {
  const inventories = cluster.participants.filter((p) => p.application === "inventory");
  if (inventories.length === 0) return undefined;
  for (const inventory of inventories) {
    for (const item of [...SHOP_ITEMS.plentiful, SHOP_ITEMS.scarce]) {
      const res = await axios.post(`${inventory.participantUrl}/v1/items`, item, {
        headers: { authorization: `Bearer ${adminSecretOf(cluster, inventory.name)}` },
        validateStatus: () => true,
      });
      if (res.status !== 201)
        throw new Error(
          `stocking ${inventory.name}/${item.id}: ${String(res.status)} ${JSON.stringify(res.data)}`,
        );
    }
  }
  return { inventories: inventories.map((p) => p.name), ...SHOP_ITEMS };
}

/** The items created by stockShop, for a report: `item-0 1000000, ..., item-scarce 12`. */
export function describeShop(shop: Shop): string {
  const items = [...shop.plentiful, shop.scarce].map((i) => `${i.id} ${String(i.stock)}`);
  return `${items.join(", ")} at ${shop.inventories.join(", ")}`;
}

/** Draws one order: who pays whom (two different banks), what it costs, and what it reserves. */
export function drawOrder(
  random: () => number,
  accounts: readonly Account[],
  shop: Shop,
): RunRequest {
  const customer = pickFrom(random, accounts);
  let seller = pickFrom(random, accounts);
  while (seller.bank === customer.bank) seller = pickFrom(random, accounts);
  const price = String(between(random, 1, MAX_PRICE));
  const inventory = pickFrom(random, shop.inventories);
  const item = random() < SCARCE_SHARE ? shop.scarce : pickFrom(random, shop.plentiful);
  const quantity = between(random, 1, MAX_QUANTITY);
  return {
    participants: [
      { name: customer.bank, operations: [{ op: "debit", account: customer.id, amount: price }] },
      { name: seller.bank, operations: [{ op: "credit", account: seller.id, amount: price }] },
      { name: inventory, operations: [{ op: "reserve", item: item.id, quantity }] },
    ],
    timeoutMs: 3000,
  };
}
