/**
 * A patch of KafkaJS (installed by `patches.ts`): its request queue checks for waiting requests
 * only while some wait, and never with a negative delay.
 */

/** What `installPendingCheck` needs of KafkaJS's `RequestQueue` (src/network/requestQueue/index.js). */
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
 * KafkaJS schedules a check of its waiting requests at the end of every check, whether any wait or
 * not, `throttledUntil - Date.now()` ms ahead: a large negative number when nothing is throttled
 * (`throttledUntil` starts at -1). So every open connection checks again every millisecond for as
 * long as it is open (tulios/kafkajs#1556, #1704: a busy loop of timers on an idle producer, and a
 * Timeout object a millisecond for the garbage collector at load), and Deno, like Node 24, prints
 * a `TimeoutNegativeWarning` on stderr. The same method, scheduling a check only while requests
 * wait: a request that cannot go at once is queued by `push`, which schedules one, and an answer
 * checks the queue again (`fulfillRequest`). The delay is the throttle's end, or KafkaJS's default
 * interval when nothing is throttled.
 */
export function installPendingCheck(Queue: RequestQueueClass): void {
  Queue.prototype.scheduleCheckPendingRequests = function () {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const throttledFor = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL);
  };
}
