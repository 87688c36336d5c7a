/**
 * The scheduler's queue: entries ordered by due time, then by their sequence number (keys are
 * unique), popped earliest first. A calendar queue: a ring of one-millisecond buckets covering the
 * next `RING_MS` milliseconds, and a binary heap for entries due later. Pushing into a bucket is an
 * append; a bucket is sorted once, when it becomes the current one; what is pushed into the current
 * bucket while it drains is inserted in its place. A simulation's entries fall due within seconds,
 * so nearly every push and pop is O(1) on memory the queue touched a moment ago, where a heap of
 * hundreds of thousands of entries walks its depth, a cache miss a level, at every pop (the heap's
 * sift was the largest single cost of a busy thread). An entry due before the current millisecond
 * (one a peek has settled on) is inserted in its place in the current bucket: correct at any time,
 * and cheap for the scheduler, which queues from its clock on once it runs.
 */

/** What the queue orders. */
export interface QueueEntry {
  dueMs: number;
  seq: number;
}

/** Milliseconds the ring of buckets covers (a power of two). */
export const RING_MS = 8192;
const MASK = RING_MS - 1;

function before(a: QueueEntry, b: QueueEntry): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
}

function byKey(a: QueueEntry, b: QueueEntry): number {
  return a.dueMs - b.dueMs || a.seq - b.seq;
}

export class TimerQueue<E extends QueueEntry> {
  /** Bucket i holds entries of the millisecond k with k mod RING_MS = i, for k in [base, base + RING_MS). */
  readonly #ring: (E[] | undefined)[] = new Array(RING_MS);
  /**
   * Entries in each bucket: its first `#counts[i]` slots (the rest are empty). A drained bucket
   * keeps its array at the size it grew to: emptying it (`length = 0`) dropped the array's storage,
   * so every millisecond's bucket grew a new one, which lived the seconds until its millisecond
   * came (long enough to reach V8's old generation) and died there, about 0.6 MB a second at
   * 100,000 sensors.
   */
  readonly #counts = new Int32Array(RING_MS);
  /** Entries in the ring, the current bucket's undrained ones included. */
  #inRing = 0;
  /** The current millisecond: its bucket is sorted and drains from `#next`. */
  #base: number;
  #next = 0;
  /** Whether the current bucket is sorted (it is from its first peek or pop on). */
  #sorted = false;
  /** Entries due at or after base + RING_MS. */
  readonly #later: E[] = [];

  /** A queue whose first entries fall due from `startMs` on (earlier ones are due at once). */
  constructor(startMs: number) {
    this.#base = Math.floor(startMs);
  }

  /** Number of queued entries. */
  get size(): number {
    return this.#inRing + this.#later.length;
  }

  /** Queues `entry`. */
  push(entry: E): void {
    const ms = Math.floor(entry.dueMs);
    if (ms >= this.#base + RING_MS) {
      heapPush(this.#later, entry);
      return;
    }
    this.#inRing++;
    if (ms <= this.#base) {
      // The current millisecond (or earlier: due at once). Before it drains it is sorted when it
      // starts to; while it drains, in its place among what is left (usually the end).
      const index = this.#base & MASK;
      const count = this.#counts[index];
      if (!this.#sorted || count - 1 < this.#next || before(this.#ring[index]![count - 1], entry)) {
        this.#append(index, entry);
        return;
      }
      const bucket = this.#ring[index]!;
      let low = this.#next;
      let high = count;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (before(bucket[mid], entry)) low = mid + 1;
        else high = mid;
      }
      // Room at the end, then what follows its place moves up one.
      this.#append(index, entry);
      for (let i = count; i > low; i--) bucket[i] = bucket[i - 1];
      bucket[low] = entry;
      return;
    }
    this.#append(ms & MASK, entry);
  }

  /** The earliest entry, left queued; undefined when empty. */
  peek(): E | undefined {
    if (!this.#settle()) return undefined;
    return this.#ring[this.#base & MASK]![this.#next];
  }

  /** Takes the earliest entry; undefined when empty. */
  pop(): E | undefined {
    if (!this.#settle()) return undefined;
    const bucket = this.#ring[this.#base & MASK]!;
    const entry = bucket[this.#next];
    bucket[this.#next++] = undefined as unknown as E;
    this.#inRing--;
    return entry;
  }

  /** Drops every entry. */
  clear(): void {
    for (const bucket of this.#ring) if (bucket) bucket.length = 0;
    this.#counts.fill(0);
    this.#later.length = 0;
    this.#inRing = 0;
    this.#next = 0;
    this.#sorted = false;
  }

  /** Adds `entry` after the bucket's entries, in a slot its array has when it has one. */
  #append(index: number, entry: E): void {
    let bucket = this.#ring[index];
    if (bucket === undefined) this.#ring[index] = bucket = [];
    const count = this.#counts[index];
    if (count < bucket.length) bucket[count] = entry;
    else bucket.push(entry);
    this.#counts[index] = count + 1;
  }

  /** Makes the current bucket's next entry the earliest queued one; false when the queue is empty. */
  #settle(): boolean {
    let index = this.#base & MASK;
    if (this.#next < this.#counts[index]) {
      if (!this.#sorted) {
        sortBucket(this.#ring[index]!, this.#counts[index]);
        this.#sorted = true;
      }
      return true;
    }
    if (this.size === 0) return false;
    // The current millisecond is drained (its slots emptied as they were taken): on to the next
    // one with entries.
    for (;;) {
      this.#counts[index] = 0;
      this.#next = 0;
      if (this.#inRing === 0) {
        // Nothing in the ring: jump to the earliest of the later entries.
        this.#base = Math.floor(this.#later[0].dueMs);
      } else {
        this.#base++;
      }
      // Later entries the ring now covers come into it.
      const later = this.#later;
      while (later.length > 0 && Math.floor(later[0].dueMs) < this.#base + RING_MS) {
        const entry = heapPop(later);
        this.#inRing++;
        this.#append(Math.floor(entry.dueMs) & MASK, entry);
      }
      index = this.#base & MASK;
      const count = this.#counts[index];
      if (count > 0) {
        sortBucket(this.#ring[index]!, count);
        this.#sorted = true;
        return true;
      }
    }
  }
}

/**
 * Sorts a bucket's first `count` entries. They are nearly always in order already (queued in
 * sequence order, due the same whole millisecond): one pass says so, without the copy
 * `Array#sort` makes; otherwise they are sorted as a copy and put back.
 */
function sortBucket<E extends QueueEntry>(bucket: E[], count: number): void {
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) sorted = before(bucket[i - 1], bucket[i]);
  if (sorted) return;
  const entries = bucket.slice(0, count).sort(byKey);
  for (let i = 0; i < count; i++) bucket[i] = entries[i];
}

function heapPush<E extends QueueEntry>(heap: E[], entry: E): void {
  let index = heap.length;
  heap.push(entry);
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (!before(entry, heap[parent])) break;
    heap[index] = heap[parent];
    index = parent;
  }
  heap[index] = entry;
}

function heapPop<E extends QueueEntry>(heap: E[]): E {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let index = 0;
  const length = heap.length;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= length) break;
    const right = left + 1;
    const child = right < length && before(heap[right], heap[left]) ? right : left;
    if (!before(heap[child], last)) break;
    heap[index] = heap[child];
    index = child;
  }
  heap[index] = last;
  return top;
}
