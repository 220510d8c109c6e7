import { expect } from "chai";
import { FailpointError, Failpoints } from "../../shared/failpoints.js";

describe("failpoints", () => {
  const names = ["a.one", "a.two"] as const;

  it("pass through when nothing is armed", async () => {
    const fp = new Failpoints(names);
    await fp.hit("a.one");
    expect(fp.isArmed("a.one")).to.equal(false);
  });

  it("parse CONCORD_FAILPOINTS: actions, sleep(ms), probability and count", () => {
    const fp = new Failpoints(names);
    fp.configure("a.one=sleep(25)@0.5#3; a.two=crash#1");
    expect(fp.list()).to.deep.equal([
      {
        name: "a.one",
        spec: { action: "sleep", ms: 25, probability: 0.5, count: 3 },
        remaining: 3,
        fired: 0,
        finished: 0,
      },
      { name: "a.two", spec: { action: "crash", count: 1 }, remaining: 1, fired: 0, finished: 0 },
    ]);
  });

  it("refuse an unknown failpoint and a malformed entry, naming them", () => {
    const fp = new Failpoints(names);
    expect(() => {
      fp.configure("a.three=crash");
    }).to.throw(/unknown failpoint "a.three"/);
    expect(() => {
      fp.configure("a.one=explode");
    }).to.throw(/cannot parse "a.one=explode"/);
    expect(() => {
      fp.set("a.one", { action: "sleep" });
    }).to.throw(/sleep needs ms/);
  });

  it("an error failpoint throws FailpointError, and disarms itself after its count", async () => {
    const fp = new Failpoints(names);
    fp.set("a.one", { action: "error", count: 2 });
    for (let i = 0; i < 2; i++) {
      let thrown: unknown;
      await fp.hit("a.one").catch((err: unknown) => (thrown = err));
      expect(thrown).to.be.instanceOf(FailpointError);
    }
    expect(fp.isArmed("a.one")).to.equal(false);
    await fp.hit("a.one");
  });

  it("fires only when the injected random number is below the probability", async () => {
    const draws = [0.9, 0.1];
    const fired: string[] = [];
    const fp = new Failpoints(
      names,
      (name) => fired.push(name),
      () => draws.shift() ?? 1,
    );
    fp.set("a.two", { action: "sleep", ms: 0, probability: 0.5 });
    await fp.hit("a.two");
    expect(fired).to.deep.equal([]);
    await fp.hit("a.two");
    expect(fired).to.deep.equal(["a.two"]);
  });

  it("count the hits that fired and those whose action finished, after the failpoint disarmed itself, until it is armed again", async () => {
    const fp = new Failpoints(names);
    const counts = () => fp.list().find((f) => f.name === "a.one");
    fp.set("a.one", { action: "sleep", ms: 1, count: 1 });
    const held = fp.hit("a.one");
    // Fired at once; finished only when the sleep is over.
    expect(counts()).to.deep.include({ spec: null, remaining: null, fired: 1, finished: 0 });
    await held;
    expect(counts()).to.deep.include({ fired: 1, finished: 1 });
    await fp.hit("a.one");
    expect(counts(), "a disarmed failpoint counts nothing more").to.deep.include({
      fired: 1,
      finished: 1,
    });
    fp.set("a.one", { action: "hang" });
    void fp.hit("a.one");
    expect(counts(), "re-armed: counted afresh; a hang never finishes").to.deep.include({
      fired: 1,
      finished: 0,
    });
    fp.set("a.two", { action: "error" });
    await fp.hit("a.two").catch(() => undefined);
    expect(fp.list().find((f) => f.name === "a.two")).to.deep.include({ fired: 1, finished: 1 });
  });

  it("a hang never resolves (checked against a bounded timer)", async () => {
    const fp = new Failpoints(names);
    fp.set("a.one", { action: "hang", count: 1 });
    const outcome = await Promise.race([
      fp.hit("a.one").then(() => "resolved"),
      new Promise((r) =>
        setTimeout(() => {
          r("still hanging");
        }, 50),
      ),
    ]);
    expect(outcome).to.equal("still hanging");
  });
});
