/**
 * The usage limit of a login: once the backend reported `usage_limit_reached`
 * (a 429, the same body under 404, or inside a 200 stream), later requests
 * are refused with 429 and `retry-after` until the reset, without calling the
 * backend. The limit belongs to the account it was reported for: when the
 * login's auth.json switches to another account, it is lifted.
 *
 * @module
 */

import type { TokenSource } from "../auth/types.ts";
import { usageLimitError } from "../codex/errors.ts";
import type { RelayError } from "../errors.ts";

/**
 * The usage-limit state of one login.
 *
 * @example
 * ```ts ignore
 * const limit = new UsageLimit(tokens);
 * limit.record(Date.now() + 60_000, "acct_1");
 * console.log((await limit.refusal())?.code); // "usage_limit_reached"
 * ```
 */
export class UsageLimit {
  /** Called once when a limit ends (its reset passed, or the login switched account). */
  onEnded: (() => void) | undefined;
  readonly #tokens: Pick<TokenSource, "info">;
  readonly #now: () => number;
  #limit: { until: number; accountId: string } | undefined;
  #accountCheck: Promise<void> | undefined;

  /**
   * Creates the state of a login.
   *
   * @param tokens the login's token source, asked which account it holds
   * @param now clock, milliseconds since the epoch (default `Date.now`)
   */
  constructor(tokens: Pick<TokenSource, "info">, now: () => number = Date.now) {
    this.#tokens = tokens;
    this.#now = now;
  }

  /** Records a limit reported for `accountId`, ending at `resetsAt` (ms since the epoch). */
  record(resetsAt: number, accountId: string): void {
    this.#limit = { until: resetsAt, accountId };
  }

  /** Whether a limit blocks now; forgets one that has passed. Costs no I/O. */
  get active(): boolean {
    if (this.#limit && this.#limit.until <= this.#now()) {
      this.#limit = undefined;
      this.onEnded?.();
    }
    return this.#limit !== undefined;
  }

  /**
   * When the limit ends (ms since the epoch), or `undefined`. Starts, in the
   * background, the check that lifts a limit of another account: a limited
   * provider may get no request at all, and the host's polling of its
   * capacity must be what notices a switched login.
   */
  until(): number | undefined {
    if (!this.active) return undefined;
    void this.#recheckAccount();
    return this.#limit?.until;
  }

  /**
   * The 429 `usage_limit_reached` error to answer while a limit blocks, or
   * `undefined`. Before refusing, looks (at most once a second, through the
   * token source) whether auth.json now holds another account.
   */
  async refusal(): Promise<RelayError | undefined> {
    if (!this.active) return undefined;
    await this.#recheckAccount();
    const limit = this.#limit;
    return limit && this.active ? usageLimitError(limit.until) : undefined;
  }

  #recheckAccount(): Promise<void> {
    this.#accountCheck ??= this.#checkAccount().finally(() => {
      this.#accountCheck = undefined;
    });
    return this.#accountCheck;
  }

  async #checkAccount(): Promise<void> {
    const limit = this.#limit;
    if (!limit) return;
    let accountId: string;
    try {
      accountId = (await this.#tokens.info()).accountId;
    } catch {
      return; // Unreadable now (mid-write, logged out): the limit stays.
    }
    if (this.#limit === limit && accountId !== limit.accountId) {
      this.#limit = undefined;
      this.onEnded?.();
    }
  }
}
