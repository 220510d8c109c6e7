import { readFileSync } from "node:fs";
import { expect } from "chai";
import { pino } from "pino";
import { createCoordinatorMetrics } from "../../coordinator/coordinator-metrics.js";
import { metricsObserver } from "../../coordinator/coordinator-observer.js";
import {
  createParticipantMetrics,
  metricsObserver as participantObserver,
} from "../../participant/framework/participant-metrics.js";
import { BoundedLabel } from "../../shared/metrics.js";
import { parseMetrics, total } from "../support/metrics-text.js";

const silent = pino({ level: "silent" });

/** Every metric name the services' registries define. */
function registeredNames(): Set<string> {
  const registries = [
    createCoordinatorMetrics().registry,
    createParticipantMetrics("bank-a").registry,
  ];
  return new Set(registries.flatMap((r) => r.getMetricsAsArray().map((m) => m.name)));
}

interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string }[];
}

describe("metrics", function () {
  describe("the Grafana dashboard (docs/grafana-dashboard.json)", function () {
    const dashboard = JSON.parse(readFileSync("docs/grafana-dashboard.json", "utf8")) as {
      panels: Panel[];
      templating: { list: { name: string; type: string; query: unknown }[] };
    };

    it("has a Prometheus data-source variable that every panel uses", function () {
      const variable = dashboard.templating.list.find((v) => v.type === "datasource");
      expect(variable).to.include({ name: "datasource", query: "prometheus" });
      for (const panel of dashboard.panels)
        expect(panel.datasource?.uid, panel.title).to.equal("${datasource}");
    });

    it("names in every panel's queries only metrics the registries define", function () {
      const names = registeredNames();
      let queries = 0;
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          queries++;
          const used = [...(target.expr ?? "").matchAll(/\bconcord_[a-z_]+/g)].map((m) => m[0]);
          expect(used.length, `${panel.title}: ${target.expr ?? ""}`).to.be.greaterThan(0);
          for (const metric of used) {
            const base = metric.replace(/_(bucket|count|sum)$/, "");
            expect(names.has(metric) || names.has(base), `${panel.title}: ${metric}`).to.equal(
              true,
            );
          }
        }
      }
      expect(queries).to.be.greaterThan(10);
    });
  });

  it("a label takes short codes only, and at most 64 of them; the rest is `other`", function () {
    const label = new BoundedLabel();
    expect(label.of(undefined)).to.equal("none");
    expect(label.of("insufficient-funds")).to.equal("insufficient-funds");
    expect(label.of("bank-a voted no: something happened")).to.equal("other");
    expect(label.of("x".repeat(100))).to.equal("other");
    for (let i = 0; label.of(`code-${i}`) !== "other"; i++) expect(i).to.be.lessThan(64);
    expect(label.of("insufficient-funds"), "known before the bound").to.equal("insufficient-funds");
  });

  it("the coordinator's observer counts contention by participant and never throws", async function () {
    const metrics = createCoordinatorMetrics();
    const observer = metricsObserver(metrics, silent);
    observer.votedNo("bank-a", "conflict");
    observer.votedNo("bank-a", "lock-timeout");
    observer.votedNo("bank-b", "deadlock");
    observer.votedNo("bank-b", "serialization-failure");
    observer.votedNo("bank-b", "insufficient-funds");
    observer.attemptEnded({ txid: "t", outcome: "aborted", participants: [], reason: "free text" });
    const scrape = parseMetrics(await metrics.registry.metrics());
    expect(total(scrape, "concord_lock_conflicts_total", { participant: "bank-a" })).to.equal(2);
    expect(total(scrape, "concord_deadlocks_total", { participant: "bank-b" })).to.equal(1);
    expect(total(scrape, "concord_serialization_failures_total")).to.equal(1);
    expect(total(scrape, "concord_attempts_total", { reason: "other" })).to.equal(1);
    // A broken metric (here: a label prom-client refuses) is logged, not thrown at the protocol.
    metrics.phaseDuration.observe = () => {
      throw new Error("broken");
    };
    expect(() => {
      observer.phaseEnded("prepare", 1);
    }).to.not.throw();
  });

  it("a participant's observer counts messages, votes and contention", async function () {
    const metrics = createParticipantMetrics("bank-a", () => Promise.resolve(3));
    const observe = participantObserver(metrics);
    const event = { participant: "bank-a", txid: "t", durationMs: 2 } as const;
    observe({
      ...event,
      message: "prepare",
      result: { kind: "vote", vote: "no", reason: "conflict" },
    });
    observe({
      ...event,
      message: "prepare",
      result: { kind: "vote", vote: "no", reason: "deadlock" },
    });
    observe({ ...event, message: "commit", result: { kind: "ack", state: "committed" } });
    observe({ ...event, message: "abort", result: { kind: "refused", refusal: "not-prepared" } });
    const scrape = parseMetrics(await metrics.registry.metrics());
    const messages = "concord_participant_messages_total";
    expect(total(scrape, messages, { message: "prepare", result: "no" })).to.equal(2);
    expect(total(scrape, messages, { message: "abort", result: "refused-not-prepared" })).to.equal(
      1,
    );
    expect(
      total(scrape, "concord_participant_lock_conflicts_total", { reason: "conflict" }),
    ).to.equal(1);
    expect(total(scrape, "concord_participant_deadlocks_total")).to.equal(1);
    expect(total(scrape, "concord_participant_prepared_transactions")).to.equal(3);
    for (const s of scrape.samples) expect(s.labels.service, s.name).to.equal("bank-a");
  });
});
