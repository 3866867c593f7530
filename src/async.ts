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

/**
 * Longest stretch of work, in milliseconds, that a {@linkcode Pacer} lets
 * run before it yields to the event loop.
 */
export const PACE_SLICE_MS = 10;

/**
 * Keeps a long piece of work from holding the event loop. The work calls
 * {@linkcode Pacer.pace} between small steps; once a slice of time has
 * passed since the last yield, `pace` waits for a macrotask (a timer of
 * 0 ms), so that timers, I/O and other requests run in between. Awaiting
 * promises alone (stream reads, resolved writes) never lets them run: those
 * are microtasks.
 *
 * @example
 * ```ts
 * import { Pacer } from "./async.ts";
 *
 * const pacer = new Pacer();
 * let sum = 0;
 * for (let step = 0; step < 1000; step++) {
 *   for (let i = 0; i < 10_000; i++) sum += i;
 *   await pacer.pace();
 * }
 * console.log(sum > 0); // true
 * ```
 */
export class Pacer {
  readonly #sliceMs: number;
  #since = performance.now();

  /**
   * Starts the first slice.
   *
   * @param sliceMs the longest stretch of work between two yields
   */
  constructor(sliceMs: number = PACE_SLICE_MS) {
    this.#sliceMs = sliceMs;
  }

  /** Whether the slice is used up: the work should yield before its next step. */
  get due(): boolean {
    return performance.now() - this.#since >= this.#sliceMs;
  }

  /** Yields to the event loop when the slice is used up, else resolves at once. */
  pace(): Promise<void> {
    return this.due ? this.yield() : Promise.resolve();
  }

  /** Yields to the event loop now, and starts a new slice. */
  async yield(): Promise<void> {
    await delay(0);
    this.#since = performance.now();
  }
}
