/**
 * `npm run demo -- --scenario order`: a shop sells items; each order is ONE transaction that
 * debits the customer at their bank, credits the shop at another bank and reserves the items at
 * the inventory. Some orders fail on purpose (out of stock, insufficient funds) and must change
 * nothing anywhere. Orders run one after the other, so what each should do is known beforehand
 * (the plan is simulated on the state read before): a rerun on the same cluster plans anew.
 */
import type { CoordinatorClient } from "../shared/client/index.js";
import { waitUntilSettled } from "./cluster/admin-client.js";
import type { ClusterFile } from "./cluster/cluster-file.js";
import { openOrReuse, out, readBalance, readItem } from "./demo-cluster.js";
import { money, table } from "./demo-format.js";
import { orderChecks } from "./demo-order-checks.js";
import {
  accountKey,
  placeOrder,
  SHOP,
  type Order,
  type OrderResult,
  type Snapshot,
  type World,
} from "./demo-order-run.js";

/** Customers, each banking at one bank (by index into the cluster's banks). */
const CUSTOMERS = [
  { id: "alice", bank: 0 },
  { id: "bob", bank: 1 },
  { id: "carol", bank: 2 },
];
const OPENING_BALANCE = 100_000n; // 1,000.00
/** The catalogue: price in minor units, and the stock an item is created with. */
const ITEMS = [
  { id: "widget", price: 1_250n, stock: 1_000 },
  { id: "gadget", price: 8_000n, stock: 20 },
  { id: "gizmo", price: 5_000n, stock: 3 },
];

/**
 * The orders of a run: [customer, item, quantity]. `"one-over-stock"` asks one more than the
 * stock (out of stock); `"over-budget"` asks one more unit than the customer can pay for.
 */
const PLAN: [string, string, number | "one-over-stock" | "over-budget"][] = [
  ["alice", "widget", 2],
  ["bob", "gadget", 1],
  ["carol", "gizmo", "one-over-stock"],
  ["alice", "gizmo", 1],
  ["bob", "widget", "over-budget"],
  ["carol", "widget", 3],
  ["bob", "gizmo", "one-over-stock"],
  ["carol", "gadget", 2],
];

export async function runOrderScenario(
  cluster: ClusterFile,
  client: CoordinatorClient,
): Promise<boolean> {
  const inventory = cluster.participants.find((p) => p.application === "inventory")?.name;
  if (!inventory)
    throw new Error(
      `the cluster in ${cluster.dir} runs no inventory participant; stop it (npm run cluster -- stop) and run the demo again to start one with the inventory`,
    );
  if (cluster.banks.length < 2) throw new Error("the order scenario needs at least 2 banks");
  const world = await openShop(cluster, inventory);
  const before = await readWorld(cluster, world);
  out("\nBefore:");
  printWorld(world, before);

  const orders = planOrders(world, before);
  out(`\nPlacing ${orders.length} orders, one transaction each (some fail on purpose):`);
  const results: OrderResult[] = [];
  for (const order of orders) {
    const result = await placeOrder(cluster, client, world, order);
    results.push(result);
    out(`  ${describeOrder(order)}  ->  ${describeResult(result)}`);
  }
  await waitUntilSettled(cluster);
  const after = await readWorld(cluster, world);
  out("\nAfter:");
  printWorld(world, after);
  return orderChecks(cluster, world, { before, after, results });
}

/** Opens the accounts and creates the items (an earlier run's are reused). */
async function openShop(cluster: ClusterFile, inventory: string): Promise<World> {
  const banks = cluster.banks.map((b) => b.name);
  const customers = CUSTOMERS.map((c) => ({ id: c.id, bank: banks[c.bank % banks.length] ?? "" }));
  for (const c of customers)
    await openOrReuse(cluster, c.bank, "/v1/accounts", {
      id: c.id,
      balance: OPENING_BALANCE.toString(),
    });
  for (const bank of banks)
    await openOrReuse(cluster, bank, "/v1/accounts", { id: SHOP, balance: "0" });
  for (const item of ITEMS)
    await openOrReuse(cluster, inventory, "/v1/items", { id: item.id, stock: item.stock });
  return { banks, inventory, customers, items: ITEMS.map((i) => ({ id: i.id, price: i.price })) };
}

export async function readWorld(cluster: ClusterFile, world: World): Promise<Snapshot> {
  const balances = new Map<string, bigint>();
  const accounts = [...world.customers, ...world.banks.map((bank) => ({ id: SHOP, bank }))];
  for (const a of accounts)
    balances.set(accountKey(a.bank, a.id), await readBalance(cluster, a.bank, a.id));
  const items = new Map<string, { stock: number; sold: number }>();
  for (const item of world.items)
    items.set(item.id, await readItem(cluster, world.inventory, item.id));
  return { balances, items };
}

/**
 * The plan's orders with their quantities and what each should do, simulated in order on the
 * state read before: a failure asked for on purpose fails whatever the state, and an order meant
 * to succeed is expected to fail only if earlier runs left too little.
 */
function planOrders(world: World, before: Snapshot): Order[] {
  const balance = new Map(before.balances);
  const stock = new Map([...before.items].map(([id, v]) => [id, v.stock]));
  return PLAN.map(([customerId, itemId, asked], i): Order => {
    const customer = world.customers.find((c) => c.id === customerId) ?? world.customers[0];
    const item = world.items.find((it) => it.id === itemId) ?? world.items[0];
    if (!customer || !item) throw new Error("the order plan names no customer or item");
    const shopBank = world.banks[(world.banks.indexOf(customer.bank) + 1) % world.banks.length];
    const funds = balance.get(accountKey(customer.bank, customer.id)) ?? 0n;
    const left = stock.get(item.id) ?? 0;
    const quantity =
      asked === "one-over-stock"
        ? Math.min(left + 1, 1_000_000)
        : asked === "over-budget"
          ? Math.min(Number(funds / item.price) + 1, 1_000_000)
          : asked;
    const amount = item.price * BigInt(quantity);
    // Both refusals can hold at once: the bank and the inventory vote in parallel.
    const expected = [
      ...(funds < amount ? ["insufficient-funds"] : []),
      ...(left < quantity ? ["out-of-stock"] : []),
    ];
    if (expected.length === 0) {
      balance.set(accountKey(customer.bank, customer.id), funds - amount);
      stock.set(item.id, left - quantity);
    }
    return {
      n: i + 1,
      customer,
      shopBank: shopBank ?? "",
      item: item.id,
      quantity,
      amount,
      expected,
    };
  });
}

function describeOrder(o: Order): string {
  return `#${o.n} ${o.customer.id} (${o.customer.bank}) buys ${o.quantity} × ${o.item} for ${money(o.amount)}, paid to ${SHOP}@${o.shopBank}`;
}

function describeResult(r: OrderResult): string {
  const planned =
    r.order.expected.length === 0 ? "" : ` (planned: ${r.order.expected.join(" or ")})`;
  return r.outcome === "committed" ? `committed${planned}` : `${r.outcome}: ${r.reason}${planned}`;
}

function printWorld(world: World, s: Snapshot): void {
  const holders = [...world.customers.map((c) => c.id), SHOP];
  const rows = holders.map((h) => [
    h,
    ...world.banks.map((b) => {
      const v = s.balances.get(accountKey(b, h));
      return v === undefined ? "" : money(v);
    }),
  ]);
  const total = [...s.balances.values()].reduce((sum, v) => sum + v, 0n);
  out(
    table(
      ["account", ...world.banks],
      rows,
      world.banks.map((_, i) => i + 1),
    ),
  );
  out(`total money: ${money(total)}`);
  out("");
  const itemRows = world.items.map((it) => {
    const v = s.items.get(it.id) ?? { stock: 0, sold: 0 };
    return [it.id, money(it.price), String(v.stock), String(v.sold), String(v.stock + v.sold)];
  });
  out(table(["item", "price", "stock", "sold", "stock+sold"], itemRows, [1, 2, 3, 4]));
}
