/**
 * Waiting: the one home of the delay every retry loop and poll needs.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds. With a `signal`, rejects with the
 * signal's reason as soon as it aborts (at once when it already has), and
 * the timer is cleared.
 *
 * @example
 * ```ts
 * import { delay } from "./async.ts";
 * await delay(10);
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
