/**
 * Shapes shared between the credentials code and its users (the relay, the
 * provider, the `check` command).
 *
 * @module
 */

/** A usable access token and the account it belongs to. */
export interface AccessToken {
  /** The bearer token for the backend. Never log or return it to a buyer. */
  accessToken: string;
  /** ChatGPT account id, sent as `chatgpt-account-id`. */
  accountId: string;
}

/** What the credentials file says, without any secret. */
export interface CredentialsInfo {
  /** Path of the auth file read. */
  authFile: string;
  /** ChatGPT account id. */
  accountId: string;
  /** Plan type (`plus`, `pro`, ...) when the tokens carry it. */
  plan?: string;
  /** Email of the login when the id token carries it. */
  email?: string;
  /** Access-token expiry, milliseconds since the epoch, when readable. */
  expiresAt?: number;
  /** `last_refresh` of the file, milliseconds since the epoch, when readable. */
  lastRefresh?: number;
}

/** Hands out valid access tokens, refreshing them as needed. */
export interface TokenSource {
  /**
   * Loads and validates the credentials, refreshing once if the access token
   * has already expired. Throws `CredentialsError` or `LoginRequiredError`.
   */
  init(): Promise<CredentialsInfo>;
  /** A valid access token; refreshes first when it expires within 5 minutes. */
  getToken(): Promise<AccessToken>;
  /**
   * Called after the backend answered 401 to `failed`. Re-reads the file first
   * and refreshes only if it still holds the failed token; at most one forced
   * refresh per failing token. When the token such a refresh has just
   * produced is refused too before it served a single answer (see
   * `handleAccepted`), no refresh follows a 401 for a growing cooldown or
   * until the file holds other tokens. Resolves with the token to retry with, or
   * `undefined` when there is nothing newer to try.
   */
  handleUnauthorized(failed: AccessToken): Promise<AccessToken | undefined>;
  /**
   * Called after the backend answered 2xx to `token` (optional). A token
   * that a forced refresh produced and that has served an answer since is
   * an ordinary token again: a later 401 on it gets its own forced refresh
   * instead of starting the cooldown.
   */
  handleAccepted?(token: AccessToken): void;
  /** Forces one refresh now (for `check --refresh`). */
  forceRefresh(): Promise<CredentialsInfo>;
  /** What the credentials file says now, without any secret. */
  info(): Promise<CredentialsInfo>;
  /**
   * A digest of the account and refresh token the file holds now (optional):
   * it changes with a new login, and tells the provider when a login it took
   * out of rotation may be tried again. Never the token itself.
   */
  fingerprint?(): Promise<string>;
}
