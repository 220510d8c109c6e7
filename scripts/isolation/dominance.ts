/**
 * Points (a, b) that answer "which have a <= aMax and b > bMin" in time proportional to the answer
 * (times log n), not to the number of points. The fractured-read check asks this once per pair of
 * accounts a read saw: a = the version a writer left on one account, b = on the other. A scan
 * would make the check quadratic in the history.
 *
 * The points are sorted by a, so a <= aMax is a prefix; a segment tree holds the largest b under
 * each node, so a search descends only into subtrees that hold an answer.
 */
export interface Point<T> {
  a: number;
  b: number;
  value: T;
}

export class DominanceIndex<T> {
  private readonly as: number[];
  private readonly values: T[];
  private readonly leaves: number;
  /** maxB[node]: the largest b under the node; node 1 is the root, leaves start at `leaves`. */
  private readonly maxB: number[];

  constructor(points: readonly Point<T>[]) {
    const sorted = [...points].sort((p, q) => p.a - q.a);
    this.as = sorted.map((p) => p.a);
    this.values = sorted.map((p) => p.value);
    let leaves = 1;
    while (leaves < sorted.length) leaves *= 2;
    this.leaves = leaves;
    this.maxB = new Array<number>(2 * leaves).fill(-Infinity);
    sorted.forEach((p, i) => (this.maxB[leaves + i] = p.b));
    for (let node = leaves - 1; node >= 1; node--) {
      this.maxB[node] = Math.max(this.at(2 * node), this.at(2 * node + 1));
    }
  }

  /** The values of the points with a <= aMax and b > bMin, in order of a. */
  query(aMax: number, bMin: number): T[] {
    const out: T[] = [];
    this.collect(1, 0, this.leaves, this.prefixLength(aMax), bMin, out);
    return out;
  }

  private collect(node: number, lo: number, hi: number, end: number, bMin: number, out: T[]): void {
    if (lo >= end || this.at(node) <= bMin) return;
    if (hi - lo === 1) {
      out.push(this.values[lo] as T);
      return;
    }
    const mid = (lo + hi) >>> 1;
    this.collect(2 * node, lo, mid, end, bMin, out);
    this.collect(2 * node + 1, mid, hi, end, bMin, out);
  }

  /** How many points have a <= aMax. */
  private prefixLength(aMax: number): number {
    let lo = 0;
    let hi = this.as.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.as[mid] ?? Infinity) <= aMax) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private at(node: number): number {
    return this.maxB[node] ?? -Infinity;
  }
}
