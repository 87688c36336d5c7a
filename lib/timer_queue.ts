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
      const bucket = this.#bucket(this.#base);
      const last = bucket.length - 1;
      if (!this.#sorted || last < this.#next || before(bucket[last], entry)) {
        bucket.push(entry);
        return;
      }
      let low = this.#next;
      let high = bucket.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (before(bucket[mid], entry)) low = mid + 1;
        else high = mid;
      }
      bucket.splice(low, 0, entry);
      return;
    }
    this.#bucket(ms).push(entry);
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
    this.#later.length = 0;
    this.#inRing = 0;
    this.#next = 0;
    this.#sorted = false;
  }

  #bucket(ms: number): E[] {
    const index = ms & MASK;
    let bucket = this.#ring[index];
    if (bucket === undefined) this.#ring[index] = bucket = [];
    return bucket;
  }

  /** Makes the current bucket's next entry the earliest queued one; false when the queue is empty. */
  #settle(): boolean {
    let bucket = this.#ring[this.#base & MASK];
    if (bucket !== undefined && this.#next < bucket.length) {
      if (!this.#sorted) {
        if (bucket.length > 1) bucket.sort(byKey);
        this.#sorted = true;
      }
      return true;
    }
    if (this.size === 0) return false;
    // The current millisecond is drained: on to the next one with entries.
    for (;;) {
      if (bucket !== undefined) bucket.length = 0;
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
        this.#bucket(Math.floor(entry.dueMs)).push(entry);
      }
      bucket = this.#ring[this.#base & MASK];
      if (bucket !== undefined && bucket.length > 0) {
        if (bucket.length > 1) bucket.sort(byKey);
        this.#sorted = true;
        return true;
      }
    }
  }
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
