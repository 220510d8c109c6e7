/**
 * The fault scenarios that share one shape (test/support/fault-scenario.ts): a pair of accounts,
 * failpoints armed, a transfer, a fault move, the client's answer, recovery, the checker, and
 * what is left at the banks. One row per fault of docs/design.md §6 that takes this shape;
 * processes are really killed (SIGKILL), paused (SIGSTOP) and restarted.
 */
import { expect } from "chai";
import { apiKeyHeader } from "../../scripts/cluster/cluster-auth.js";
import type { FailpointSpec } from "../../shared/failpoints.js";
import {
  txidOf,
  type ParticipantStatus,
  type RunAnswer,
  type TransactionDetail,
} from "../support/answers.js";
import { http, transferBody } from "../support/bank-client.js";
import type { FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  listed,
  openPair,
  preparedAt,
  recoveryPassesGoBy,
} from "../support/fault-moves.js";
import type {
  ArmedFailpoint,
  FaultScenarioSuite,
  ScenarioRun,
  ScenarioSetup,
} from "../support/fault-scenario.js";
import { startSecondCoordinator } from "../support/second-coordinator.js";

const once = (process: string, failpoint: string, spec: FailpointSpec): ArmedFailpoint => ({
  process,
  failpoint,
  spec: { ...spec, count: 1 },
});
const crashOnce = (process: string, failpoint: string) =>
  once(process, failpoint, { action: "crash" });
const sleepOnce = (process: string, failpoint: string, ms: number) =>
  once(process, failpoint, { action: "sleep", ms });

const restart =
  (name: string) =>
  ({ h }: ScenarioRun): Promise<void> =>
    h.restart(name);

const bothBanksPrepared = (h: FaultHarness) =>
  h.eventually(
    "both banks prepared",
    async () =>
      (await preparedAt(h, "bank-a")).length === 1 && (await preparedAt(h, "bank-b")).length === 1,
  );

function note(run: ScenarioSetup, key: string): string {
  const value = run.notes[key];
  if (value === undefined) throw new Error(`no note ${key}: an earlier step did not run`);
  return value;
}

/** The second coordinator of the two-coordinator scenarios, stopped when the scenario ends. */
async function secondCoordinator(run: ScenarioSetup): Promise<void> {
  const second = await startSecondCoordinator(run.h);
  run.onCleanup(second.stop);
  run.notes.secondUrl = second.url;
}

export const FAULT_SCENARIOS: FaultScenarioSuite[] = [
  {
    suite: "the coordinator killed at each protocol step (processes really killed)",
    scenarios: [
      {
        name: "coordinator killed after some prepares: presumed abort rolls back the participant that prepared",
        arm: [crashOnce("coordinator", "coordinator.between-prepares")],
        transfer: { timeoutMs: 1000 },
        answer: "none",
        afterAnswer: async ({ h }) => {
          await h.waitDead("coordinator");
          expect(
            (await preparedAt(h, "bank-a")).length + (await preparedAt(h, "bank-b")).length,
          ).to.equal(1);
          await h.restart("coordinator");
        },
        atRest: { balances: { from: 1000n, to: 1000n } },
      },
      {
        name: "coordinator killed after the decision is logged, before phase 2: recovery commits everywhere and the client's retry says committed",
        arm: [crashOnce("coordinator", "coordinator.after-decision")],
        transfer: { idempotencyKeyPrefix: "after-decision" },
        answer: "none",
        afterAnswer: async (run) => {
          const { h } = run;
          await h.waitDead("coordinator");
          expect(await preparedAt(h, "bank-a")).to.have.length(1);
          expect(await preparedAt(h, "bank-b")).to.have.length(1);
          await h.restart("coordinator");
          const retry = await run.resend();
          expect(retry?.status).to.equal(200);
          expect(retry?.data.outcome).to.equal("committed");
          const query = await http.get<TransactionDetail>(
            `${h.url("coordinator")}/v1/transactions/${txidOf(retry)}`,
          );
          expect(query.data.decision).to.equal("commit");
        },
        atRest: { ledgerEntries: { to: 1 }, balances: { from: 900n, to: 1100n } },
      },
      {
        name: "coordinator killed after the first COMMIT: recovery commits at the other participant",
        arm: [crashOnce("coordinator", "coordinator.after-first-commit")],
        answer: "none",
        afterAnswer: async ({ h }) => {
          await h.waitDead("coordinator");
          await h.restart("coordinator");
        },
        atRest: { balances: { from: 900n, to: 1100n } },
      },
      {
        name: "recovery itself killed half-way, then run again, finishes the transaction once",
        arm: [crashOnce("coordinator", "coordinator.after-decision")],
        afterAnswer: async ({ h }) => {
          await h.waitDead("coordinator");
          // The restarted coordinator's recovery sends COMMIT to one participant and dies.
          await h.startExpectingCrash("coordinator", {
            CONCORD_FAILPOINTS: "coordinator.recovery-after-first-send=crash#1",
          });
          await h.restart("coordinator");
        },
        atRest: { ledgerEntries: { from: 1, to: 1 }, balances: { to: 1100n } },
      },
    ],
  },
  {
    suite: "participants killed at each protocol step (processes really killed)",
    scenarios: [
      {
        name: "participant killed before prepare: the transfer aborts, and after restart nothing moved",
        arm: [crashOnce("bank-b", "participant.before-prepare")],
        answer: "aborted",
        afterAnswer: async ({ h }) => {
          await h.waitDead("bank-b");
          await h.restart("bank-b");
        },
        atRest: { balances: { from: 1000n, to: 1000n } },
      },
      {
        name: "participant killed after PREPARE TRANSACTION, before its vote: recovery rolls the prepared transaction back",
        arm: [crashOnce("bank-b", "participant.after-prepare")],
        answer: "aborted",
        afterAnswer: async ({ h }) => {
          await h.waitDead("bank-b");
          // It died holding a prepared transaction that nobody will ever commit.
          expect(await preparedAt(h, "bank-b")).to.have.length(1);
          await h.restart("bank-b");
        },
        atRest: { nothingPreparedAt: ["bank-b"], balances: { to: 1000n } },
      },
      {
        name: "participant down during phase 2: it receives the decision when it comes back, and applies it exactly once",
        arm: [sleepOnce("coordinator", "coordinator.after-decision", 1500)],
        during: async ({ h }) => {
          await bothBanksPrepared(h);
          h.signal("bank-b", "SIGKILL");
          await h.waitDead("bank-b");
        },
        answer: "committed",
        afterAnswer: restart("bank-b"),
        atRest: { ledgerEntries: { to: 1 }, balances: { from: 900n, to: 1100n } },
      },
      {
        name: "COMMIT applied but its reply lost: the coordinator retries and the transfer is applied once",
        arm: [once("bank-b", "participant.after-commit-prepared", { action: "error" })],
        answer: "committed",
        atRest: { ledgerEntries: { to: 1 }, balances: { to: 1100n } },
      },
      {
        name: "participant killed between journaling COMMIT and COMMIT PREPARED finishes on restart with the coordinator down",
        arm: [crashOnce("bank-b", "participant.before-commit-prepared")],
        during: async ({ h }) => {
          await h.waitDead("bank-b");
          h.signal("coordinator", "SIGKILL");
          await h.waitDead("coordinator");
        },
        afterAnswer: async ({ h, spec }) => {
          expect(await preparedAt(h, "bank-b")).to.have.length(1);
          await h.restart("bank-b");
          // With the coordinator still down, the journal alone tells bank-b to commit.
          await h.eventually(
            "bank-b committed from its journal",
            async () => (await preparedAt(h, "bank-b")).length === 0,
          );
          expect(h.isRunning("coordinator")).to.equal(false);
          expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
          await h.restart("coordinator");
        },
        atRest: { ledgerEntries: { to: 1 } },
      },
    ],
  },
  {
    suite: "participants in doubt (processes really stopped and killed)",
    scenarios: [
      {
        name: "prepared participants cut off from the coordinator stay prepared, never guess, and follow the decision after healing",
        arm: [sleepOnce("coordinator", "coordinator.after-votes", 800)],
        during: async ({ h }) => {
          await bothBanksPrepared(h);
          h.signal("coordinator", "SIGSTOP");
          // Several recovery passes go by: each asks the (stopped) coordinator and the peers,
          // who are in doubt too. Nobody may decide on their own.
          await recoveryPassesGoBy(h, ["bank-a", "bank-b"], 2);
          expect(await preparedAt(h, "bank-a")).to.have.length(1);
          expect(await preparedAt(h, "bank-b")).to.have.length(1);
          h.signal("coordinator", "SIGCONT");
        },
        answer: "committed",
        atRest: { balances: { to: 1100n } },
      },
      {
        name: "coordinator killed after the decision reached only one participant: the other learns it from that peer",
        arm: [crashOnce("coordinator", "coordinator.after-first-commit")],
        afterAnswer: async ({ h, spec }) => {
          await h.waitDead("coordinator");
          await h.eventually(
            "bank-b committed, told by its peer bank-a",
            async () => (await preparedAt(h, "bank-b")).length === 0,
          );
          expect(h.isRunning("coordinator")).to.equal(false);
          expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
          expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(900n);
          await h.restart("coordinator");
        },
      },
    ],
  },
  {
    suite: "duplicated and reordered messages",
    scenarios: [
      {
        name: "duplicated PREPAREs and COMMITs of a committed transfer, sent all at once, change nothing",
        answer: "committed",
        afterAnswer: async ({ h, spec, answer }) => {
          const txid = txidOf(answer);
          const ops = { operations: [{ op: "credit", account: spec.to.account, amount: "100" }] };
          const replies = await Promise.all([
            ...[1, 2, 3].map(() => http.post(`${h.url("bank-b")}/v1/2pc/${txid}/commit`, {})),
            ...[1, 2].map(() => http.post(`${h.url("bank-b")}/v1/2pc/${txid}/prepare`, ops)),
            http.post(`${h.url("bank-a")}/v1/2pc/${txid}/commit`, {}),
          ]);
          expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
        },
        atRest: { ledgerEntries: { to: 1 }, balances: { to: 1100n } },
      },
      {
        name: "the coordinator's ABORT overtakes its own PREPARE: the late PREPARE votes no and prepares nothing",
        // bank-b's PREPARE is held on its way in; the deadline passes, the coordinator decides
        // abort and its ABORT reaches bank-b before the PREPARE does.
        arm: [sleepOnce("bank-b", "participant.before-prepare", 2000)],
        transfer: { timeoutMs: 500 },
        answer: "aborted",
        afterAnswer: async ({ h, answer }) => {
          const status = await http.get<ParticipantStatus>(
            `${h.url("bank-b")}/v1/2pc/${txidOf(answer)}`,
          );
          expect(status.data.outcome).to.equal("aborted");
          // The held PREPARE goes on into its handler once its hold is over; then the checker
          // and the check below see whatever it did.
          await h.eventually(
            "bank-b's held PREPARE let go",
            async () =>
              (await h.failpointCounts("bank-b", "participant.before-prepare")).finished === 1,
          );
        },
        atRest: { nothingPreparedAt: ["bank-b"], balances: { from: 1000n, to: 1000n } },
      },
    ],
  },
  {
    suite: "Redis and PostgreSQL killed (processes really killed)",
    scenarios: [
      {
        name: "Redis killed right after a decision: the decision survives, clients get a clear error while it is down, and recovery finishes",
        arm: [sleepOnce("coordinator", "coordinator.after-decision", 1000)],
        during: async (run) => {
          const { h } = run;
          await h.eventually(
            "the decision logged",
            async () => (await listed(h.url("coordinator"), "committing")).length > 0,
          );
          const [decided] = await listed(h.url("coordinator"), "committing");
          run.notes.decided = String(decided?.txid);
          h.signal("redis-coordinator", "SIGKILL");
          await h.waitDead("redis-coordinator");
        },
        answer: "committed",
        afterAnswer: async (run) => {
          const { h } = run;
          const other = await openPair(h, "bank-a", "bank-c");
          run.notes.otherFrom = other.from.account;
          const refused = await http.post<RunAnswer>(
            `${h.url("coordinator")}/v1/transactions`,
            transferBody(other),
          );
          expect(refused.status).to.equal(503);
          expect(refused.data.error?.message).to.match(/decision log|Redis/);
          await h.restart("redis-coordinator");
        },
        atRest: {
          check: async (run) => {
            const { h, spec } = run;
            const record = await http.get<TransactionDetail>(
              `${h.url("coordinator")}/v1/transactions/${note(run, "decided")}`,
            );
            expect(record.data.decision).to.equal("commit");
            expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
            expect(await balanceOf(h, "bank-a", note(run, "otherFrom"))).to.equal(1000n);
          },
        },
      },
      {
        name: "PostgreSQL of a bank killed with a transaction prepared: it survives the crash and is committed after restart",
        arm: [sleepOnce("coordinator", "coordinator.after-votes", 1500)],
        during: async ({ h }) => {
          await h.eventually(
            "bank-b prepared",
            async () => (await preparedAt(h, "bank-b")).length === 1,
          );
          // The whole server at once, postmaster and backends: a machine crash, not a shutdown.
          process.kill(-h.process("postgres-bank-b").pid, "SIGKILL");
          await h.waitDead("postgres-bank-b");
          await h.restart("postgres-bank-b");
        },
        answer: "committed",
        atRest: { ledgerEntries: { to: 1 }, balances: { to: 1100n } },
      },
    ],
  },
  {
    suite: "two coordinators on one log (processes really paused)",
    scenarios: [
      {
        name: "two coordinators race to decide one transaction: the register gives both the same outcome",
        setup: secondCoordinator,
        // The first coordinator holds its COMMIT back past the deadline; the second one's
        // recovery finds the transaction undecided and aborts it through the register.
        arm: [sleepOnce("coordinator", "coordinator.after-votes", 2500)],
        transfer: { timeoutMs: 500 },
        answer: "aborted",
        afterAnswer: async (run) => {
          const { h, answer } = run;
          // The second coordinator is not in cluster.json: the client's API key is given explicitly.
          const record = await http.get<TransactionDetail>(
            `${note(run, "secondUrl")}/v1/transactions/${txidOf(answer)}`,
            { headers: apiKeyHeader(h.cluster) },
          );
          expect(record.data.decision).to.equal("abort");
          expect(record.data.decidedBy).to.equal("recovery");
        },
        atRest: { balances: { from: 1000n, to: 1000n } },
      },
      {
        name: "a coordinator paused past its deadline wakes up after recovery decided, and obeys the stored decision",
        setup: secondCoordinator,
        arm: [sleepOnce("coordinator", "coordinator.after-votes", 500)],
        transfer: { timeoutMs: 500 },
        during: async (run) => {
          const { h } = run;
          await bothBanksPrepared(h);
          h.signal("coordinator", "SIGSTOP");
          await h.eventually(
            "the second coordinator aborted it",
            async () =>
              (await preparedAt(h, "bank-a")).length === 0 &&
              (await preparedAt(h, "bank-b")).length === 0,
          );
          const [aborted] = await listed(
            note(run, "secondUrl"),
            "aborted",
            apiKeyHeader(h.cluster),
          );
          expect(aborted?.decision).to.equal("abort");
          h.signal("coordinator", "SIGCONT");
        },
        answer: "aborted",
        atRest: { balances: { to: 1000n } },
      },
    ],
  },
];
