import assert from "node:assert/strict";
import { endLine } from "../lib/run/report.ts";
import type { SimulationResult } from "../lib/simulation.ts";

const RESULT: SimulationResult = {
  completed: true,
  reachedEnd: false,
  readings: 4,
  heartbeats: 10,
  labels: 0,
  lines: [],
  startMs: Date.UTC(2026, 10, 30),
  endMs: Date.UTC(2026, 10, 30) + 12_000,
};

Deno.test("the end line counts what the spool did, and records in doubt found already in Kafka", () => {
  const sink = (alreadyInKafka: number) => ({
    name: "kafka",
    delivered: 14,
    spoolCounts: { spooled: 3, replayed: 5, alreadyInKafka },
  });
  assert.equal(
    endLine(RESULT, { sink: sink(0), backfill: false, wallMs: 1 }),
    "done: 4 readings and 10 heartbeats over 12.0 s of simulated time; 14 records delivered to kafka " +
      "(3 spooled, 5 replayed from the spool)",
  );
  assert.match(
    endLine(RESULT, { sink: sink(7), backfill: false, wallMs: 1 }),
    /; 14 records delivered to kafka \(3 spooled, 5 replayed from the spool, 7 found already in Kafka and not sent again\)$/,
  );
  assert.match(
    endLine(RESULT, { sink: { name: "console", delivered: 14 }, backfill: false, wallMs: 1 }),
    /; 14 records delivered to console$/,
  );
});
