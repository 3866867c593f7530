/**
 * The simulated backend's banked rate-limit resets, per account: what `GET
 * <base>/wham/rate-limit-reset-credits` answers and what `POST
 * .../consume` does (see `FakeResetCredits` for the rules).
 *
 * @module
 */

import type {
  FakeResetCredit,
  FakeResetCredits,
  FakeResetRedemption,
} from "./_fake_types.ts";

/** Default life of a credit without `expiresAt`: 30 days. */
const DEFAULT_LIFE_MS = 30 * 24 * 3600 * 1000;

const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** One answer of the consume endpoint. */
export interface ResetAnswer {
  /** HTTP status. */
  status: number;
  /** JSON body, or a string as is. */
  body: object | string;
}

interface Account {
  script: FakeResetCredits;
  available: FakeResetCredit[];
  spent: Set<string>;
  answers: Map<string, ResetAnswer>;
}

/** The banked resets of every simulated account. */
export class FakeResetBook {
  /** Every spend received since the last `clear()`, in order. */
  readonly redemptions: FakeResetRedemption[] = [];
  readonly #accounts = new Map<string, Account>();
  readonly #now: () => number;

  /** @param now the backend's clock */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Sets an account's resets (`undefined`: none). */
  set(accountId: string, script: FakeResetCredits | undefined): void {
    if (script === undefined) {
      this.#accounts.delete(accountId);
      return;
    }
    const now = this.#now();
    this.#accounts.set(accountId, {
      script: { ...script, failures: [...script.failures ?? []] },
      available: script.credits.map((credit) => ({
        resetType: "rate_limit",
        ...credit,
        expiresAt: credit.expiresAt ?? now + DEFAULT_LIFE_MS,
      })),
      spent: new Set(),
      answers: new Map(),
    });
  }

  /** Forgets every account's resets and the redemptions. */
  clear(): void {
    this.#accounts.clear();
    this.redemptions.length = 0;
  }

  /** Whether the account has resets set (the usage endpoint then counts them). */
  has(accountId: string): boolean {
    return this.#accounts.has(accountId);
  }

  #available(account: Account | undefined): FakeResetCredit[] {
    const now = this.#now();
    return (account?.available ?? []).filter((credit) =>
      (credit.expiresAt ?? Infinity) > now
    );
  }

  /** The body of `GET .../rate-limit-reset-credits`. */
  list(accountId: string): object {
    const credits = this.#available(this.#accounts.get(accountId));
    return {
      available_count: credits.length,
      credits: credits.map((credit) => ({
        id: credit.id,
        status: "available",
        expires_at: new Date(credit.expiresAt!).toISOString(),
        reset_type: credit.resetType,
      })),
    };
  }

  /**
   * Answers `POST .../consume`.
   *
   * @param accountId the caller's account
   * @param body the request's JSON
   * @param limited whether the account is usage-limited now
   * @param lift lifts the account's usage limit (a `reset`)
   */
  consume(
    accountId: string,
    body: unknown,
    limited: boolean,
    lift: () => void,
  ): ResetAnswer {
    const fields = typeof body === "object" && body !== null
      ? body as Record<string, unknown>
      : {};
    const answer = this.#consume(accountId, fields, limited, lift);
    this.redemptions.push({
      account: accountId,
      redeemRequestId: fields.redeem_request_id,
      creditId: fields.credit_id,
      status: answer.status,
      ...(typeof answer.body === "object" && "code" in answer.body
        ? { code: String(answer.body.code) }
        : {}),
    });
    return answer;
  }

  #consume(
    accountId: string,
    fields: Record<string, unknown>,
    limited: boolean,
    lift: () => void,
  ): ResetAnswer {
    const id = fields.redeem_request_id;
    if (typeof id !== "string" || !UUID_V4.test(id)) {
      return {
        status: 400,
        body: { detail: "redeem_request_id must be a UUID v4" },
      };
    }
    const account = this.#accounts.get(accountId);
    if (account?.script.ineligible) {
      return {
        status: 403,
        body: { detail: { code: "rate_limit_reset_ineligible" } },
      };
    }
    const failure = account?.script.failures?.shift();
    if (failure && !failure.afterRedeeming) return failureAnswer(failure);
    const earlier = account?.answers.get(id);
    const answer = earlier ?? this.#redeem(account, fields, limited, lift);
    if (account && !earlier) account.answers.set(id, answer);
    return failure ? failureAnswer(failure) : answer;
  }

  #redeem(
    account: Account | undefined,
    fields: Record<string, unknown>,
    limited: boolean,
    lift: () => void,
  ): ResetAnswer {
    const outcome = (code: string, windows = 0): ResetAnswer => ({
      status: 200,
      body: { code, windows_reset: windows },
    });
    const wanted = fields.credit_id;
    if (typeof wanted === "string" && account?.spent.has(wanted)) {
      return outcome("already_redeemed");
    }
    const credit = this.#available(account).find((credit) =>
      wanted === undefined || credit.id === wanted
    );
    if (account === undefined || credit === undefined) {
      return outcome("no_credit");
    }
    if (!limited) return outcome("nothing_to_reset");
    account.available = account.available.filter((kept) => kept !== credit);
    account.spent.add(credit.id);
    lift();
    return outcome("reset", 1);
  }
}

function failureAnswer(
  failure: { status: number; body?: string | object },
): ResetAnswer {
  return {
    status: failure.status,
    body: failure.body ??
      (failure.status === 429
        ? { detail: { code: "connector_rate_limit" } }
        : { detail: "Service Unavailable" }),
  };
}
