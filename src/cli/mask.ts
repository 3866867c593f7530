/**
 * Presentation helpers of the command line: masking of account ids and
 * emails, the seller's home folder shown as `~`, and human durations. Nothing
 * printed by the CLI shows a token, a full account id, a full email or the
 * seller's home path.
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

/**
 * A duration for people: `45 s`, `53 min`, `2 h 5 min`, `3 d 4 h`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./mask.ts";
 * console.log(formatDuration(53 * 60_000)); // "53 min"
 * ```
 */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days} d` : `${days} d ${rest} h`;
}

/**
 * A time relative to now: `in 53 min` or `2 h ago`.
 *
 * @example
 * ```ts
 * import { formatRelative } from "./mask.ts";
 * console.log(formatRelative(Date.now() + 120_000, Date.now())); // "in 2 min"
 * ```
 */
export function formatRelative(at: number, now: number): string {
  const duration = formatDuration(at - now);
  return at >= now ? `in ${duration}` : `${duration} ago`;
}
