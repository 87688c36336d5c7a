/**
 * A subprocess for tests/tasks_test.ts: keeps a live set of about 60 MB, then allocates records
 * that live long enough to be promoted to V8's old generation and die there (as a run's records do
 * while they wait for Kafka's acknowledgement). Prints one JSON line: the live heap after the set
 * was built and the largest heap V8 let grow meanwhile (MB).
 */
const live: { key: string; n: number; list: number[] }[] = [];
for (let i = 0; i < 400_000; i++) live.push({ key: `S${i}-live`, n: i, list: [i] });
const liveMb = Deno.memoryUsage().heapUsed / 2 ** 20;
let peakMb = 0;
let ring: { value: string; n: number }[][] = [];
for (let step = 0; step < 600; step++) {
  const batch: { value: string; n: number }[] = [];
  for (let i = 0; i < 5_000; i++) batch.push({ value: `{"reading":${i},"step":${step}}`, n: i });
  ring.push(batch);
  // A batch stays alive for 40 batches: long enough to survive the young generation.
  if (ring.length > 40) ring = ring.slice(1);
  if (step % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  peakMb = Math.max(peakMb, Deno.memoryUsage().heapTotal / 2 ** 20);
}
Deno.stdout.writeSync(
  new TextEncoder().encode(
    JSON.stringify({ liveMb: Math.round(liveMb), peakMb: Math.round(peakMb), kept: live.length }) + "\n",
  ),
);
