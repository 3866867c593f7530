/**
 * One timer for every deadline of a provider's exchanges (response headers,
 * stream silence) instead of a timer per exchange and per phase: a request
 * then costs a set insertion and a number update per chunk. The timer ticks
 * only while something is watched (and stops one tick after the last entry
 * goes), so an idle provider holds no timer.
 *
 * @module
 */

/** Default tick: deadlines fire at most this late, in milliseconds. */
export const DEFAULT_TICK_MS = 100;

/** One watched deadline. */
export interface WatchEntry {
  /** Milliseconds since the epoch; move it to extend the deadline. */
  deadline: number;
  /** Called once when the deadline passes; the entry is then unwatched. */
  onExpire(): void;
}

/** Options of {@linkcode Watchdog}. */
export interface WatchdogOptions {
  /** How often deadlines are checked, in milliseconds (default 100). */
  tickMs?: number;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/**
 * Fires `onExpire` of every entry whose deadline has passed, checking every
 * `tickMs` while at least one entry is watched.
 *
 * @example
 * ```ts
 * import { Watchdog } from "./watchdog.ts";
 * const watchdog = new Watchdog();
 * const entry = watchdog.watch(Date.now() + 1000, () => console.log("late"));
 * watchdog.unwatch(entry);
 * ```
 */
export class Watchdog {
  readonly #entries = new Set<WatchEntry>();
  readonly #tickMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates a watchdog with no timer running.
   *
   * @param options tick and clock
   */
  constructor(options: WatchdogOptions = {}) {
    this.#tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the timer is running. */
  get ticking(): boolean {
    return this.#timer !== undefined;
  }

  /** Entries watched now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Watches a deadline; returns the entry to move or unwatch. */
  watch(deadline: number, onExpire: () => void): WatchEntry {
    const entry = { deadline, onExpire };
    this.add(entry);
    return entry;
  }

  /** Watches an entry (an object that is its own entry saves a closure). */
  add(entry: WatchEntry): void {
    this.#entries.add(entry);
    this.#timer ??= setInterval(() => this.#tick(), this.#tickMs);
  }

  /**
   * Stops watching an entry (a no-op for one already fired or removed). The
   * timer stops at its next tick if nothing is watched by then, so that
   * back-to-back requests do not start and stop a timer each.
   */
  unwatch(entry: WatchEntry): void {
    this.#entries.delete(entry);
  }

  #tick(): void {
    const now = this.#now();
    for (const entry of this.#entries) {
      if (entry.deadline > now) continue;
      this.#entries.delete(entry);
      try {
        entry.onExpire();
      } catch {
        // An expiry handler only aborts a fetch; nothing to report.
      }
    }
    if (this.#entries.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
