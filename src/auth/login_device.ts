/**
 * The Codex CLI's device login, for machines without a browser: the issuer
 * hands out a user code, the seller enters it at `<issuer>/codex/device` on
 * any device, and this side polls until the issuer answers with an
 * authorization code and its PKCE verifier, then exchanges them like the
 * browser flow does (redirect `<issuer>/deviceauth/callback`).
 *
 * @module
 */

import { delay } from "../async.ts";
import { LoginError } from "../errors.ts";
import { describeDuration } from "./_duration.ts";
import { isRecord, nonEmptyString } from "../json.ts";
import {
  describeRefusal,
  type IssuerAnswer,
  issuerReason,
  IssuerUnreachable,
  postToIssuer,
} from "./_issuer_http.ts";
import {
  DEFAULT_ISSUER_TIMEOUT_MS,
  exchangeAuthorizationCode,
  type IssuerOptions,
  type LoginTokens,
  parseIssuer,
} from "./oauth.ts";
import { CODEX_CLIENT_ID } from "./refresh.ts";

/** How long a device code lives, and so how long the login polls (15 minutes). */
export const DEFAULT_DEVICE_LOGIN_TIMEOUT_MS = 15 * 60_000;

/** Poll interval when the issuer names none that can be read, in milliseconds. */
export const DEFAULT_DEVICE_POLL_INTERVAL_MS = 5_000;

/** Network failures in a row after which polling gives up. */
const MAX_UNREACHABLE_POLLS = 3;

/** What to show the seller. */
export interface DeviceCodePrompt {
  /** Where to enter the code: `<issuer>/codex/device`. */
  verificationUrl: string;
  /** The code to enter. Short-lived; show it only to the seller. */
  userCode: string;
  /** When the code stops working, milliseconds since the epoch. */
  expiresAt: number;
}

/** Options of {@linkcode loginWithDeviceCode}. */
export interface DeviceLoginOptions extends IssuerOptions {
  /** Shows the seller where to go and what to enter (the CLI prints it). */
  onCode: (prompt: DeviceCodePrompt) => void;
  /** How long to poll before giving up, in milliseconds (default 15 minutes). */
  timeoutMs?: number;
  /**
   * Poll interval in milliseconds, instead of the issuer's `interval`
   * (tests). Default: the issuer's, at least one second.
   */
  intervalMs?: number;
}

function pollInterval(value: unknown): number {
  const seconds = typeof value === "number"
    ? value
    : typeof value === "string" && value.trim() !== ""
    ? Number(value)
    : NaN;
  if (!Number.isFinite(seconds) || seconds < 1) {
    return DEFAULT_DEVICE_POLL_INTERVAL_MS;
  }
  return Math.min(seconds, 60) * 1000;
}

function cancelled(): LoginError {
  return new LoginError("login_cancelled", "Device login cancelled");
}

async function post(
  url: string,
  body: Record<string, unknown>,
  options: IssuerOptions,
): Promise<IssuerAnswer | IssuerUnreachable> {
  try {
    return await postToIssuer(url, body, {
      timeoutMs: options.requestTimeoutMs ?? DEFAULT_ISSUER_TIMEOUT_MS,
      signal: options.signal,
      fetch: options.fetch,
    });
  } catch (error) {
    if (!(error instanceof IssuerUnreachable)) throw error;
    if (error.kind === "aborted") throw cancelled();
    return error;
  }
}

function unreachable(url: string, error: IssuerUnreachable): LoginError {
  return new LoginError(
    "device_login_failed",
    `Device login failed: expected an answer from ${url}, found ${
      error.kind === "timeout" ? "none in time" : "a network error"
    }. Check the connection and log in again`,
    { cause: error.cause },
  );
}

/** A device code the issuer handed out. Secret-ish: never in a message. */
interface DeviceCode {
  deviceAuthId: string;
  userCode: string;
  intervalMs: number;
}

async function requestDeviceCode(
  issuer: string,
  options: DeviceLoginOptions,
): Promise<DeviceCode> {
  const url = `${issuer}/api/accounts/deviceauth/usercode`;
  const answer = await post(
    url,
    { client_id: options.clientId ?? CODEX_CLIENT_ID },
    options,
  );
  if (answer instanceof IssuerUnreachable) throw unreachable(url, answer);
  if (answer.status === 404) {
    throw new LoginError(
      "device_login_unavailable",
      `Device login is not enabled: expected ${url} to hand out a code, found HTTP 404. Use the browser login`,
      { status: 404, reason: issuerReason(answer.body) },
    );
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new LoginError(
      "device_login_failed",
      `Device login failed: the issuer refused to hand out a code, ${
        describeRefusal(answer)
      }`,
      { status: answer.status, reason: issuerReason(answer.body) },
    );
  }
  const body = isRecord(answer.body) ? answer.body : {};
  const deviceAuthId = nonEmptyString(body.device_auth_id);
  const userCode = nonEmptyString(body.user_code) ??
    nonEmptyString(body.usercode);
  if (deviceAuthId === undefined || userCode === undefined) {
    throw new LoginError(
      "device_login_failed",
      `Device login failed: expected device_auth_id and user_code from ${url}, found ${
        isRecord(answer.body) ? "an object without them" : "no JSON object"
      }`,
      { status: answer.status },
    );
  }
  return {
    deviceAuthId,
    userCode,
    intervalMs: options.intervalMs ?? pollInterval(body.interval),
  };
}

/**
 * Logs in with a device code: asks the issuer for a code, shows it with
 * `onCode`, polls `POST <issuer>/api/accounts/deviceauth/token` every
 * interval (403 and 404 mean "not entered yet"), then exchanges the
 * authorization code it receives.
 *
 * Throws `LoginError`: `device_login_unavailable` (the issuer answered 404:
 * device login is not enabled), `device_login_failed` (another refusal, a
 * fatal poll status, an unreadable answer, the issuer unreachable),
 * `device_code_expired` (still pending after `timeoutMs`),
 * `login_exchange_failed`, `login_cancelled`, `login_issuer_invalid`.
 *
 * @example
 * ```ts
 * import { loginWithDeviceCode } from "./login_device.ts";
 *
 * const tokens = await loginWithDeviceCode({
 *   onCode: ({ verificationUrl, userCode }) =>
 *     console.log(`Open ${verificationUrl} and enter ${userCode}`),
 * });
 * ```
 */
export async function loginWithDeviceCode(
  options: DeviceLoginOptions,
): Promise<LoginTokens> {
  const issuer = parseIssuer(options.issuer);
  const timeoutMs = options.timeoutMs ?? DEFAULT_DEVICE_LOGIN_TIMEOUT_MS;
  if (options.signal?.aborted) throw cancelled();
  const started = Date.now();
  const device = await requestDeviceCode(issuer, options);
  const deadline = started + timeoutMs;
  const verificationUrl = `${issuer}/codex/device`;
  options.onCode({
    verificationUrl,
    userCode: device.userCode,
    expiresAt: deadline,
  });
  const url = `${issuer}/api/accounts/deviceauth/token`;
  let unreachableInRow = 0;
  for (;;) {
    const answer = await post(url, {
      device_auth_id: device.deviceAuthId,
      user_code: device.userCode,
    }, options);
    if (answer instanceof IssuerUnreachable) {
      unreachableInRow++;
      if (unreachableInRow >= MAX_UNREACHABLE_POLLS) {
        throw unreachable(url, answer);
      }
    } else {
      unreachableInRow = 0;
      if (answer.status >= 200 && answer.status <= 299) {
        return await exchangeDeviceCode(issuer, url, answer, options);
      }
      if (answer.status !== 403 && answer.status !== 404) {
        throw new LoginError(
          "device_login_failed",
          `Device login failed: expected the issuer to answer "pending" (403 or 404) or the login, found ${
            describeRefusal(answer, [device.userCode, device.deviceAuthId])
          }. Log in again`,
          { status: answer.status, reason: issuerReason(answer.body) },
        );
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new LoginError(
        "device_code_expired",
        `Device login did not complete within ${
          describeDuration(timeoutMs)
        }: expected the code to be entered at ${verificationUrl}, found it still pending. ` +
          `The code has expired: log in again`,
      );
    }
    try {
      await delay(Math.min(device.intervalMs, remaining), options.signal);
    } catch {
      throw cancelled();
    }
  }
}

async function exchangeDeviceCode(
  issuer: string,
  url: string,
  answer: IssuerAnswer,
  options: DeviceLoginOptions,
): Promise<LoginTokens> {
  const body = isRecord(answer.body) ? answer.body : {};
  const code = nonEmptyString(body.authorization_code);
  const codeVerifier = nonEmptyString(body.code_verifier);
  if (code === undefined || codeVerifier === undefined) {
    throw new LoginError(
      "device_login_failed",
      `Device login failed: expected authorization_code and code_verifier from ${url}, found ${
        isRecord(answer.body) ? "an object without them" : "no JSON object"
      }`,
      { status: answer.status },
    );
  }
  return await exchangeAuthorizationCode({
    code,
    codeVerifier,
    redirectUri: `${issuer}/deviceauth/callback`,
  }, {
    issuer,
    clientId: options.clientId,
    fetch: options.fetch,
    requestTimeoutMs: options.requestTimeoutMs,
    signal: options.signal,
  });
}
