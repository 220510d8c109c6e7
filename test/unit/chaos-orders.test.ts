/** The chaos workload's orders: what one order asks of the banks and the inventory. */
import { expect } from "chai";
import { drawOrder, SHOP_ITEMS, type Shop } from "../../scripts/chaos/orders.js";
import { seededRandom } from "../../scripts/chaos/prng.js";
import { outcomesLine } from "../../scripts/chaos/report.js";

const accounts = ["bank-a", "bank-b", "bank-c"].flatMap((bank) =>
  [0, 1].map((i) => ({ bank, id: `acct-${String(i)}` })),
);
const shop: Shop = { inventories: ["inventory"], ...SHOP_ITEMS };

interface Op {
  op: string;
  account?: string;
  amount?: string;
  item?: string;
  quantity?: number;
}

describe("chaos orders", () => {
  it("an order pays between two different banks and reserves a small quantity at the inventory", () => {
    const random = seededRandom(11);
    const items = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const order = drawOrder(random, accounts, shop);
      const [debit, credit, reserve] = order.participants;
      expect(order.participants).to.have.length(3);
      if (!debit || !credit || !reserve) return;
      expect(debit.name).to.not.equal(credit.name);
      const [d] = debit.operations as Op[];
      const [c] = credit.operations as Op[];
      const [r] = reserve.operations as Op[];
      expect(d?.op).to.equal("debit");
      expect(c?.op).to.equal("credit");
      expect(c?.amount).to.equal(d?.amount);
      expect(Number(d?.amount)).to.be.within(1, 200);
      expect(reserve.name).to.equal("inventory");
      expect(r?.op).to.equal("reserve");
      expect(r?.quantity).to.be.within(1, 3);
      items.add(r?.item ?? "");
    }
    // Some orders ask for the scarce item (they abort out of stock once it is sold out).
    expect(items).to.include(SHOP_ITEMS.scarce.id);
    expect(items.size).to.equal(SHOP_ITEMS.plentiful.length + 1);
  });

  it("the same seed draws the same orders", () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return [0, 1, 2].map(() => drawOrder(random, accounts, shop));
    };
    expect(draw(4)).to.deep.equal(draw(4));
  });

  it("the report counts outcomes, with the aborts out of stock when they are counted", () => {
    const counts = { committed: 5, aborted: 3, unknown: 1, error: 2 };
    expect(outcomesLine(counts)).to.equal("5 committed, 3 aborted, 1 unknown, 2 without an answer");
    expect(outcomesLine({ ...counts, outOfStock: 2 })).to.equal(
      "5 committed, 3 aborted (2 out of stock), 1 unknown, 2 without an answer",
    );
  });
});
