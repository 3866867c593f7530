/**
 * Masking of what identifies the seller, for everything the package prints
 * or logs (the command line, the provider's log lines, `/health`): account
 * ids, emails, and the seller's home folder shown as `~`. Nothing printed
 * shows a token, a full account id, a full email or the seller's home path.
 * Below both the provider and the command line, which both use it.
 *
 * @module
 */

/**
 * Masks an account id to its first and last four characters:
 * `acct_0a1b2c3d1234` becomes `acct…1234`. Ids of eight characters or fewer
 * keep only their last two.
 *
 * @example
 * ```ts
 * import { maskAccountId } from "./mask.ts";
 * console.log(maskAccountId("acct_0a1b2c3d1234")); // "acct…1234"
 * ```
 */
export function maskAccountId(accountId: string): string {
  if (accountId.length <= 8) return `…${accountId.slice(-2)}`;
  return `${accountId.slice(0, 4)}…${accountId.slice(-4)}`;
}

/**
 * Masks an email to the first letter of its local part:
 * `seller@example.com` becomes `s***@example.com`.
 *
 * @example
 * ```ts
 * import { maskEmail } from "./mask.ts";
 * console.log(maskEmail("seller@example.com")); // "s***@example.com"
 * ```
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * Replaces the seller's home folder with `~` wherever it appears in `text`
 * (paths and messages that quote paths).
 *
 * @example
 * ```ts
 * import { hideHome } from "./mask.ts";
 * console.log(hideHome("/home/me/.codex/auth.json", "/home/me")); // "~/.codex/auth.json"
 * ```
 */
export function hideHome(text: string, home: string): string {
  const trimmed = home.replace(/[\\/]+$/, "");
  if (trimmed.length < 2) return text;
  return text.split(trimmed).join("~");
}
