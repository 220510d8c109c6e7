/**
 * The protocol core over many seeded interleavings: the engine, recovery passes of this and of
 * a second coordinator (beside the live engine, before and after its deadline), participants'
 * inquiries and a client's repeated requests all hold one transaction at once, over a network that loses and
 * duplicates messages (test/support/protocol-world.ts). Safety is checked at every step;
 * liveness once the network heals and recovery runs.
 */
import { expect } from "chai";
import { seededRandom } from "../../scripts/chaos/prng.js";
import type { Vote } from "../../shared/messages.js";
import { World } from "../support/protocol-world.js";

function playOnce(seed: number): string[] {
  const random = seededRandom(seed);
  const n = 2 + Math.floor(random() * 3);
  const participants = Array.from({ length: n }, (_, i) => `p${i}`);
  const intents = participants.map((): Vote => {
    const r = random();
    return r < 0.75 ? "yes" : r < 0.88 ? "read-only" : "no";
  });
  const world = new World(random, participants, intents);
  world.startEngine();
  for (let steps = 0; steps < 400 && world.runOne(); steps++) {
    const r = random();
    // Another holder joins now and then: a recovery pass (the deadline may or may not have
    // passed on the log's clock), a client's repeated request, or an inquiry from a
    // participant in doubt.
    if (r < 0.04) world.startRecovery(random() < 0.6);
    else if (r < 0.05) world.startReplay(random() < 0.5);
    else if (r < 0.08) {
      const [asker] = world.inDoubt();
      if (asker) world.startInquiry(asker, random() < 0.3, random() < 0.6);
    }
  }
  world.heal();
  // Recovery after the deadline, until nothing is left to do.
  for (let pass = 0; pass < 10; pass++) {
    world.startRecovery(true);
    for (let steps = 0; steps < 1000 && world.runOne(); steps++);
    if (world.decided !== undefined && world.inDoubt().length === 0) break;
  }
  world.checkFinished();
  return world.problems;
}

describe("protocol core over seeded interleavings of every holder of a transaction", () => {
  it("over 1000 seeds: one decision, COMMIT only with every vote YES, only the stored decision is sent or told, and everything finishes", () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 1000; seed++) {
      const problems = playOnce(seed);
      if (problems.length > 0) failures.push(`seed ${seed}: ${problems.join("; ")}`);
    }
    expect(failures, failures.slice(0, 5).join("\n")).to.deep.equal([]);
  });
});
