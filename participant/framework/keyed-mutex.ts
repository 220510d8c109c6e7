/**
 * Serializes work per key inside one process. A participant runs PREPARE, COMMIT and ABORT of
 * one txid one at a time, so an ABORT that arrives while its PREPARE is still running waits for
 * it and then rolls the prepared transaction back, instead of racing it.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      // The map holds only keys with work queued, so it cannot grow with history.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  has(key: string): boolean {
    return this.tails.has(key);
  }

  get size(): number {
    return this.tails.size;
  }
}
