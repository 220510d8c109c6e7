/**
 * The shape most fault tests share, as one driver for a table of scenarios
 * (test/fault/fault-scenarios.ts): open two accounts, arm failpoints, send a transfer, make the
 * fault move, check what the client was told, let the cluster recover, run the checker, and
 * check what is left at the banks. Each row becomes one mocha `it` named by the row.
 */
import type { AxiosResponse } from "axios";
import { expect } from "chai";
import type { FailpointSpec } from "../../shared/failpoints.js";
import type { RunAnswer } from "./answers.js";
import type { TransferSpec } from "./bank-client.js";
import { useFaultHarness, type FaultHarness } from "./fault-harness.js";
import {
  balanceOf,
  ledgerEntriesOf,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "./fault-moves.js";

/** What a scenario's steps get before the accounts are opened. */
export interface ScenarioSetup {
  h: FaultHarness;
  /** Values one step leaves for a later one (a txid, a URL, an account). */
  notes: Record<string, string>;
  /** Runs when the scenario ends, passed or failed, before the harness heals the cluster. */
  onCleanup(cleanup: () => Promise<void>): void;
}

/** What the steps after the transfer was sent get. */
export interface ScenarioRun extends ScenarioSetup {
  /** The pair opened for this scenario (1000 each, bank-a pays bank-b 100) and the transfer. */
  spec: TransferSpec;
  /** What the client was told: undefined before the answer, or when there was no HTTP answer. */
  answer: AxiosResponse<RunAnswer> | undefined;
  /** Sends the same transfer again, with the same Idempotency-Key if the row gave one. */
  resend(): Promise<AxiosResponse<RunAnswer> | undefined>;
}

export interface ArmedFailpoint {
  process: string;
  failpoint: string;
  spec: FailpointSpec;
}

export interface FaultScenario {
  /** The mocha test name: the fault, and what must come of it. */
  name: string;
  /** Before the accounts are opened (e.g. a second coordinator). */
  setup?: (run: ScenarioSetup) => Promise<void>;
  arm?: ArmedFailpoint[];
  transfer?: {
    timeoutMs?: number;
    /** Sends with the Idempotency-Key `<prefix>-<from account>`, so a retry can reuse it. */
    idempotencyKeyPrefix?: string;
  };
  /** The fault move while the transfer is in flight, before its answer is awaited. */
  during?: (run: ScenarioRun) => Promise<void>;
  /**
   * The answer the client must get: no HTTP answer at all (the coordinator died with the
   * request), or an outcome. Omitted: whatever the answer, it is not what the row checks.
   */
  answer?: "none" | "committed" | "aborted";
  /** After the answer: restarts, retries, and checks made while something is still down. */
  afterAnswer?: (run: ScenarioRun) => Promise<void>;
  /** Checked after the checker passed on the cluster at rest, in this order. */
  atRest?: {
    /** Banks that must hold no prepared transaction. */
    nothingPreparedAt?: string[];
    /** How many transfer entries the ledger of the pair's accounts holds. */
    ledgerEntries?: { from?: number; to?: number };
    balances?: { from?: bigint; to?: bigint };
    /** Whatever else the row checks at rest. */
    check?: (run: ScenarioRun) => Promise<void>;
  };
}

export interface FaultScenarioSuite {
  /** The mocha describe title. */
  suite: string;
  scenarios: FaultScenario[];
}

/** One describe per suite, one `it` per scenario, on the fault harness's cluster. */
export function describeFaultScenarios(suites: readonly FaultScenarioSuite[]): void {
  for (const { suite, scenarios } of suites)
    describe(suite, function () {
      this.timeout(120_000);
      let h: FaultHarness;
      useFaultHarness((harness) => (h = harness));
      for (const scenario of scenarios) it(scenario.name, () => runScenario(h, scenario));
    });
}

async function runScenario(h: FaultHarness, scenario: FaultScenario): Promise<void> {
  const cleanups: (() => Promise<void>)[] = [];
  const setup: ScenarioSetup = { h, notes: {}, onCleanup: (c) => cleanups.push(c) };
  try {
    await scenario.setup?.(setup);
    const spec = await openPair(h);
    for (const { process, failpoint, spec: how } of scenario.arm ?? [])
      await h.arm(process, failpoint, how);
    const prefix = scenario.transfer?.idempotencyKeyPrefix;
    const timeoutMs = scenario.transfer?.timeoutMs;
    const options = {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(prefix === undefined ? {} : { key: `${prefix}-${spec.from.account}` }),
    };
    const pending = transferThroughFaults(h, spec, options);
    const run: ScenarioRun = {
      ...setup,
      spec,
      answer: undefined,
      resend: () => transferThroughFaults(h, spec, options),
    };
    await scenario.during?.(run);
    run.answer = await pending;
    if (scenario.answer === "none") expect(run.answer).to.equal(undefined);
    else if (scenario.answer !== undefined)
      expect(run.answer?.data.outcome).to.equal(scenario.answer);
    await scenario.afterAnswer?.(run);
    await h.verify();
    await checkAtRest(run, scenario.atRest ?? {});
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function checkAtRest(
  run: ScenarioRun,
  atRest: NonNullable<FaultScenario["atRest"]>,
): Promise<void> {
  const { h, spec } = run;
  for (const bank of atRest.nothingPreparedAt ?? [])
    expect(await preparedAt(h, bank), `prepared at ${bank}`).to.deep.equal([]);
  const sides = { from: spec.from, to: spec.to };
  for (const side of ["from", "to"] as const) {
    const entries = atRest.ledgerEntries?.[side];
    if (entries !== undefined)
      expect(
        await ledgerEntriesOf(h, sides[side].bank, sides[side].account),
        `ledger entries of the ${side} account`,
      ).to.have.length(entries);
  }
  for (const side of ["from", "to"] as const) {
    const balance = atRest.balances?.[side];
    if (balance !== undefined)
      expect(
        await balanceOf(h, sides[side].bank, sides[side].account),
        `balance of the ${side} account`,
      ).to.equal(balance);
  }
  await atRest.check?.(run);
}
