/**
 * Masks identifying values of a Codex login for display (the `check`
 * command): enough to recognise an account, not enough to copy it.
 *
 * @module
 */

/**
 * Masks an account id, keeping its first and last 4 characters
 * (ids of 10 characters or fewer keep only the first 2).
 *
 * @example
 * ```ts
 * import { maskAccountId } from "./mask.ts";
 * console.log(maskAccountId("6f1c2a9e-0000-4d5e-9a3b-1234abcd5678")); // "6f1c…5678"
 * ```
 */
export function maskAccountId(accountId: string): string {
  if (accountId.length <= 10) return `${accountId.slice(0, 2)}…`;
  return `${accountId.slice(0, 4)}…${accountId.slice(-4)}`;
}

/**
 * Masks an email address, keeping the first character of the local part and
 * the domain.
 *
 * @example
 * ```ts
 * import { maskEmail } from "./mask.ts";
 * console.log(maskEmail("seller@example.com")); // "s…@example.com"
 * ```
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return `${email.slice(0, 1)}…`;
  return `${email.slice(0, 1)}…${email.slice(at)}`;
}
