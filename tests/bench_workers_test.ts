import assert from "node:assert/strict";
import { parseWorkersSteps } from "../bench/workers.ts";

Deno.test("--lines-steps: L at the default speed, L@S at its own", () => {
  assert.deepEqual(parseWorkersSteps("25, 30,50@1.33", 1, 50), [
    { lines: 25, speed: 1 },
    { lines: 30, speed: 1 },
    { lines: 50, speed: 1.33 },
  ]);
  assert.deepEqual(parseWorkersSteps("40", 1.2, 50), [{ lines: 40, speed: 1.2 }]);
});

Deno.test("--lines-steps: a step outside the CLI's bounds, or not L or L@S, is refused naming the flag", () => {
  for (const text of ["0", "51", "50@0", "50@101", "x", "30@", "@2", "25,,30", "1e1"]) {
    assert.throws(() => parseWorkersSteps(text, 1, 50), /^Error: --lines-steps: each step is L or L@S/, text);
  }
});
