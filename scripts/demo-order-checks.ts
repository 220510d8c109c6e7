/**
 * The order scenario's checks: money is conserved, each item's stock + sold is conserved, a
 * committed order moved exactly its amount and quantity, a failed order changed nothing (neither
 * the rows it touched nor a ledger entry or stock movement anywhere), each order ended as planned,
 * and no prepared transaction is left.
 */
import type { ClusterFile } from "./cluster/cluster-file.js";
import { countRows, printChecks, withDatabase } from "./demo-cluster.js";
import { money } from "./demo-format.js";
import type { OrderResult, Snapshot, World } from "./demo-order-run.js";

interface Run {
  before: Snapshot;
  after: Snapshot;
  results: OrderResult[];
}

export async function orderChecks(cluster: ClusterFile, world: World, run: Run): Promise<boolean> {
  const { before, after, results } = run;
  const sum = (s: Snapshot) => [...s.balances.values()].reduce((t, v) => t + v, 0n);
  const units = (s: Snapshot, id: string) => {
    const v = s.items.get(id);
    return v === undefined ? undefined : v.stock + v.sold;
  };
  const committed = results.filter((r) => r.outcome === "committed");
  const failed = results.filter((r) => r.outcome !== "committed");
  const traces = await tracesOf(cluster, world, results);
  const prepared = await preparedLeft(cluster, world);
  const checks: [string, boolean][] = [
    [
      `money conserved (${money(sum(before))} before, ${money(sum(after))} after)`,
      sum(before) === sum(after),
    ],
    [
      `stock + sold conserved for every item (${world.items.map((i) => `${i.id} ${units(before, i.id) ?? "?"} -> ${units(after, i.id) ?? "?"}`).join(", ")})`,
      world.items.every((i) => units(before, i.id) === units(after, i.id)),
    ],
    [
      `each committed order moved exactly its amount and quantity (${committed.length} orders)`,
      committed.every(movedExactly),
    ],
    [
      `each failed order changed nothing it touched (${failed.length} orders)`,
      failed.every((r) => sameTouched(r)),
    ],
    [
      `no failed order or attempt left a ledger entry or a stock movement (${traces.found} found for ${traces.txids} txids)`,
      traces.found === 0,
    ],
    [
      `each order ended as planned (${results.filter(asPlanned).length} of ${results.length})`,
      results.every(asPlanned),
    ],
    [
      `some orders failed on purpose, and some committed (${failed.length} failed, ${committed.length} committed)`,
      failed.length > 0 && committed.length > 0,
    ],
    [`no prepared transaction left anywhere (${prepared} found)`, prepared === 0],
  ];
  return printChecks(checks);
}

function movedExactly(r: OrderResult): boolean {
  const { before: b, after: a, order: o } = r;
  const sameBank = o.customer.bank === o.shopBank;
  return (
    !sameBank &&
    a.customer === b.customer - o.amount &&
    a.shop === b.shop + o.amount &&
    a.stock === b.stock - o.quantity &&
    a.sold === b.sold + o.quantity
  );
}

function sameTouched(r: OrderResult): boolean {
  const { before: b, after: a } = r;
  return a.customer === b.customer && a.shop === b.shop && a.stock === b.stock && a.sold === b.sold;
}

function asPlanned(r: OrderResult): boolean {
  if (r.order.expected.length === 0) return r.outcome === "committed";
  return r.outcome === "aborted" && r.order.expected.includes(r.reason);
}

/**
 * Ledger entries (banks) and stock movements (inventory) of every failed order and of every
 * aborted attempt, a committed order's earlier ones included.
 */
async function tracesOf(
  cluster: ClusterFile,
  world: World,
  results: OrderResult[],
): Promise<{ found: number; txids: number }> {
  const aborted = results.flatMap((r) => [
    ...(r.outcome === "committed" ? [] : [r.txid]),
    ...r.attempts.filter((a) => a.outcome === "aborted").map((a) => a.txid),
  ]);
  const txids = [...new Set(aborted.filter((t) => t !== ""))];
  let found = 0;
  for (const bank of world.banks)
    found += await withDatabase(cluster, bank, (db) =>
      countRows(db, "SELECT count(*) AS n FROM ledger WHERE txid = ANY($1::uuid[])", [txids]),
    );
  found += await withDatabase(cluster, world.inventory, (db) =>
    countRows(db, "SELECT count(*) AS n FROM item_movements WHERE txid = ANY($1::uuid[])", [txids]),
  );
  return { found, txids: txids.length };
}

async function preparedLeft(cluster: ClusterFile, world: World): Promise<number> {
  let total = 0;
  for (const name of [...world.banks, world.inventory])
    total += await withDatabase(cluster, name, (db) =>
      countRows(db, "SELECT count(*) AS n FROM pg_prepared_xacts"),
    );
  return total;
}
