/**
 * A patch of KafkaJS (installed by `patches.ts`): no negative timeouts from its request queue.
 */

/** What `installTimeoutClamp` needs of KafkaJS's `RequestQueue` (src/network/requestQueue/index.js). */
export interface RequestQueueClass {
  prototype: {
    throttledUntil: number;
    pending: unknown[];
    throttleCheckTimeoutId: unknown;
    checkPendingRequests(): void;
    scheduleCheckPendingRequests(): void;
  };
}

/** KafkaJS's interval for rechecking waiting requests (src/network/requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/**
 * KafkaJS schedules its throttle check `throttledUntil - Date.now()` ms ahead, which is a large
 * negative number when nothing is throttled (`throttledUntil` starts at -1); Deno, like Node 24,
 * then prints a `TimeoutNegativeWarning` on stderr. The same method, with the delay clamped at 0
 * (which is what a negative delay means anyway).
 */
export function installTimeoutClamp(Queue: RequestQueueClass): void {
  Queue.prototype.scheduleCheckPendingRequests = function () {
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.throttleCheckTimeoutId) return;
    // As KafkaJS: with requests waiting and no throttle, check again after its default interval.
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, Math.max(0, scheduleAt));
  };
}
