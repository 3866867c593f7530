/**
 * The concurrency gate: at most `max` upstream exchanges at once, enforced
 * by the provider (the AntSeed node only announces the number). One more
 * request is refused at once with 429 `provider_at_capacity`.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

/**
 * Counts the upstream exchanges in flight against a maximum.
 *
 * @example
 * ```ts
 * import { ConcurrencyGate } from "./capacity.ts";
 * const gate = new ConcurrencyGate(1);
 * console.log(gate.enter()); // undefined: the slot is taken
 * console.log(gate.enter()?.code); // "provider_at_capacity"
 * gate.leave();
 * ```
 */
export class ConcurrencyGate {
  /** Most exchanges at once. */
  readonly max: number;
  #inFlight = 0;

  /**
   * Creates the gate.
   *
   * @param max most exchanges at once
   */
  constructor(max: number) {
    this.max = max;
  }

  /** Exchanges in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Takes a slot, or returns the 429 `provider_at_capacity` error (with
   * `retry-after: 1`) to answer when all are taken. Every successful
   * `enter()` must be paired with one `leave()`.
   */
  enter(): RelayError | undefined {
    if (this.#inFlight >= this.max) return this.refusal();
    this.#inFlight++;
    return undefined;
  }

  /** The 429 `provider_at_capacity` error (`retry-after: 1`) of a full provider. */
  refusal(): RelayError {
    return new RelayError(
      429,
      "provider_at_capacity",
      `The provider is serving its maximum of ${this.max} concurrent requests; retry shortly`,
      { headers: { "retry-after": "1" } },
    );
  }

  /** Gives back the slot an `enter()` took. */
  leave(): void {
    this.#inFlight--;
  }
}
