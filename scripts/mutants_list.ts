/**
 * The hand-written mutations `deno task mutants` applies to `src/`, one at a
 * time: each is a small change that breaks a rule the project keeps, and at
 * least one of its `tests` must fail with it. `find` must occur exactly once
 * in `file`; when a change to the code moves or rewrites it, the tool stops
 * and says so, and the entry is updated (never deleted to make the run pass).
 *
 * A new rule or feature adds its mutations here.
 *
 * @module
 */

/** One mutation of one file. */
export interface Mutant {
  /** Short stable name, shown in the table. */
  id: string;
  /** Path from the repository root. */
  file: string;
  /** Exact text to replace; must occur exactly once in `file`. */
  find: string;
  /** What replaces it. */
  replace: string;
  /** The test files (from the repository root) that must catch it. */
  tests: string[];
  /** The rule it breaks. */
  why: string;
}

const RELAY = "src/relay.ts";
const PIPELINE = "src/provider/pipeline.ts";
const REQUEST = "src/codex/request.ts";
const ERRORS = "src/codex/errors.ts";
const TOKEN_SOURCE = "src/auth/token_source.ts";
const LOCK = "src/auth/lock.ts";
const WRITE = "src/auth/write.ts";
const SERVER = "src/serve/handler.ts";
const GUARD = "src/serve/_guard.ts";
const API_KEY = "src/serve/_api_key.ts";
const NODE_ADAPTER = "src/serve/node.ts";
const STORE = "src/state/response_store.ts";
const LITE = "src/codex/responses_lite.ts";
const CATALOG = "src/codex/catalog.ts";
const PREPARE = "src/provider/prepare.ts";
const LITE_TEST = "tests/responses_lite_test.ts";
const CATALOG_TEST = "tests/catalog_test.ts";
const ENCODING = "src/codex/content_encoding.ts";
const ZSTD = "src/codex/_zstd.ts";
const ZLIB_STREAM = "src/codex/_zlib_stream.ts";
const CODEX_MODELS = "src/serve/codex_models.ts";
const FAKE_BACKEND = "src/testing/fake_backend.ts";
const FAKE_COMPACTION = "src/testing/_fake_compaction.ts";

const RELAY_TEST = "tests/relay_test.ts";
const RETRY_TEST = "tests/relay_retry_test.ts";
const ABORT_TEST = "tests/relay_abort_test.ts";
const HEADERS_TEST = "tests/relay_headers_test.ts";
const HOSTILE_PROVIDER_TEST = "tests/hostile_provider_test.ts";
const SERVER_TEST = "tests/serve_handler_test.ts";
const HOSTILE_SERVE_TEST = "tests/hostile_serve_test.ts";
const STORE_TEST = "tests/state_response_store_test.ts";
const HOSTILE_STORE_TEST = "tests/hostile_store_test.ts";
const ENCODING_TEST = "tests/codex_content_encoding_test.ts";
const HOSTILE_DECODE_TEST = "tests/hostile_decode_test.ts";
const CLIENT_VERSION = "src/codex/client_version.ts";
const CLIENT_VERSION_TEST = "tests/client_version_test.ts";
const COMPACTION_TEST = "tests/compaction_test.ts";
const FAKE_COMPACTION_TEST = "tests/fake_compaction_test.ts";
const LOGINS = "src/provider/logins.ts";
const INSTALLATION_ID = "src/auth/installation_id.ts";
const LOGIN_IDENTITY = "src/codex/login_identity.ts";
const IDENTITY_TEST = "tests/identity_test.ts";
const ECHO = "src/codex/echo.ts";
const ECHO_TEST = "tests/echo_test.ts";
const JSON_SCAN = "src/codex/_json_scan.ts";
const JSON_SCAN_TEST = "tests/json_scan_test.ts";
const BUYER_SCOPE_TEST = "tests/buyer_scope_test.ts";
const OBSERVE = "src/codex/observe.ts";
const OBSERVE_TEST = "tests/codex_observe_test.ts";

/** Every mutation, in the order they run. */
export const MUTANTS: Mutant[] = [
  // Retries (README, "Relay").
  {
    id: "no-retry-on-network-error",
    file: RELAY,
    find:
      "if (retries < MAX_RETRIES && waited + pause <= MAX_RETRY_BUDGET_MS) {",
    replace: "if (false) {",
    tests: [RETRY_TEST],
    why: "network errors are retried, at most 3 times",
  },
  {
    id: "retry-budget-x10",
    file: RELAY,
    find: "export const MAX_RETRY_BUDGET_MS = 20_000;",
    replace: "export const MAX_RETRY_BUDGET_MS = 200_000;",
    tests: [RETRY_TEST],
    why: "20 s of waiting between attempts at most",
  },
  {
    id: "retry-after-x3",
    file: RELAY,
    find: "const pause = verdict.retryAfterMs ?? backoff(retries, random);",
    replace:
      "const pause = verdict.retryAfterMs !== undefined ? verdict.retryAfterMs * 3 : backoff(retries, random);",
    tests: [RETRY_TEST],
    why: "Retry-After is waited as asked, not longer",
  },
  {
    id: "retry-after-cap-x10",
    file: RELAY,
    find: "export const MAX_RETRY_AFTER_MS = 10_000;",
    replace: "export const MAX_RETRY_AFTER_MS = 100_000;",
    tests: [RETRY_TEST],
    why: "a Retry-After over 10 s goes back to the buyer",
  },
  {
    id: "one-retry-too-many",
    file: RELAY,
    find:
      "if (!verdict.retryable || retries >= MAX_RETRIES) throw verdict.error;",
    replace:
      "if (!verdict.retryable || retries > MAX_RETRIES) throw verdict.error;",
    tests: [RETRY_TEST],
    why: "at most 3 retries",
  },
  {
    id: "error-body-read-unbounded",
    file: RELAY,
    find:
      '    const text = await response.text().catch(() => "");\n    exchange.release();',
    replace:
      '    exchange.release();\n    const text = await response.text().catch(() => "");',
    tests: [RETRY_TEST],
    why: "the header timeout also bounds reading an error body",
  },
  {
    id: "no-refresh-after-401",
    file: RELAY,
    find: "if (verdict.unauthorized && !refreshedAfter401) {",
    replace: "if (false) {",
    tests: [RELAY_TEST],
    why: "a 401 refreshes the token and retries once",
  },
  // Streaming (every request ends with one done chunk).
  {
    id: "stream-after-start-throws",
    file: RELAY,
    find: "  } catch {\n    open = false;\n  }\n  const started = open;",
    replace: "  } catch {\n    // ignored\n  }\n  const started = open;",
    tests: [RELAY_TEST],
    why:
      "after onResponseStart throws, nothing more is sent and the upstream is cancelled",
  },
  {
    id: "no-done-chunk",
    file: RELAY,
    find:
      "    callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    replace: "",
    tests: [RELAY_TEST],
    why: "a stream ends with exactly one done chunk",
  },
  {
    id: "two-done-chunks",
    file: RELAY,
    find:
      "    callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    replace:
      "    callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });\n    callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    tests: [RELAY_TEST],
    why: "a stream ends with exactly one done chunk",
  },
  // The seller's data stays with the seller; every stream ends; one key per
  // name upstream (issue 19: the relay and codex layers).
  {
    id: "rate-limits-event-to-buyer",
    file: RELAY,
    find: "  const filtered = filter.push(read.value);",
    replace: "  const filtered = (filter.push(read.value), read.value);",
    tests: ["tests/hostile_stream_test.ts"],
    why: "a codex.rate_limits event never reaches a buyer",
  },
  {
    id: "rate-limits-event-unread",
    file: RELAY,
    find: "      if (snapshot) report(snapshot, now);",
    replace: "",
    tests: ["tests/hostile_stream_test.ts"],
    why:
      "a codex.rate_limits event sets the login's snapshot, also without x-codex-* headers",
  },
  {
    id: "rate-limits-split-event-leaks",
    file: "src/codex/rate_limits_filter.ts",
    find: "  if (start === length || !startsEvent(window, start)) return -1;",
    replace: "  return -1;",
    tests: [
      "tests/codex_rate_limits_filter_test.ts",
      "tests/hostile_stream_test.ts",
    ],
    why: "a codex.rate_limits event cut across chunks is removed too",
  },
  {
    id: "reset-time-not-clamped",
    file: "src/codex/reset_time.ts",
    find: "  return Math.min(Math.max(resetsAt, now), now + MAX_RESET_MS);",
    replace: "  return resetsAt;",
    tests: ["tests/hostile_stream_test.ts", "tests/codex_errors_test.ts"],
    why: "a reset time lies within 7 days from now",
  },
  {
    id: "reset-time-nan-kept",
    file: "src/codex/reset_time.ts",
    find: "  if (Number.isNaN(resetsAt)) return undefined;",
    replace: "",
    tests: ["tests/codex_errors_test.ts"],
    why: "a NaN reset time is no reset time",
  },
  {
    id: "retry-after-uncapped",
    file: ERRORS,
    find:
      "    return Math.min(Math.round(Number(value) * 1000), MAX_RESET_MS);",
    replace: "    return Math.round(Number(value) * 1000);",
    tests: ["tests/codex_errors_test.ts"],
    why: "a retry-after is read as 7 days at most",
  },
  {
    id: "usage-limit-date-unguarded",
    file: ERRORS,
    find: "  const iso = Number.isNaN(date.getTime())",
    replace: "  const iso = false",
    tests: ["tests/codex_errors_test.ts"],
    why: "a usage-limit error never throws on a time Date cannot show",
  },
  {
    id: "kept-chunk-view-of-its-read-buffer",
    file: RELAY,
    find: "  return chunk.buffer.byteLength >= 8 * chunk.byteLength",
    replace: "  return false",
    tests: ["tests/relay_retention_test.ts"],
    why:
      "a chunk kept to the stream's end does not hold the larger buffer it was read into (64 KiB a chunk on Deno)",
  },
  {
    id: "kept-chunk-always-copied",
    file: RELAY,
    find: "  return chunk.buffer.byteLength >= 8 * chunk.byteLength",
    replace: "  return true",
    tests: ["tests/relay_retention_test.ts"],
    why: "the large chunks of a fast stream are kept as they are, not copied",
  },
  {
    id: "done-chunk-not-in-finally",
    file: RELAY,
    find: "    if (started && !done) sendDone(callbacks, requestId);",
    replace: "",
    tests: ["tests/hostile_stream_test.ts"],
    why:
      "a started stream ends with its done chunk whatever the observation after it throws",
  },
  {
    id: "duplicate-keys-upstream",
    file: REQUEST,
    find:
      "  if (keysInText(text) !== keysIn(value)) return JSON.stringify(upstream);",
    replace: "",
    tests: ["tests/hostile_stream_test.ts", "tests/codex_request_test.ts"],
    why: "a body that names a key twice goes upstream with one key per name",
  },
  // A buyer who goes away.
  {
    id: "buyer-abort-not-heard",
    file: RELAY,
    find: '    else signal?.addEventListener("abort", this, { once: true });',
    replace: "",
    tests: [ABORT_TEST],
    why: "a buyer abort ends the upstream exchange at once",
  },
  {
    id: "retry-wait-ignores-abort",
    file: RELAY,
    find: "    waited += pause;\n    await delay(pause, context.signal)",
    replace: "    waited += pause;\n    await delay(pause)",
    tests: [ABORT_TEST],
    why: "a buyer abort ends the wait between attempts",
  },
  {
    id: "attempt-after-abort",
    file: RELAY,
    find:
      "  // reading the login's catalog. Later attempts follow a wait that the\n  // abort ends, or a refresh after which the exchange starts aborted.\n  if (context.signal?.aborted) throw buyerGone();",
    replace: "",
    tests: [ABORT_TEST, HOSTILE_PROVIDER_TEST],
    why: "no attempt for a buyer who has gone",
  },
  {
    id: "upstream-response-not-held",
    file: RELAY,
    find: "      exchange.response = response;\n",
    replace: "",
    tests: ["tests/relay_gc_test.ts"],
    why:
      "the Response is held until its body is locked: Node's fetch cancels the body of a collected Response",
  },
  {
    id: "upstream-redirect-followed",
    file: RELAY,
    find: '        redirect: "error",\n',
    replace: "",
    tests: ["tests/relay_redirect_test.ts"],
    why:
      "an upstream redirect is not followed: to follow one, Node's fetch keeps a clone of every request while its answer streams",
  },
  {
    id: "refresh-follows-redirect",
    file: "src/auth/refresh.ts",
    find: '      redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "a token endpoint's redirect is not followed: a 307 would send the refresh token to wherever it points",
  },
  {
    id: "issuer-post-follows-redirect",
    file: "src/auth/_issuer_http.ts",
    find: '      redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "an issuer POST does not follow a redirect: a 307 would send the code and its verifier, or a token to revoke, to wherever it points",
  },
  {
    id: "usage-follows-redirect",
    file: "src/codex/usage.ts",
    find: '        redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "the usage read does not follow a redirect: it would take the login's account id wherever it points",
  },
  {
    id: "refresh-redirect-read-as-verdict",
    file: "src/auth/refresh.ts",
    find: "  if (status >= 300 && status <= 399) {\n",
    replace: "  if (false) {\n",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "a redirect from the token endpoint is a failure for now, not a verdict on the token: a body that says invalid_grant does not take the login out of rotation",
  },
  {
    id: "usage-redirect-read-as-verdict",
    file: "src/codex/usage.ts",
    find: "    const redirect = status >= 300 && status <= 399;\n",
    replace: "    const redirect = false;\n",
    tests: ["tests/redirect_secrets_test.ts"],
    why: "a redirect from the usage endpoint says nothing of the account",
  },
  {
    id: "catalog-follows-redirect",
    file: "src/codex/catalog.ts",
    find: '        redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "the model catalog's read does not follow a redirect: it would take the login's account id wherever it points",
  },
  {
    id: "reset-credits-follow-redirect",
    file: "src/codex/reset_credits.ts",
    find: '      redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "the reset credits' calls do not follow a redirect: they would take the login's account id wherever it points",
  },
  {
    id: "serve-models-follow-redirect",
    file: "src/serve/models.ts",
    find: '      redirect: "manual",\n',
    replace: "",
    tests: ["tests/redirect_secrets_test.ts"],
    why:
      "serve's model list does not follow a redirect: it would take the login's account id wherever it points",
  },
  {
    id: "models-no-single-flight",
    file: "src/serve/models.ts",
    find: "  if (running !== undefined) return running;\n",
    replace: "",
    tests: ["tests/serve_models_test.ts"],
    why:
      "buyers who ask serve's model list while it is read share that read: one backend call with the seller's token, not one each",
  },
  {
    id: "models-failure-not-cached",
    file: "src/serve/models.ts",
    find: "  if (failure && within(failure.at, MODELS_FAILURE_CACHE_MS)) {",
    replace: "  if (false) {",
    tests: ["tests/serve_models_test.ts"],
    why:
      "a failed read of serve's model list is answered again for MODELS_FAILURE_CACHE_MS: a failing backend is not asked by every buyer",
  },
  {
    id: "models-failure-cached-forever",
    file: "src/serve/models.ts",
    find: "  if (failure && within(failure.at, MODELS_FAILURE_CACHE_MS)) {",
    replace: "  if (failure) {",
    tests: ["tests/serve_models_test.ts"],
    why:
      "a failed read of serve's model list is remembered for MODELS_FAILURE_CACHE_MS only: a backend back on its feet is asked again",
  },
  {
    id: "models-cache-ignores-clock",
    file: "src/serve/models.ts",
    find: "    const age = now() - at;",
    replace: "    const age = Date.now() - at;",
    tests: ["tests/serve_models_test.ts"],
    why:
      "serve's model list is read again after MODELS_CACHE_MS, by the clock it is given",
  },
  {
    id: "upstream-redirect-retried",
    file: RELAY,
    find: "      if (isRedirect(error)) {",
    replace: "      if (false) {",
    tests: ["tests/relay_redirect_test.ts"],
    why:
      "an upstream redirect is answered 502 at once, saying so: the same URL answers the same way",
  },
  {
    id: "upstream-redirect-any-word",
    file: RELAY,
    find: "      error.cause.message === NODE_REDIRECT);",
    replace: "      /redirect/i.test(error.cause.message));",
    tests: ["tests/relay_redirect_test.ts"],
    why:
      "a redirect is told by the runtime's exact words: a network error whose URL says redirect is still retried",
  },
  {
    id: "echo-error-event-reset-times-dropped",
    file: ECHO,
    find: '  "status_code",\n  "resets_at",\n  "resets_in_seconds",\n',
    replace: '  "status_code",\n',
    tests: [ECHO_TEST],
    why:
      "an error event keeps its reset times at its top level: the buyer's, and what the relay's observation reads",
  },
  {
    id: "warnings-show-home",
    file: "src/provider/observability.ts",
    find:
      '    this.warn = home === "" ? warn : (message) => warn(hideHome(message, home));',
    replace: "    this.warn = warn;",
    tests: ["tests/provider_log_test.ts"],
    why:
      "a provider's warning shows the seller's home folder as ~ (a failed write-back quotes the auth.json path)",
  },
  {
    id: "abort-leaves-read-pending",
    file: RELAY,
    find: "    this.reader?.cancel(reason).catch(() => {});",
    replace: "",
    tests: [ABORT_TEST],
    why: "an abort ends a pending body read even when fetch misses it",
  },
  // The provider's gates and slots.
  {
    id: "no-usage-limit-gate",
    file: "src/provider/usage_limit.ts",
    find:
      "    return limit && this.active ? usageLimitError(limit.until) : undefined;",
    replace: "    return undefined;",
    tests: [RELAY_TEST],
    why: "no backend call during a usage limit",
  },
  {
    id: "concurrency-gate-off-by-one",
    file: "src/provider/capacity.ts",
    find: "if (this.#inFlight >= this.max) return this.refusal();",
    replace: "if (this.#inFlight > this.max) return this.refusal();",
    tests: [RELAY_TEST],
    why: "never more than maxConcurrency upstream exchanges",
  },
  {
    id: "slot-not-released",
    file: PIPELINE,
    find: "  } finally {\n    parts.capacity.leave();",
    replace: "  } finally {",
    tests: [RELAY_TEST],
    why: "every request releases its slot",
  },
  // Reading the buyer's body.
  {
    id: "body-utf8-trusts-lenient-decode",
    file: REQUEST,
    find: '    if (text.includes("\\uFFFD")) text = strictUtf8.decode(body);',
    replace:
      '    if (text.includes("\\uFFFD")) text = lenientUtf8.decode(body);',
    tests: ["tests/codex_request_test.ts"],
    why: "a body that is not valid UTF-8 is refused, not decoded with U+FFFD",
  },
  {
    id: "body-utf8-refuses-replacement-character",
    file: REQUEST,
    find: '    if (text.includes("\\uFFFD")) text = strictUtf8.decode(body);',
    replace:
      '    if (text.includes("\\uFFFD")) throw new Error("not valid UTF-8");',
    tests: ["tests/codex_request_test.ts"],
    why: "a U+FFFD the buyer sent is valid UTF-8 and kept",
  },
  // Request shaping and the upstream headers.
  {
    id: "store-not-forced-false",
    file: REQUEST,
    find: "  upstream.store = false;",
    replace: "",
    tests: ["tests/codex_request_test.ts", RELAY_TEST],
    why: "the backend requires store: false",
  },
  {
    id: "stream-not-forced-true",
    file: REQUEST,
    find: "  upstream.stream = true;",
    replace: "",
    tests: ["tests/codex_request_test.ts", RELAY_TEST],
    why: "the backend requires stream: true",
  },
  {
    id: "extra-upstream-header",
    file: REQUEST,
    find: '    "thread-id": sessionId,\n  };',
    replace:
      '    "thread-id": sessionId,\n    "x-forwarded-for": "10.0.0.9",\n  };',
    tests: ["tests/codex_request_test.ts", HEADERS_TEST],
    why: "the upstream headers are exactly the allow-listed ones",
  },
  {
    id: "buyer-header-upstream",
    file: PIPELINE,
    find:
      "  const { login, upstream } = await open(parts, prepared, pool, signal);",
    replace:
      '  const { login, upstream } = await open(parts, { ...prepared, sessionId: req.headers["x-antseed-buyer-peer-id"] ?? prepared.sessionId }, pool, signal);',
    tests: [HEADERS_TEST],
    why: "nothing of the buyer reaches the backend",
  },
  // What the buyer gets.
  {
    id: "upstream-headers-to-buyer",
    file: ERRORS,
    find:
      "    const result: UpstreamVerdict = { error, retryable, unauthorized };",
    replace:
      "    const result: UpstreamVerdict = { error: new RelayError(error.status, error.code, error.message, { type: error.type, details: error.details, headers: { ...Object.fromEntries(headers), ...error.headers } }), retryable, unauthorized };",
    tests: [HEADERS_TEST],
    why: "no cookie, cf-* or x-codex-* header reaches the buyer",
  },
  {
    id: "contract-header-to-client",
    file: SERVER,
    find: '  "x-antseed-streaming",\n  "content-length",',
    replace: '  "content-length",',
    tests: ["tests/serve_handler_test.ts"],
    why: "serve's clients get no host-contract header",
  },
  {
    id: "serve-key-to-provider",
    file: SERVER,
    find: '  "authorization",\n  "cookie",',
    replace: '  "cookie",',
    tests: ["tests/serve_handler_test.ts"],
    why: "serve's API key never reaches the provider",
  },
  {
    id: "bearer-not-scrubbed",
    file: ERRORS,
    find: '.replace(/\\b(Bearer)\\s+[^\\s"\',;]+/gi, "$1 [redacted]")',
    replace: '.replace(/\\b(Bearer)\\s+[^\\s"\',;]+/gi, "$&")',
    tests: ["tests/codex_errors_test.ts"],
    why: "never a token in an answer",
  },
  {
    id: "jwt-not-scrubbed",
    file: ERRORS,
    find: '.replace(/eyJ[A-Za-z0-9_\\-.+/=]{6,}/g, "[redacted]")',
    replace: '.replace(/eyJ[A-Za-z0-9_\\-.+/=]{6,}/g, "$&")',
    tests: ["tests/codex_errors_test.ts", RELAY_TEST],
    why: "never a token in an answer",
  },
  {
    id: "api-key-not-scrubbed",
    file: ERRORS,
    find: '.replace(/\\bsk-[A-Za-z0-9_-]{8,}/g, "[redacted]")',
    replace: '.replace(/\\bsk-[A-Za-z0-9_-]{8,}/g, "$&")',
    tests: ["tests/codex_errors_test.ts"],
    why: "never a key in an answer",
  },
  {
    id: "usage-limit-guess-1h",
    file: ERRORS,
    find: "export const DEFAULT_USAGE_LIMIT_MS = 60_000;",
    replace: "export const DEFAULT_USAGE_LIMIT_MS = 3_600_000;",
    tests: ["tests/codex_errors_test.ts"],
    why:
      "a usage limit without a reset time blocks the seller for a minute only",
  },
  // The seller's login.
  {
    id: "refresh-margin-1-min",
    file: "src/auth/policy.ts",
    find: "export const REFRESH_MARGIN_MS = 5 * 60 * 1000;",
    replace: "export const REFRESH_MARGIN_MS = 1 * 60 * 1000;",
    tests: ["tests/auth_token_source_test.ts"],
    why: "refresh 5 minutes before expiry",
  },
  {
    id: "short-lived-token-refreshed-every-time",
    file: TOKEN_SOURCE,
    find:
      "    this.#refreshedNearExpiry = needsRefresh(next, now)\n      ? next.accessToken\n      : undefined;",
    replace: "    this.#refreshedNearExpiry = undefined;",
    tests: ["tests/auth_token_source_refresh_test.ts"],
    why:
      "a token that is short-lived from the start is not refreshed on every request",
  },
  {
    id: "auth-file-recheck-600s",
    file: TOKEN_SOURCE,
    find:
      "    const interval = this.#options.statIntervalMs ?? DEFAULT_STAT_INTERVAL_MS;",
    replace: "    const interval = this.#options.statIntervalMs ?? 600_000;",
    tests: ["tests/auth_token_source_test.ts"],
    why: "auth.json is looked at again about once a second",
  },
  {
    id: "no-crash-recovery",
    file: TOKEN_SOURCE,
    find: "        await recoverInterruptedWrite(this.#authFile, {",
    replace: "        if (0) await recoverInterruptedWrite(this.#authFile, {",
    tests: ["tests/auth_token_source_refresh_test.ts"],
    why: "a killed writer's rotated token is not lost",
  },
  {
    id: "auth-file-mode-0644",
    file: WRITE,
    find: "const OWNER_READ_WRITE = 0o600;",
    replace: "const OWNER_READ_WRITE = 0o644;",
    tests: ["tests/auth_write_test.ts"],
    why: "auth.json stays 0600 or stricter",
  },
  {
    id: "auth-file-mode-kept-wide",
    file: WRITE,
    find:
      "    const mode = original ? original.mode & OWNER_READ_WRITE : OWNER_READ_WRITE;",
    replace:
      "    const mode = original ? original.mode & 0o777 : OWNER_READ_WRITE;",
    tests: ["tests/auth_write_test.ts"],
    why: "auth.json stays 0600 or stricter",
  },
  {
    id: "lock-without-o-excl",
    file: LOCK,
    find: '    handle = await open(lockPath, "wx", 0o600);',
    replace: '    handle = await open(lockPath, "w", 0o600);',
    tests: ["tests/auth_lock_test.ts"],
    why: "one refresh per refresh token across processes",
  },
  {
    id: "lock-always-stale",
    file: LOCK,
    find: "  return now - owner.mtimeMs > staleMs;",
    replace: "  return true;",
    tests: ["tests/auth_lock_test.ts"],
    why: "a live process's fresh lock is respected",
  },
  {
    id: "lock-released-not-ours",
    file: LOCK,
    find: "    if (owner?.id !== id) return false;",
    replace: "",
    tests: ["tests/auth_lock_test.ts"],
    why: "a lock is released only by its owner",
  },
  // Issue 10: defects fixed.
  {
    id: "spent-refresh-token-adopted",
    file: TOKEN_SOURCE,
    find: "      this.#isSpent(file.refreshToken)",
    replace: "      false",
    tests: ["tests/auth_write_in_place_test.ts"],
    why: "a file holding a refresh token this process spent is never adopted",
  },
  {
    id: "no-in-place-write-on-ebusy",
    file: WRITE,
    find: '  "EBUSY",',
    replace: '  "EBUSY_NEVER",',
    tests: ["tests/auth_write_in_place_test.ts"],
    why: "a single-file bind mount is written in place",
  },
  {
    id: "no-401-cooldown",
    file: TOKEN_SOURCE,
    find: "      this.#startCooldown();",
    replace: "",
    tests: ["tests/auth_unauthorized_cooldown_test.ts"],
    why: "an always-401 backend costs at most one refresh",
  },
  {
    id: "lock-pid-judged-across-namespaces",
    file: LOCK,
    find: "samePidSpace(owner, self) && processIsDead(owner.pid)",
    replace: "processIsDead(owner.pid)",
    tests: ["tests/auth_lock_test.ts"],
    why: "a live holder in another PID namespace keeps its lock",
  },
  {
    id: "serve-no-host-check",
    file: SERVER,
    find: "      const refusal = checkHost(request, hosts);",
    replace: "      const refusal = undefined;",
    tests: ["tests/serve_handler_test.ts"],
    why: "serve refuses a foreign Host (DNS rebinding)",
  },
  {
    id: "serve-no-origin-check",
    file: SERVER,
    find: "    const refusal = checkOrigin(origin, allowedOrigins);",
    replace: "    const refusal = undefined;",
    tests: ["tests/serve_handler_test.ts"],
    why: "serve refuses an unlisted Origin",
  },
  {
    id: "serve-no-content-type-check",
    file: SERVER,
    find: "    if (unsupported) return fail(unsupported);",
    replace: "",
    tests: ["tests/serve_handler_test.ts"],
    why: "serve accepts only JSON bodies (no simple cross-site POST)",
  },
  // serve against hostile clients (issue 19: defects 6, 8, 11, 16; "tests
  // that notice" 6 and 7).
  {
    id: "serve-cors-no-expose-headers",
    file: GUARD,
    find:
      '  response.headers.set("access-control-expose-headers", EXPOSED_HEADERS);\n',
    replace: "",
    tests: [SERVER_TEST],
    why: "a page of an allowed origin can read retry-after",
  },
  {
    id: "serve-origin-prefix-match",
    file: GUARD,
    find: "  if (allowed.includes(origin.toLowerCase())) return undefined;",
    replace:
      "  if (allowed.some((entry) => origin.toLowerCase().startsWith(entry))) return undefined;",
    tests: [SERVER_TEST],
    why:
      "an origin that extends an allowed one (http://localhost:3000.evil.example) is refused",
  },
  {
    id: "serve-authorization-uncapped",
    file: API_KEY,
    find:
      "authorization !== null && authorization.length > MAX_AUTHORIZATION_LENGTH",
    replace: "false",
    tests: [SERVER_TEST, HOSTILE_SERVE_TEST],
    why: "an authorization header over the cap is refused unread (431)",
  },
  {
    id: "serve-authorization-cap-x16",
    file: API_KEY,
    find: "export const MAX_AUTHORIZATION_LENGTH = 4096;",
    replace: "export const MAX_AUTHORIZATION_LENGTH = 65536;",
    tests: [SERVER_TEST],
    why: "the authorization header is read up to 4096 characters",
  },
  {
    id: "serve-bearer-regex-quadratic",
    file: API_KEY,
    find: "  const text = value.trim();\n",
    replace:
      "  return /^\\s*bearer\\s+(.+?)\\s*$/i.exec(value)?.[1];\n  const text = value.trim();\n",
    tests: [HOSTILE_SERVE_TEST],
    why: "the bearer token is read in linear time",
  },
  {
    id: "serve-long-api-key-accepted",
    file: "src/cli/serve.ts",
    find: "  if (apiKey !== undefined && apiKey.length > MAX_API_KEY_LENGTH) {",
    replace: "  if (false) {",
    tests: ["tests/cli_args_test.ts"],
    why:
      "a key that no authorization header within the cap can carry stops serve",
  },
  {
    id: "serve-no-headers-timeout",
    file: NODE_ADAPTER,
    find: "    headersTimeout: headersTimeoutMs,",
    replace: "    headersTimeout: 60_000,",
    tests: [SERVER_TEST, HOSTILE_SERVE_TEST],
    why: "a client has headersTimeoutMs to send its headers",
  },
  {
    id: "serve-headers-checked-every-30s",
    file: NODE_ADAPTER,
    find: "    connectionsCheckingInterval: Math.min(",
    replace: "    connectionsCheckingInterval: 30_000 || Math.min(",
    tests: [SERVER_TEST, HOSTILE_SERVE_TEST],
    why: "the header timeout is enforced on time, not at Node's 30 s check",
  },
  {
    id: "serve-body-timeout-x100",
    file: NODE_ADAPTER,
    find: "        }, bodyTimeoutMs);",
    replace: "        }, bodyTimeoutMs * 100);",
    tests: [SERVER_TEST, HOSTILE_SERVE_TEST],
    why: "a body that pauses for bodyTimeoutMs gets 408 request_body_timeout",
  },
  {
    id: "serve-no-keep-alive-timeout",
    file: NODE_ADAPTER,
    find: "  server.keepAliveTimeout = options.keepAliveTimeoutMs ??",
    replace: "  void options.keepAliveTimeoutMs ??",
    tests: [SERVER_TEST, HOSTILE_SERVE_TEST],
    why: "an idle keep-alive connection is closed after keepAliveTimeoutMs",
  },
  {
    id: "serve-keeps-connection-after-early-answer",
    file: NODE_ADAPTER,
    find: '  if (!req.complete) headers.connection = "close";',
    replace: "",
    tests: [SERVER_TEST],
    why:
      "a request answered before its body arrived does not keep its connection",
  },
  {
    id: "serve-forbidden-method-500",
    file: NODE_ADAPTER,
    find: "  if (FORBIDDEN_METHODS.has(method)) {",
    replace: "  if (false) {",
    tests: [HOSTILE_SERVE_TEST],
    why:
      "a method no web Request can hold (TRACE) is refused 405 method_not_allowed, not 500",
  },
  {
    id: "serve-bad-target-500",
    file: NODE_ADAPTER,
    find: "    url = new URL(target, base);",
    replace: '    url = new URL("/", base);',
    tests: [HOSTILE_SERVE_TEST],
    why:
      "a request target that is no URL is refused 400 invalid_request_target, not 500",
  },
  {
    id: "serve-refusal-not-reported",
    file: NODE_ADAPTER,
    find: "        report(method, refusal.path, refusal.error, started);",
    replace: "",
    tests: [HOSTILE_SERVE_TEST],
    why: "a request the adapter refuses itself is told to onRequestDone",
  },
  {
    id: "serve-connect-dropped",
    file: NODE_ADAPTER,
    find: '  server.on("connect", ',
    replace: '  server.on("connect-unheard", ',
    tests: [HOSTILE_SERVE_TEST],
    why: "a CONNECT is answered 405, not dropped without a word",
  },
  {
    id: "serve-adapter-log-not-wired",
    file: "src/cli/serve.ts",
    find: "        onRequestDone: requestDone,\n",
    replace: "",
    tests: [HOSTILE_SERVE_TEST],
    why: "serve prints a line for the requests its adapter refuses itself",
  },
  {
    id: "serve-timeout-keys-ignored",
    file: "src/cli/serve.ts",
    find: "        ...timeouts,\n",
    replace: "",
    tests: [HOSTILE_SERVE_TEST],
    why: "the OPENAI_RESPONSES_SERVE_*_TIMEOUT_MS keys reach the server",
  },
  {
    id: "log-text-no-c1",
    file: "src/log_text.ts",
    find: "\\x00-\\x1f\\x7f-\\x9f",
    replace: "\\x00-\\x1f",
    tests: ["tests/log_text_test.ts", HOSTILE_SERVE_TEST],
    why: "C1 controls (\\x9b starts a terminal sequence) are escaped in logs",
  },
  {
    id: "log-line-raw-model",
    file: "src/cli/log_line.ts",
    find: 'entry.service === undefined ? "-" : logText(entry.service, 80),',
    replace: 'entry.service === undefined ? "-" : entry.service,',
    tests: ["tests/cli_args_test.ts", HOSTILE_SERVE_TEST],
    why: "a buyer-chosen model name is escaped in serve's log line",
  },
  {
    id: "serve-provider-request-line-repeated",
    file: "src/cli/serve.ts",
    find: "    logRequests: false,\n",
    replace: "",
    tests: [HOSTILE_SERVE_TEST],
    why:
      "serve prints one line per request (OPENAI_RESPONSES_LOG=requests too)",
  },
  {
    id: "serve-log-without-error-code",
    file: SERVER,
    find: "onSettled(response.statusCode, errorCodeOf(response));",
    replace: "onSettled(response.statusCode);",
    tests: [SERVER_TEST],
    why: "serve's log line carries the code of an error the provider answered",
  },
  {
    id: "in-stream-usage-limit-ignored",
    file: RELAY,
    find: "    usageLimit: reported?.usageLimit,",
    replace: "    usageLimit: undefined,",
    tests: [RELAY_TEST],
    why: "a usage limit inside a 200 stream blocks later requests",
  },
  {
    id: "session-id-unsafe-key-as-is",
    file: REQUEST,
    find: "  if (HEADER_SAFE.test(promptCacheKey)) return promptCacheKey;",
    replace: "  return promptCacheKey;",
    tests: ["tests/codex_request_test.ts", RELAY_TEST],
    why: "a prompt_cache_key that cannot be a header gets a derived session id",
  },
  // The provider's own logins (README, "Logins").
  {
    id: "check-ignores-login-rules",
    file: "src/cli/main.ts",
    find:
      "        tokenSource: loginTokenSource(login, settings, onWarning),\n",
    replace: "",
    tests: ["tests/cli_accounts_test.ts"],
    why: "check reads the logins the rules choose, each one",
  },
  {
    id: "logout-without-revoke",
    file: "src/cli/logout.ts",
    find:
      "  const result: RevokeResult = await revokeRefreshToken(refreshToken, {",
    replace:
      "  const result: RevokeResult = { revoked: true } ?? await revokeRefreshToken(refreshToken, {",
    tests: ["tests/cli_logout_test.ts"],
    why: "logout revokes the refresh token at the issuer",
  },
  {
    id: "login-account-id-unmasked",
    file: "src/cli/login.ts",
    find: "      maskAccountId(saved.accountId)",
    replace: "      saved.accountId",
    tests: ["tests/cli_login_test.ts"],
    why: "login prints no full account id",
  },
  {
    id: "check-usage-no-fallback",
    file: "src/cli/check.ts",
    find: "    for (const line of describeRateLimits(snapshot, now())) {",
    replace: "    for (const line of [] as string[]) {",
    tests: ["tests/cli_accounts_test.ts"],
    why: "check --usage falls back to the last rate-limit headers",
  },
  // Issues 11, 13, 14 and 12: the house, today's clients, Chat Completions, the pool.
  {
    id: "store-ignores-buyer",
    file: STORE,
    find:
      "    const state = this.#scopes.get(scope);\n    const chain: Entry[] = [];",
    replace:
      "    const state = this.#scopes.get(scope) ?? [...this.#scopes.values()][0];\n    const chain: Entry[] = [];",
    tests: ["tests/provider_clients_test.ts"],
    why: "nothing one buyer stored resolves for another",
  },
  {
    id: "store-references-ignore-buyer",
    file: STORE,
    find:
      "    const state = this.#scopes.get(scope);\n    const now = this.#now();",
    replace:
      "    const state = this.#scopes.get(scope) ?? [...this.#scopes.values()][0];\n    const now = this.#now();",
    tests: [STORE_TEST],
    why: "no buyer's item_reference fills another buyer's item",
  },
  {
    id: "store-false-stored",
    file: "src/provider/prepare.ts",
    find: "store.enabled && scope !== NO_BUYER && buyer.value.store !== false",
    replace: "store.enabled && scope !== NO_BUYER",
    tests: ["tests/provider_clients_test.ts"],
    why: "a request that says store: false keeps nothing",
  },
  {
    id: "decoded-size-unbounded",
    file: ZSTD,
    find: "    if (this.size > this.maxBytes) {",
    replace: "    if (this.size > this.maxBytes * 1000) {",
    tests: ["tests/codex_content_encoding_test.ts"],
    why: "the size limit applies to the decoded body while decoding",
  },
  // Issue 19: decoding within bounds.
  {
    id: "coding-count-at-limit-refused",
    file: ENCODING,
    find: "  if (codings.length > MAX_CONTENT_CODINGS) {",
    replace: "  if (codings.length >= MAX_CONTENT_CODINGS) {",
    tests: [ENCODING_TEST],
    why: "four stacked content codings are accepted, five refused",
  },
  {
    id: "zstd-frames-unbounded",
    file: ZSTD,
    find: "    if (frames + skippable === ZSTD_MAX_FRAMES) {",
    replace: "    if (false) {",
    tests: [ENCODING_TEST, HOSTILE_DECODE_TEST],
    why: "a zstd body holds at most 128 frames, counted before decoding",
  },
  {
    id: "zstd-skippable-frames-uncounted",
    file: ZSTD,
    find: "      skippable++;\n      continue;",
    replace: "      continue;",
    tests: [ENCODING_TEST],
    why: "skippable frames count towards the frame limit",
  },
  {
    id: "zstd-blocks-unbounded",
    file: ZSTD,
    find: "      if (blocks === ZSTD_MAX_BLOCKS) {",
    replace: "      if (false) {",
    tests: [ENCODING_TEST],
    why: "a zstd body holds at most 2048 blocks, counted before decoding",
  },
  {
    id: "zstd-windows-unbounded",
    file: ZSTD,
    find: "    if (windows > ZSTD_MAX_TOTAL_WINDOW_BYTES) {",
    replace: "    if (false) {",
    tests: [ENCODING_TEST],
    why: "the frames of a zstd body declare at most 64 MiB of windows in all",
  },
  {
    id: "zstd-empty-frame-accepted",
    file: ZSTD,
    find: "    if (sink.size === before) {",
    replace: "    if (false) {",
    tests: [ENCODING_TEST],
    why: "every zstd frame decodes to at least one byte",
  },
  {
    id: "decode-never-yields",
    file: "src/async.ts",
    find: "    return this.due ? this.yield() : Promise.resolve();",
    replace: "    return Promise.resolve();",
    tests: [ENCODING_TEST],
    why: "decoding yields to the event loop every few milliseconds",
  },
  {
    id: "zlib-output-never-paused",
    file: ZLIB_STREAM,
    find: "      if (pacer.due) {\n        stream.pause();",
    replace: "      if (false) {\n        stream.pause();",
    tests: [ENCODING_TEST],
    why:
      "the node:zlib decoders (gzip, deflate, native zstd) are paused on their output to yield",
  },
  {
    id: "zlib-output-read-after-stop",
    file: ZLIB_STREAM,
    find: '    stream.on("data", (chunk) => {\n      if (settled) return;\n',
    replace: '    stream.on("data", (chunk) => {\n',
    tests: ["tests/codex_zlib_stream_test.ts"],
    why: "what a decoder still emits after decoding stopped is not collected",
  },
  {
    id: "zlib-stream-not-destroyed",
    file: ZLIB_STREAM,
    find: "      stream.destroy();\n      writing?.();",
    replace: "      writing?.();",
    tests: ["tests/codex_zlib_stream_test.ts"],
    why:
      "a decoder is destroyed once decoding stops, also when a deflate stream ends before its input",
  },
  {
    id: "json-values-unbounded",
    file: "src/codex/json_values.ts",
    find: "      if (count > maxValues) {",
    replace: "      if (false) {",
    tests: ["tests/hostile_json_values_test.ts"],
    why: "a body of more than 500,000 JSON values is refused before JSON.parse",
  },
  {
    id: "echo-non-string-instructions",
    file: "src/codex/echo.ts",
    find: '    instructions: typeof body.instructions === "string"\n',
    replace: "    instructions: body.instructions !== undefined\n",
    tests: ["tests/answer_kept_test.ts"],
    why:
      "instructions that are not a string never went upstream and are not echoed",
  },
  {
    id: "deep-body-internal-error",
    file: PREPARE,
    find:
      "    if (error instanceof RangeError && /call stack/i.test(error.message)) {\n",
    replace: "    if (false) {\n",
    tests: ["tests/answer_kept_test.ts"],
    why:
      "a body nested too deep to be written again is the buyer's fault: 400 invalid_request, not 500 internal_error",
  },
  {
    id: "store-throw-loses-answer",
    file: PIPELINE,
    find:
      "      try {\n        storeTurn(parts.store, prepared.store, outcome.final);\n      } catch {\n",
    replace:
      "      {\n        storeTurn(parts.store, prepared.store, outcome.final);\n      } if (false) {\n",
    tests: ["tests/answer_kept_test.ts"],
    why:
      "a turn that cannot be stored is not stored: the answer, paid for upstream, still resolves with its usage",
  },
  {
    id: "hold-failure-unwritable-no-done",
    file: "src/provider/hold.ts",
    find:
      "    body = committedFailure(internalError(), { ...options, echo: undefined });\n",
    replace: '    throw new Error("unwritable");\n',
    tests: ["tests/answer_kept_test.ts"],
    why:
      "a committed failure whose echoed fields cannot be written still ends with its one done chunk",
  },
  {
    id: "aggregate-missing-failure-uncounted",
    file: RELAY,
    find:
      '    : result.kind === "missing"\n    ? streamFailure(read)\n    : undefined;\n',
    replace: "    : undefined;\n",
    tests: ["tests/answer_kept_test.ts"],
    why:
      "a non-streamed answer that ended without a terminal event is logged and counted with its code",
  },
  {
    id: "json-values-escaped-quote-ends-string",
    file: "src/codex/json_values.ts",
    find: "      if (backslashes % 2 === 0) inString = false;",
    replace: "      inString = false;",
    tests: ["tests/hostile_json_values_test.ts"],
    why:
      "an escaped quote does not end a string: what follows inside it is not counted",
  },
  {
    id: "json-values-never-counted",
    file: PREPARE,
    find: "    body.byteLength > MAX_JSON_VALUES &&",
    replace: "    false &&",
    tests: ["tests/hostile_json_values_test.ts"],
    why: "a buyer's body is counted before it is parsed",
  },
  {
    id: "json-values-never-yields",
    file: "src/codex/json_values.ts",
    find: "      await pacer.pace();",
    replace: "",
    tests: ["tests/hostile_json_values_test.ts"],
    why: "the value count yields to the event loop while it scans a large body",
  },
  {
    id: "json-values-counted-past-size-limit",
    file: PREPARE,
    find: "    body.byteLength <= settings.maxBodyBytes",
    replace: "    true",
    tests: ["tests/hostile_json_values_test.ts"],
    why:
      "a body over the size limit is refused for its size, without a scan of its values",
  },
  {
    id: "serve-pipelined-not-aborted",
    file: "src/serve/node.ts",
    find: "        for (const end of [...answers]) end();",
    replace: "",
    tests: ["tests/serve_pipelined_test.ts"],
    why:
      "every request queued on a connection that closes is aborted and leaves the in-flight count",
  },
  {
    id: "fzstd-never-yields",
    file: ZSTD,
    find: "    start = end;\n    await pacer.pace();",
    replace: "    start = end;",
    tests: [ENCODING_TEST],
    why: "fzstd (synchronous) decodes one block per step between yields",
  },
  {
    id: "inflate-input-never-paced",
    file: ZLIB_STREAM,
    find: "        // pace.\n        await pacer.pace();",
    replace: "",
    tests: [ENCODING_TEST],
    why: "gzip and deflate yield even when the input decodes to nothing",
  },
  {
    id: "keep-alive-mid-event",
    file: RELAY,
    find: "      if (this.#atBoundary) this.#ping();",
    replace: "      this.#ping!();",
    tests: ["tests/provider_clients_test.ts"],
    why: "a keep-alive never breaks an event",
  },
  {
    id: "chat-usage-not-billed",
    file: RELAY,
    find: "    const billing = translator.billingBody();",
    replace: "    const billing = EMPTY;",
    tests: ["tests/provider_chat_test.ts"],
    why: "a Chat Completions stream is billed even without include_usage",
  },
  {
    id: "client-version-refusal-blames-buyer",
    file: "src/codex/errors.ts",
    find: "      if (NEWER_CLIENT_REQUIRED.test(text)) {",
    replace: "      if (false) {",
    tests: ["tests/provider_clients_test.ts"],
    why: "a model gated by client version gives client_version_too_old",
  },
  {
    id: "serve-buyer-scope-forgeable",
    file: SERVER,
    find: '    if (!HOP_HEADERS.has(name) && !name.startsWith("x-antseed-")) {',
    replace: "    if (!HOP_HEADERS.has(name)) {",
    tests: ["tests/serve_handler_test.ts"],
    why: "a client of serve cannot pose as another buyer",
  },
  {
    id: "pool-limited-login-not-skipped",
    file: "src/provider/pool.ts",
    find: '    if (login.usageLimit.active) return "usage_limited";',
    replace: "",
    tests: ["tests/provider_pool_test.ts"],
    why: "a usage-limited login is not called again before its reset",
  },
  {
    id: "pool-no-affinity",
    file: "src/provider/pool.ts",
    find: "    if (affinity !== undefined) {\n      const kept",
    replace: "    if (false) {\n      const kept",
    tests: ["tests/provider_pool_test.ts"],
    why: "a conversation stays on its login (prompt caching)",
  },
  {
    id: "pool-no-failover",
    file: PIPELINE,
    find:
      "        if (await logins.failOver(login, failure, prepared.model) && several) {",
    replace: "        if (false) {",
    tests: ["tests/provider_pool_test.ts"],
    why:
      "a login that cannot serve hands the request to the next, before any byte",
  },
  // Admission before work, and what a request without a buyer reaches (issue 19).
  {
    id: "prepare-before-admission",
    file: PIPELINE,
    find:
      "  const admitted = await admit(parts);\n  if (admitted instanceof RelayError) return handling.fail(admitted);\n  try {\n    // 3. Prepare.\n    const prepared = await prepareRequest(\n      req,\n      parts.settings,\n      parts.store,\n      route,\n    );",
    replace:
      "  let prepared;\n  try {\n    prepared = await prepareRequest(req, parts.settings, parts.store, route);\n  } catch (error) {\n    return handling.fail(asRelayError(error));\n  }\n  const admitted = await admit(parts);\n  if (admitted instanceof RelayError) return handling.fail(admitted);\n  try {",
    tests: [HOSTILE_PROVIDER_TEST],
    why: "a request is admitted before its body is decoded, parsed or expanded",
  },
  {
    id: "no-buyer-shares-a-scope",
    file: "src/provider/prepare.ts",
    find: 'const scope = peer === undefined || peer === "" ? NO_BUYER : peer;',
    replace: 'const scope = peer ?? "anonymous";',
    tests: [HOSTILE_PROVIDER_TEST],
    why: "a request without a buyer id stores nothing and resolves nothing",
  },
  {
    id: "broken-stream-without-code",
    file: RELAY,
    find: "      failure,\n      // The completed event",
    replace: "      failure: reported?.error,\n      // The completed event",
    tests: [HOSTILE_PROVIDER_TEST],
    why: "a broken stream's code reaches the log line and the metrics",
  },
  {
    id: "abort-before-exchange-missed",
    file: RELAY,
    find:
      "    if (signal?.aborted) this.controller.abort(signal.reason);\n    else signal?.addEventListener",
    replace: "    signal?.addEventListener",
    tests: [HOSTILE_PROVIDER_TEST],
    why: "a buyer who leaves while the token is fetched ends its request",
  },
  {
    id: "log-text-unescaped",
    file: "src/log_text.ts",
    find: "  const escaped = kept.replace(UNSAFE, escapeOne);",
    replace: "  const escaped = kept;",
    tests: [HOSTILE_PROVIDER_TEST],
    why: "no buyer value reaches a log line unescaped",
  },
  {
    id: "seller-failures-not-logged",
    file: "src/provider/observability.ts",
    find: "  return entry.status >= 500 ||\n    (entry.status < 300",
    replace:
      "  return false && entry.status >= 500 ||\n    (entry.status < 300",
    tests: [HOSTILE_PROVIDER_TEST],
    why: "a failure on the seller's side is logged at the default level",
  },
  // Issue 19: what marks a login (defects 14, 15), and tests that notice
  // (items 8, 9, 11).
  {
    id: "401-cooldown-after-served",
    file: TOKEN_SOURCE,
    find: "    if (token.accessToken === this.#forcedProduct) {",
    replace: "    if (false) {",
    tests: [
      "tests/hostile_logins_test.ts",
      "tests/auth_unauthorized_cooldown_test.ts",
    ],
    why:
      "a refreshed token that has served answers gets its forced refresh on a 401, not the cooldown",
  },
  {
    id: "cloudflare-challenge-marks-login",
    file: ERRORS,
    find: "  if (isEdgeBlock(status, headers, body.html)) {",
    replace: "  if (false) {",
    tests: ["tests/hostile_logins_test.ts", "tests/codex_errors_test.ts"],
    why:
      "a Cloudflare challenge is upstream_blocked and marks no login (every login shares the machine)",
  },
  {
    id: "model-statement-by-substring",
    file: ERRORS,
    find: "  return text === statement || text === `${statement}.`;",
    replace: "  return text.includes(statement);",
    tests: ["tests/hostile_logins_test.ts", "tests/codex_errors_test.ts"],
    why:
      "only the backend's exact statement for the requested model marks it unavailable on a login",
  },
  {
    id: "relay-model-unknown-to-classifier",
    file: RELAY,
    find: "      { model: request.model },",
    replace: "      {},",
    tests: ["tests/provider_pool_test.ts"],
    why:
      "the backend's statement that the requested model is not supported still moves the request to another login",
  },
  {
    id: "browser-login-second-exchange",
    file: "src/auth/login_browser.ts",
    find: '    if (stage !== "waiting") {',
    replace: "    if (false) {",
    tests: ["tests/auth_oauth_test.ts"],
    why: "a second valid callback gets 409 and the code is exchanged once",
  },
  {
    id: "device-interval-as-ms",
    file: "src/auth/login_device.ts",
    find: "  return Math.min(seconds, 60) * 1000;",
    replace: "  return Math.min(seconds, 60);",
    tests: ["tests/auth_oauth_test.ts"],
    why: "the device login polls every interval seconds, not milliseconds",
  },
  {
    id: "metrics-newline-unescaped",
    file: "src/metrics.ts",
    find: '.replace(/\\n/g, "\\\\n")',
    replace: "",
    tests: ["tests/metrics_test.ts"],
    why: "a label value with a newline is escaped and the text still parses",
  },
  // The hold of a non-streaming answer (src/provider/hold.ts).
  {
    id: "hold-never-commits",
    file: "src/provider/hold.ts",
    find: 'holdTimer = setTimeout(resolve, options.holdMs, "commit");',
    replace: 'holdTimer = setTimeout(resolve, 2 ** 31 - 1, "commit");',
    tests: ["tests/provider_hold_test.ts"],
    why:
      "a non-streaming answer not ready within the hold time is committed as a stream before the buyer's 30 s",
  },
  {
    id: "hold-no-keepalive",
    file: "src/provider/hold.ts",
    find: "        Math.max(1, options.keepAliveMs),",
    replace: "        2 ** 31 - 1,",
    tests: ["tests/provider_hold_test.ts"],
    why: "a committed answer sends whitespace while it waits (buyer's 60 s)",
  },
  {
    id: "hold-keepalive-not-stopped",
    file: "src/provider/hold.ts",
    find: "    clearInterval(this.#timer);",
    replace: "",
    tests: ["tests/provider_hold_test.ts"],
    why: "no whitespace after the answer settled; every timer cleared",
  },
  {
    id: "hold-failure-sent-as-error-body",
    file: "src/provider/hold.ts",
    find: '"response" in outcome && isSuccess(outcome.response)',
    replace: '"response" in outcome',
    tests: ["tests/provider_hold_test.ts"],
    why:
      "a Responses answer failing after the commit ends as a failed Response object",
  },
  {
    id: "hold-no-done-chunk",
    file: "src/provider/hold.ts",
    find: "          done: true,",
    replace: "          done: false,",
    tests: ["tests/provider_hold_test.ts"],
    why: "a committed answer ends with exactly one done chunk",
  },
  {
    id: "hold-resolved-body-differs",
    file: "src/provider/hold.ts",
    find: "    all.set(body, padding);",
    replace: "    all.fill(32);",
    tests: ["tests/provider_hold_test.ts"],
    why:
      "a committed answer resolves with the bytes the buyer got (the node bills its usage)",
  },
  {
    id: "hold-time-unbounded",
    file: "src/config.ts",
    find: "    MAX_HOLD_MS,\n  );",
    replace: "    Number.MAX_SAFE_INTEGER,\n  );",
    tests: ["tests/config_test.ts"],
    why: "a hold time the buyer's 30 s window would end is refused",
  },
  {
    id: "hold-keepalive-unbounded",
    file: "src/config.ts",
    find: "    MAX_HOLD_KEEPALIVE_MS,\n  );",
    replace: "    Number.MAX_SAFE_INTEGER,\n  );",
    tests: ["tests/config_test.ts"],
    why: "a hold keep-alive the buyer's 60 s window would end is refused",
  },
  {
    id: "max-body-below-node-upload-limit",
    file: "src/config.ts",
    find: "export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;",
    replace: "export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;",
    tests: ["tests/provider_body_limit_test.ts"],
    why: "a body the AntSeed node accepts (64 MiB) is not refused for its size",
  },
  // The hold wired into the pipeline (issue 20).
  {
    id: "pipeline-never-holds",
    file: PIPELINE,
    find:
      "const outcome = callbacks && !prepared.stream && options.hold !== false",
    replace: "const outcome = false",
    tests: ["tests/provider_hold_node_test.ts"],
    why: "a slow non-streaming answer is held open past the buyer's window",
  },
  {
    id: "serve-holds-answers",
    file: SERVER,
    find:
      "provider.handleRequestStream(req, callbacks, { signal, hold: false })",
    replace: "provider.handleRequestStream(req, callbacks, { signal })",
    tests: ["tests/provider_hold_node_test.ts"],
    why:
      "serve keeps a slow answer's own status (a local client has no window)",
  },
  // Issue 19: the response store, exact and fair; expansion within the body limit.
  {
    id: "store-remove-keeps-unread",
    file: STORE,
    find:
      "    state.unread.delete(entry);\n    if (state.responses.get(entry.responseId) === entry) {",
    replace: "    if (state.responses.get(entry.responseId) === entry) {",
    tests: [STORE_TEST],
    why: "a dropped raw turn leaves the store's memory with its count",
  },
  {
    id: "store-fill-no-touch",
    file: STORE,
    find: "    for (const entry of used) this.#touch(entry, now);\n",
    replace: "",
    tests: [STORE_TEST],
    why: "a turn used only through item_reference counts as used",
  },
  {
    id: "store-read-count-not-updated",
    file: STORE,
    find: "    this.#bytes += bytes - entry.bytes;\n",
    replace: "",
    tests: [STORE_TEST],
    why: "reading a raw turn keeps the count equal to what is held",
  },
  {
    id: "stream-turn-forgets-previous",
    file: PIPELINE,
    find:
      "      response: final.event.data,\n      previousResponseId: turn.previousResponseId,\n",
    replace: "      response: final.event.data,\n",
    tests: ["tests/provider_clients_test.ts"],
    why:
      "a streamed turn is kept with the turn it continued: the conversation stays whole",
  },
  {
    id: "store-reads-evicted-entry",
    file: STORE,
    find:
      "    if (!this.#holds(entry)) return false;\n    const raw = entry.raw;",
    replace: "    const raw = entry.raw;",
    tests: [HOSTILE_STORE_TEST, STORE_TEST],
    why: "an evicted turn is never read, counted or indexed again",
  },
  {
    id: "buyer-share-not-enforced",
    file: STORE,
    find: "      if (scope.bytes <= this.maxBuyerBytes) break;",
    replace: "      break;",
    tests: [HOSTILE_STORE_TEST, STORE_TEST],
    why: "a buyer past its share evicts its own turns, not another buyer's",
  },
  {
    id: "buyer-share-admits-larger-turn",
    file: STORE,
    find:
      "    if (bytes + SCOPE_OVERHEAD > this.maxBuyerBytes) return undefined;",
    replace:
      "    if (bytes + SCOPE_OVERHEAD > this.maxBytes) return undefined;",
    tests: [STORE_TEST],
    why: "a turn larger than a buyer's share is not kept and evicts nothing",
  },
  {
    id: "buyer-share-evicts-by-age",
    file: STORE,
    find:
      "    this.#unlinkScope(entry);\n    this.#linkScopeNewest(entry);\n  }",
    replace: "  }",
    tests: [STORE_TEST],
    why: "within a buyer's share the least recently used turn goes first",
  },
  {
    id: "buyer-share-zero-accepted",
    file: "src/config.ts",
    find: "  if (!(number > 0 && number <= 1)) {",
    replace: "  if (!(number >= 0 && number <= 1)) {",
    tests: ["tests/config_test.ts"],
    why: "a buyer's share is above 0",
  },
  {
    id: "expansion-chain-counted-after-reading",
    file: STORE,
    find: '    expansion.refuseBeyond(estimate, "chain");\n',
    replace: "",
    tests: [HOSTILE_STORE_TEST, STORE_TEST],
    why:
      "a conversation past the body limit is refused before any of it is read or parsed",
  },
  {
    id: "expansion-chain-unbounded",
    file: STORE,
    find:
      '      expansion.count(1 + expansion.bytesFrom(entry, from), "chain");',
    replace: "",
    tests: [STORE_TEST],
    why: "previous_response_id expands within the body limit, in UTF-8 bytes",
  },
  // Compaction v2 (README, "Compaction").
  {
    id: "compaction-not-replayed-in-place",
    file: STORE,
    find: "      if (!isInput && compacts(item)) compactedAt = texts.length;\n",
    replace: "",
    tests: [COMPACTION_TEST],
    why:
      "a stored compaction item stands for the history before it: a later turn starts there",
  },
  {
    id: "compaction-cut-at-buyer-item",
    file: STORE,
    find: "      if (!isInput && compacts(item)) compactedAt = texts.length;",
    replace: "      if (compacts(item)) compactedAt = texts.length;",
    tests: [COMPACTION_TEST],
    why:
      "only the backend's compaction (an output item) cuts the history; one the buyer sent keeps what the buyer put before it",
  },
  {
    id: "compaction-cut-without-content",
    file: STORE,
    find:
      "    COMPACTION_ITEM_TYPES.has(item.type) && hasEncryptedContent(item);",
    replace: "    COMPACTION_ITEM_TYPES.has(item.type);",
    tests: [COMPACTION_TEST],
    why:
      "a compaction item without its content stands for nothing and cuts nothing",
  },
  {
    id: "compaction-chain-walks-past",
    file: STORE,
    find: "      if (entry.compactedAt >= 0) break;\n",
    replace: "",
    tests: [COMPACTION_TEST],
    why:
      "the turns before a compaction are not needed: one of them gone does not refuse the conversation",
  },
  {
    id: "compaction-oldest-wins",
    file: STORE,
    find: "  for (let at = chain.length - 1; at >= 0; at--) {",
    replace: "  for (let at = 0; at < chain.length; at++) {",
    tests: [COMPACTION_TEST],
    why: "a conversation starts at its newest compaction",
  },
  {
    id: "compaction-keeps-its-turns-input",
    file: STORE,
    find: "      return { entries: chain.slice(at), from: compactedAt };",
    replace: "      return { entries: chain.slice(at), from: 0 };",
    tests: [COMPACTION_TEST],
    why:
      "the compacting turn's own input (the history and the trigger) is replaced by its compaction item",
  },
  {
    id: "compaction-counted-whole",
    file: STORE,
    find: "      const from = at === 0 ? conversation.from : 0;",
    replace: "      const from = 0;",
    tests: [COMPACTION_TEST],
    why: "only what goes upstream counts against the body limit",
  },
  {
    id: "compaction-estimated-whole",
    file: STORE,
    find: "charsFrom(entry, Math.max(0, entry.compactedAt))",
    replace: "entry.json.length",
    tests: [COMPACTION_TEST],
    why:
      "the estimate before reading counts only what goes upstream of a compacted turn",
  },
  {
    id: "compaction-id-only-not-filled",
    file: STORE,
    find: '  "reasoning",\n  "compaction",\n',
    replace: '  "reasoning",\n',
    tests: [COMPACTION_TEST],
    why:
      "a compaction item sent by id alone is filled from the store (or dropped), like a reasoning item",
  },
  {
    id: "fake-trigger-answered-as-usual",
    file: FAKE_BACKEND,
    find: "      asksForCompaction(body)\n",
    replace: "      asksForCompaction({})\n",
    tests: [FAKE_COMPACTION_TEST, COMPACTION_TEST],
    why:
      "the simulated backend answers a compaction_trigger with one compaction item",
  },
  {
    id: "fake-trigger-anywhere",
    file: FAKE_COMPACTION,
    find: "  return isRecord(last) && last.type === COMPACTION_TRIGGER;",
    replace:
      "  return input.some((item) => isRecord(item) && item.type === COMPACTION_TRIGGER);",
    tests: [FAKE_COMPACTION_TEST],
    why: "only a trigger as the last input item asks for a compaction",
  },
  {
    id: "fake-compaction-completed-output",
    file: FAKE_COMPACTION,
    find: "        output: [],\n",
    replace: "        output: [item],\n",
    tests: [FAKE_COMPACTION_TEST],
    why:
      "the compaction answer's response.completed has an empty output, as the real backend's",
  },
  {
    id: "fake-compaction-content-optional",
    file: "src/testing/_fake_validate.ts",
    find:
      "      ? idFormatRejection(item, index) ?? compactionItemRejection(item, index)",
    replace: "      ? idFormatRejection(item, index)",
    tests: [FAKE_COMPACTION_TEST],
    why: "the simulated backend refuses a compaction item without its content",
  },
  {
    id: "expansion-references-unbounded",
    file: STORE,
    find:
      '      expansion.count(1 + expansion.itemBytes(entry!, index), "refs");',
    replace: "",
    tests: [HOSTILE_STORE_TEST, STORE_TEST],
    why: "item_references fill a request within the body limit",
  },
  {
    id: "expansion-counts-characters",
    file: STORE,
    find: "  entry.utf8 ??= utf8Length(entry.json);",
    replace: "  entry.utf8 ??= entry.json.length;",
    tests: [STORE_TEST],
    why: "the body limit counts what is filled in as UTF-8 bytes",
  },
  {
    id: "expansion-ignores-body-limit",
    file: "src/provider/prepare.ts",
    find: "      maxBodyBytes: settings.maxBodyBytes,\n",
    replace: "",
    tests: [HOSTILE_STORE_TEST],
    why: "expansion is bounded by OPENAI_RESPONSES_MAX_BODY_BYTES",
  },
  {
    id: "expansion-ignores-own-bytes",
    file: "src/provider/prepare.ts",
    find: "      bodyBytes: body.byteLength,\n",
    replace: "",
    tests: ["tests/provider_clients_test.ts"],
    why:
      "the request's own bytes count against the body limit with what is filled in",
  },
  {
    id: "expansion-parses-each-reference",
    file: STORE,
    find: "    if (parsed.has(index)) return undefined;\n",
    replace: "",
    tests: [STORE_TEST],
    why:
      "each stored item is parsed once per request, however often referred to",
  },
  {
    id: "expansion-never-yields",
    file: STORE,
    find: "    if (this.#sinceYield < YIELD_EVERY_CHARS) return undefined;",
    replace: "    return undefined;",
    tests: [STORE_TEST],
    why: "expanding a large conversation yields to the event loop",
  },
  {
    id: "expansion-fills-removed-item",
    file: STORE,
    find: "      const stored = ref !== undefined && this.#holds(ref.entry)",
    replace: "      const stored = ref !== undefined",
    tests: [STORE_TEST],
    why: "an item whose turn was removed during the expansion is not filled",
  },
  {
    id: "expansion-chain-removed-meanwhile",
    file: STORE,
    find:
      "    // From here on nothing yields: what was evicted meanwhile is not used.\n    this.#checkChain(chain, previous);",
    replace:
      "    // From here on nothing yields: what was evicted meanwhile is not used.",
    tests: [STORE_TEST],
    why:
      "a conversation whose turn was removed during the expansion is not found",
  },
  {
    id: "raw-turn-undercounted",
    file: STORE,
    find: "const RAW_OVERHEAD = 512;",
    replace: "const RAW_OVERHEAD = 256;",
    tests: [STORE_TEST],
    why: "the store counts at least the memory a raw turn takes",
  },
  {
    id: "serve-models-openai-for-codex",
    file: SERVER,
    find: "if (clientVersion === null) {",
    replace: "if (true) {",
    tests: ["tests/serve_handler_test.ts"],
    why:
      "the Codex CLI's model list (client_version) gets the OpenAI list, which it cannot decode",
  },
  {
    id: "serve-models-ignore-minimal-version",
    file: CODEX_MODELS,
    find:
      "if (have[index] !== minimal[index]) return have[index] > minimal[index];",
    replace: "if (have[index] !== minimal[index]) return true;",
    tests: ["tests/serve_handler_test.ts"],
    why:
      "an older Codex CLI is offered a model whose minimal_client_version is newer",
  },
  {
    id: "serve-models-service-without-catalog-entry",
    file: CODEX_MODELS,
    find: "const known = bySlug.get(upstream);",
    replace: "const known = undefined as CatalogEntry | undefined;",
    tests: ["tests/serve_handler_test.ts"],
    why:
      "an announced service is described without its model's catalog entry (base instructions, tools)",
  },
  {
    id: "serve-models-service-catalog-failure",
    file: SERVER,
    find: "? await readBackendCatalog(provider, options).catch(() => [])",
    replace: "? await readBackendCatalog(provider, options)",
    tests: ["tests/serve_handler_test.ts"],
    why:
      "announced services are not listed to the Codex CLI when the catalog cannot be read",
  },
  {
    id: "args-not-strict",
    file: "src/cli/args.ts",
    find: "strict: true,",
    replace: "strict: false,",
    tests: ["tests/cli_args_test.ts"],
    why: "an unknown flag or a stray argument is silently accepted",
  },
  // The seller's CLI version (issue 21).
  {
    id: "version-json-never-read",
    file: "src/provider/logins.ts",
    find: "await selectClientVersion(settings, codexHomesOf(found), {",
    replace: "await selectClientVersion(settings, [], {",
    tests: [CLIENT_VERSION_TEST],
    why: "a Codex home's newer version.json raises the version spoken",
  },
  {
    id: "version-key-not-outright",
    file: CLIENT_VERSION,
    find: "if (candidates.pinned !== undefined) {",
    replace: "if (false) {",
    tests: [CLIENT_VERSION_TEST],
    why: "OPENAI_RESPONSES_CLIENT_VERSION wins outright, even when lower",
  },
  {
    id: "version-compared-as-text",
    file: CLIENT_VERSION,
    find: "const difference = left.numbers[index] - right.numbers[index];",
    replace:
      "const difference = String(left.numbers[index]).localeCompare(String(right.numbers[index]));",
    tests: [CLIENT_VERSION_TEST],
    why: "0.99.0 is older than 0.171.0: versions compare by number",
  },
  {
    id: "version-prerelease-above-release",
    file: CLIENT_VERSION,
    find: "return Number(leftRelease) - Number(rightRelease);",
    replace: "return Number(rightRelease) - Number(leftRelease);",
    tests: [CLIENT_VERSION_TEST],
    why: "a pre-release sorts below its release",
  },
  {
    id: "version-json-prerelease-spoken",
    file: CLIENT_VERSION,
    find: "!RELEASE_PATTERN.test(version)",
    replace: "!VERSION_PATTERN.test(version)",
    tests: [CLIENT_VERSION_TEST],
    why: "only a release x.y.z of version.json is spoken",
  },
  {
    id: "version-json-missing-warns",
    file: CLIENT_VERSION,
    find: 'if (code === "ENOENT" || code === "ENOTDIR") return {};',
    replace: "",
    tests: [CLIENT_VERSION_TEST],
    why: "a Codex home without version.json is no warning",
  },
  {
    id: "version-json-broken-silent",
    file: CLIENT_VERSION,
    find:
      "if (result.warning !== undefined) options.onWarning?.(result.warning);",
    replace: "",
    tests: [CLIENT_VERSION_TEST],
    why: "a broken version.json is ignored with one warning",
  },
  {
    id: "model-list-configured-version",
    file: "src/serve/models.ts",
    find: "? (await source.clientVersion()).version",
    replace: "? source.settings.clientVersion",
    tests: [CLIENT_VERSION_TEST],
    why: "the model list's client_version is the version spoken",
  },
  {
    id: "version-notice-always-names-key",
    file: "src/provider/observability.ts",
    find: 'this.#clientVersion = choice.source === "key"',
    replace: "this.#clientVersion = true",
    tests: [CLIENT_VERSION_TEST],
    why:
      "the notice of a too-old version names where the version spoken came from",
  },
  // Banked rate-limit resets (issue 21): spent only on the seller's word.
  {
    id: "reset-without-confirmation",
    file: "src/cli/accounts_reset.ts",
    find: "    if (!options.yes) {",
    replace: "    if (false) {",
    tests: ["tests/cli_accounts_reset_test.ts"],
    why: "without --yes, a reset is spent only after a y at the terminal",
  },
  {
    id: "reset-on-any-answer",
    file: "src/cli/accounts_reset.ts",
    find: "if (!/^\\s*y(es)?\\s*$/i.test(answer)) {",
    replace: "if (false) {",
    tests: ["tests/cli_accounts_reset_test.ts"],
    why: "anything but y at the confirmation spends nothing",
  },
  {
    id: "reset-without-terminal",
    file: "src/cli/accounts_reset.ts",
    find: "      if (answer === undefined) {",
    replace: "      if (false) {",
    tests: ["tests/cli_accounts_reset_test.ts"],
    why:
      "with no terminal to ask at and no --yes, the refusal says to pass --yes",
  },
  {
    id: "reset-asks-with-no-credit",
    file: "src/cli/accounts_reset.ts",
    find: "    if (credits.availableCount === 0) {",
    replace: "    if (false) {",
    tests: ["tests/cli_accounts_reset_test.ts"],
    why:
      "a login without a banked reset is told no_credit, nothing asked or sent",
  },
  {
    id: "redeem-id-per-attempt",
    file: "src/codex/reset_credits.ts",
    find: "      answer = await call(url, token, options, body);",
    replace:
      "      answer = await call(url, token, options, { ...body, redeem_request_id: crypto.randomUUID() });",
    tests: [
      "tests/codex_reset_credits_test.ts",
      "tests/cli_accounts_reset_test.ts",
    ],
    why: "a retry reuses the redeem_request_id, so at most one reset is spent",
  },
  {
    id: "redeem-lost-answer-not-retried",
    file: "src/codex/reset_credits.ts",
    find: "      if (retryable(answer.status)) continue;\n",
    replace: "",
    tests: ["tests/codex_reset_credits_test.ts"],
    why: "a lost answer (5xx, 429) is retried with the same id",
  },
  {
    id: "redeem-retries-refusals",
    file: "src/codex/reset_credits.ts",
    find: "  return status === 429 || status >= 500;",
    replace: "  return true;",
    tests: ["tests/codex_reset_credits_test.ts"],
    why: "a refusal (4xx other than 429) is not retried",
  },
  {
    id: "redeem-ineligible-is-failure",
    file: "src/codex/reset_credits.ts",
    find: '      if (detail?.code === "rate_limit_reset_ineligible") {',
    replace: "      if (false) {",
    tests: ["tests/codex_reset_credits_test.ts"],
    why: "403 rate_limit_reset_ineligible is the ineligible outcome",
  },
  {
    id: "reset-credit-latest-first",
    file: "src/codex/reset_credits.ts",
    find: "(a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity)",
    replace: "(b.expiresAt ?? Infinity) - (a.expiresAt ?? Infinity)",
    tests: [
      "tests/codex_reset_credits_test.ts",
      "tests/cli_accounts_reset_test.ts",
    ],
    why: "the reset spent is the one that expires first",
  },
  {
    id: "health-hides-resets",
    file: SERVER,
    find: "          available: login.resetCredits.availableCount,",
    replace: "          available: 0,",
    tests: [SERVER_TEST],
    why: "/health shows each login's banked resets",
  },
  {
    id: "fake-reset-not-idempotent",
    file: "src/testing/_fake_reset_credits.ts",
    find: "    const earlier = account?.answers.get(id);",
    replace: "    const earlier = undefined;",
    tests: ["tests/fake_backend_test.ts"],
    why:
      "the simulated backend answers a seen redeem_request_id as the first time",
  },
  // Account errors that end a login (issue 21).
  {
    id: "account-deactivated-is-forbidden",
    file: ERRORS,
    find: 'if (body.kinds.has("account_deactivated")) {',
    replace: "if (false) {",
    tests: [
      "tests/codex_errors_test.ts",
      "tests/provider_login_states_test.ts",
    ],
    why: "a 403 account_deactivated is the deactivated state's own code",
  },
  {
    id: "forbidden-leaves-no-state",
    file: ERRORS,
    find: '  upstream_forbidden: "blocked",',
    replace: "",
    tests: [
      "tests/codex_errors_test.ts",
      "tests/provider_login_states_test.ts",
    ],
    why: "another non-Cloudflare 403 takes the login out of rotation (blocked)",
  },
  {
    id: "auth-failed-leaves-no-state",
    file: ERRORS,
    find: '  upstream_auth_failed: "needs_login",',
    replace: "",
    tests: [
      "tests/codex_errors_test.ts",
      "tests/provider_login_states_test.ts",
    ],
    why: "a 401 that persists after one refresh ends the login (needs_login)",
  },
  {
    id: "usage-not-included-is-403",
    file: ERRORS,
    find: `      return new RelayError(
        503,
        safeCode,
        "The seller's ChatGPT plan does not include Codex; this seller cannot serve requests",`,
    replace: `      return new RelayError(
        403,
        safeCode,
        "The seller's ChatGPT plan does not include Codex; this seller cannot serve requests",`,
    tests: [
      "tests/codex_errors_test.ts",
      "tests/provider_login_states_test.ts",
    ],
    why: "a single login without Codex answers 503 usage_not_included",
  },
  {
    id: "out-of-rotation-login-picked",
    file: "src/provider/pool.ts",
    find: "    if (out !== undefined) return out;",
    replace: "",
    tests: ["tests/provider_login_states_test.ts"],
    why:
      "a login in a named state is not tried again until its auth.json changes",
  },
  {
    id: "one-login-state-not-kept",
    file: PIPELINE,
    find:
      "if (await logins.failOver(login, failure, prepared.model) && several) {",
    replace:
      "if (several && await logins.failOver(login, failure, prepared.model)) {",
    tests: ["tests/provider_login_states_test.ts"],
    why:
      "a single login's account error is kept: later requests get 503 without an upstream call",
  },
  {
    id: "state-logged-every-time",
    file: "src/provider/logins.ts",
    find: "    if (!login.takeOut(state, error)) return;",
    replace: "    login.takeOut(state, error);",
    tests: ["tests/provider_login_states_test.ts"],
    why: "one log line per change of state, not per failure",
  },
  {
    id: "new-auth-json-ignored",
    file: PIPELINE,
    find: "      if (await pool.revive()) continue;",
    replace: "      if (await pool.revive() && false) continue;",
    tests: ["tests/provider_login_states_test.ts"],
    why: "a new auth.json (another login) brings the login back into rotation",
  },
  {
    id: "same-auth-json-revives",
    file: "src/provider/pool.ts",
    find:
      "if (now === undefined || now === before || this.#standing !== standing) {",
    replace: "if (now === undefined || this.#standing !== standing) {",
    tests: ["tests/provider_login_states_test.ts"],
    why: "the same auth.json keeps the login out of rotation",
  },
  {
    id: "usage-read-of-ended-login",
    file: "src/provider/logins.ts",
    find:
      "    if (state !== undefined) {\n      return Promise.resolve({ error: `${state}: ${stateMeaning(state)}` });",
    replace:
      "    if (false) {\n      return Promise.resolve({ error: `${state}: ${stateMeaning(state)}` });",
    tests: ["tests/provider_login_states_test.ts"],
    why:
      "an ended login's usage is not asked of the backend (/health says its state)",
  },
  {
    id: "usage-endpoint-account-error-dropped",
    file: "src/codex/usage.ts",
    find: "    if (ended) throw ended;",
    replace: "",
    tests: ["tests/cli_accounts_test.ts"],
    why: "accounts --usage shows an ended account's state",
  },
  {
    id: "probe-no-account-state",
    file: "src/cli/check.ts",
    find: "    if (state !== undefined) {\n      output.line(",
    replace: "    if (false) {\n      output.line(",
    tests: ["tests/cli_accounts_test.ts"],
    why: "check --probe reports the account state",
  },
  {
    id: "health-ok-when-every-login-ended",
    file: SERVER,
    find: "logins.every((login) => isAccountState(login.state));",
    replace: "logins.every((login) => isAccountState(login.state)) && false;",
    tests: ["tests/provider_login_states_test.ts"],
    why: "/health says unavailable when every login is out of rotation",
  },
  {
    id: "ended-pool-not-full",
    file: "src/provider/logins.ts",
    find: "(pool.logins.length > 1 && pool.exhausted);",
    replace: "(pool.logins.length > 1 && false);",
    tests: ["tests/provider_login_states_test.ts"],
    why: "a pool with no login left in rotation is announced full",
  },
  {
    id: "capacity-poll-never-revives",
    file: "src/provider/logins.ts",
    find: "      void pool.revive();\n",
    replace: "\n",
    tests: ["tests/provider_login_states_test.ts"],
    why:
      "the host's capacity poll notices a new login of a provider announced full",
  },
  {
    id: "stream-account-error-ignored",
    file: PIPELINE,
    find: "  parts.logins.noteFailure(login, outcome.failure);\n",
    replace: "",
    tests: ["tests/provider_login_states_test.ts"],
    why: "usage_not_included inside a 200 stream ends the login too",
  },
  {
    id: "bare-401-ends-login",
    file: ERRORS,
    find:
      '      if (code !== "token_invalidated" && code !== "token_revoked") {\n        SAYS_NOTHING_LASTING.add(error);\n      }',
    replace: "",
    tests: [
      "tests/provider_login_states_test.ts",
      "tests/provider_pool_test.ts",
    ],
    why:
      "only the backend's word that the tokens are gone ends a login; a bare 401 pauses it",
  },
  {
    id: "login-slot-not-released",
    file: PIPELINE,
    find: "  } finally {\n    login.inFlight--;\n  }",
    replace: "  } finally {\n  }",
    tests: [HOSTILE_PROVIDER_TEST],
    why:
      "a login's slot is given back after each request (a per-login cap would otherwise refuse the next for good)",
  },
  {
    id: "login-slot-not-released-after-refusal",
    file: PIPELINE,
    find: "      } finally {\n        login.inFlight--;\n      }",
    replace: "      } finally {\n      }",
    tests: [HOSTILE_PROVIDER_TEST],
    why:
      "a login's slot is given back after an attempt that failed, as after an answer",
  },
  {
    id: "buyer-client-metadata-kept",
    file: REQUEST,
    find: "  delete upstream.client_metadata;\n",
    replace: "",
    tests: [IDENTITY_TEST],
    why:
      "a buyer's client_metadata (its installation id, its working folder) never goes upstream",
  },
  {
    id: "login-client-metadata-missing",
    file: RELAY,
    find:
      "  const turn = context.installation?.turn(sessionId, request.model);",
    replace:
      "  const turn = undefined as undefined | { bodyTail: string; headers: Record<string, string> };",
    tests: [IDENTITY_TEST],
    why: "every upstream request carries its login's client_metadata",
  },
  {
    id: "login-identity-headers-missing",
    file: RELAY,
    find: "          turn?.headers,\n",
    replace: "          undefined,\n",
    tests: [IDENTITY_TEST, HEADERS_TEST],
    why:
      "every upstream request carries the CLI's identity headers (x-codex-turn-metadata, x-codex-window-id, ...)",
  },
  {
    id: "installation-id-new-per-start",
    file: LOGINS,
    find: "          this.#installationIds[index] ?? crypto.randomUUID(),",
    replace: "          crypto.randomUUID(),",
    tests: [IDENTITY_TEST],
    why:
      "a login's installation id is the one kept beside it, the same over restarts",
  },
  {
    id: "installation-id-clobbered",
    file: INSTALLATION_ID,
    find: '      if (systemErrorCode(error) === "EEXIST") return false;',
    replace: '      if (systemErrorCode(error) === "EEXIST") return true;',
    tests: [IDENTITY_TEST],
    why:
      "an installation id file that appeared while one was created is kept and used, never replaced",
  },
  {
    id: "installation-id-own-mode-wide",
    file: INSTALLATION_ID,
    find:
      '  if (rule === "accounts") {\n    return {\n      path: join(dirname(authFile), INSTALLATION_ID_FILE_NAME),\n      mode: OWN_INSTALLATION_ID_MODE,',
    replace:
      '  if (rule === "accounts") {\n    return {\n      path: join(dirname(authFile), INSTALLATION_ID_FILE_NAME),\n      mode: CODEX_INSTALLATION_ID_MODE,',
    tests: [IDENTITY_TEST],
    why: "the provider's own installation id files are 0600",
  },
  {
    id: "installation-id-shared-folder",
    file: INSTALLATION_ID,
    find: "    path: `${authFile}.${INSTALLATION_ID_FILE_NAME}`,",
    replace: "    path: join(dirname(authFile), INSTALLATION_ID_FILE_NAME),",
    tests: [IDENTITY_TEST],
    why:
      "two auth files in one folder are two installations: a file not named auth.json keeps its id beside it",
  },
  {
    id: "installation-id-case-kept",
    file: INSTALLATION_ID,
    find: "      ? { id: text.toLowerCase(), absent: false }",
    replace: "      ? { id: text, absent: false }",
    tests: [IDENTITY_TEST],
    why: "the id is sent as the CLI formats it, lower case",
  },
  {
    id: "beta-features-version-floor",
    file: LOGIN_IDENTITY,
    find: "compareVersions(options.version, BETA_FEATURES_SINCE) >= 0",
    replace: "compareVersions(options.version, BETA_FEATURES_SINCE) > 0",
    tests: [IDENTITY_TEST],
    why: "x-codex-beta-features: remote_compaction_v2 is sent from 0.171.0 on",
  },
  {
    id: "metadata-model-length-bound",
    file: LOGIN_IDENTITY,
    find: "        model.length <= MAX_METADATA_MODEL_LENGTH",
    replace: "        model.length < MAX_METADATA_MODEL_LENGTH",
    tests: [IDENTITY_TEST],
    why:
      "a model name up to MAX_METADATA_MODEL_LENGTH goes into the turn metadata",
  },
  {
    id: "metadata-header-not-ascii",
    file: LOGIN_IDENTITY,
    find: "    /[^\\x20-\\x7e]/g,",
    replace: "    /$^/g,",
    tests: [IDENTITY_TEST],
    why:
      "every identity header value is printable ASCII, whatever the model name",
  },
  {
    id: "lite-header-missing",
    file: LITE,
    find: '  if (lite) headers[RESPONSES_LITE_HEADER] = "true";',
    replace: "",
    tests: [LITE_TEST],
    why:
      "a responses-lite attempt carries x-openai-internal-codex-responses-lite: true",
  },
  {
    id: "lite-tools-kept",
    file: LITE,
    find: "  const { tools, instructions: _instructions, ...rest } = body;",
    replace:
      "  const { instructions: _instructions, ...rest } = body;\n  const tools = body.tools;",
    tests: [LITE_TEST],
    why: "a responses-lite body has no top-level tools",
  },
  {
    id: "lite-empty-tools-item-dropped",
    file: LITE,
    find: "  lite.input = [...head, ...items];",
    replace:
      "  lite.input = [...(Array.isArray(tools) && tools.length > 0 ? head : head.slice(1)), ...items];",
    tests: [LITE_TEST],
    why: "the additional_tools item is sent even with no tools",
  },
  {
    id: "lite-instructions-kept",
    file: LITE,
    find: '  lite.instructions = "";',
    replace: "  lite.instructions = body.instructions;",
    tests: [LITE_TEST],
    why:
      'a responses-lite body has instructions "" (they go in a developer message)',
  },
  {
    id: "lite-parallel-kept",
    file: LITE,
    find: "  lite.parallel_tool_calls = false;",
    replace: "",
    tests: [LITE_TEST],
    why: "a responses-lite body has parallel_tool_calls: false",
  },
  {
    id: "lite-image-detail-kept",
    file: LITE,
    find: "    copy[index] = kept;",
    replace: "    copy[index] = part;",
    tests: [LITE_TEST],
    why: "detail is removed from input_image parts in the lite shape",
  },
  {
    id: "lite-tool-output-detail-kept",
    file: LITE,
    find: "  if (TOOL_OUTPUTS.has(item.type as string)) {",
    replace: "  if (false) {",
    tests: [LITE_TEST],
    why:
      "detail is removed from images in function and custom tool call outputs too",
  },
  {
    id: "lite-by-name",
    file: RELAY,
    find:
      '  const lite = context.catalog?.usesResponsesLite(request.model ?? "") === true;',
    replace: '  const lite = (request.model ?? "").startsWith("gpt-5.6");',
    tests: [LITE_TEST],
    why:
      "the shape is the catalog's flag of the login the attempt goes to, never a list of names",
  },
  {
    id: "lite-buyer-not-read",
    file: PREPARE,
    find: "  value = fromResponsesLite(value);",
    replace: "",
    tests: [LITE_TEST],
    why:
      "a buyer in the lite shape is read as a classic one (one additional_tools item upstream, tools at the top for a classic attempt)",
  },
  {
    id: "catalog-on-hot-path",
    file: CATALOG,
    find:
      "    if (this.#loading === undefined && this.#now() >= this.#dueAt) {",
    replace: "    if (this.#loading === undefined) {",
    tests: [CATALOG_TEST],
    why: "the catalog is read again only once older than the refresh interval",
  },
  {
    id: "catalog-no-etag",
    file: CATALOG,
    find:
      '  if (options.etag !== undefined) headers["if-none-match"] = options.etag;',
    replace: "",
    tests: [CATALOG_TEST],
    why: "a catalog held is asked for again with its ETag",
  },
  {
    id: "catalog-304-drops",
    file: CATALOG,
    find: '    if (read !== "not_modified") {',
    replace:
      '    if (read === "not_modified") this.#responsesLite = undefined;\n    else {',
    tests: [CATALOG_TEST],
    why: "a 304 keeps the catalog held",
  },
  {
    id: "catalog-size-unbounded",
    file: CATALOG,
    find: "    if (total > maxBytes) {",
    replace: "    if (false) {",
    tests: [CATALOG_TEST],
    why: "the catalog's answer is bounded as it arrives",
  },
  {
    id: "catalog-timeout-late",
    file: CATALOG,
    find: "  const timer = setTimeout(() => controller.abort(), timeoutMs);",
    replace:
      "  const timer = setTimeout(() => controller.abort(), timeoutMs * 100);",
    tests: [CATALOG_TEST],
    why: "the catalog's exchange is bounded in time",
  },
  {
    id: "catalog-failure-told-each-time",
    file: CATALOG,
    find: "    if (reason === this.#failure) return;",
    replace: "",
    tests: [CATALOG_TEST],
    why: "a catalog that cannot be read is told once per change",
  },
  {
    id: "catalog-failure-no-pause",
    file: CATALOG,
    find:
      "        (refreshMs > 0\n          ? Math.min(refreshMs, CATALOG_RETRY_MS)\n          : CATALOG_RETRY_MS);",
    replace: "        0;",
    tests: [CATALOG_TEST],
    why: "a catalog that failed is asked for again only after a pause",
  },
  // Buyers never share a conversation or a prompt cache; the Response
  // echoes what the buyer sent (README, "Prompt cache").
  {
    id: "conversation-key-unscoped",
    file: "src/provider/buyer_scope.ts",
    find: "  const name = `${scope.length}:${scope}|${kind}|${key}`;",
    replace: "  const name = `${kind}|${key}`;",
    tests: [BUYER_SCOPE_TEST],
    why:
      "two buyers who pick the same prompt_cache_key get different upstream conversations",
  },
  {
    id: "no-buyer-shares-conversation",
    file: "src/provider/buyer_scope.ts",
    find: '  if (buyer.scope === "") return { key: crypto.randomUUID() };\n',
    replace: "",
    tests: [BUYER_SCOPE_TEST],
    why:
      "requests that name no buyer share no upstream conversation, whatever key they send",
  },
  {
    id: "session-header-affinity-unscoped",
    file: "src/provider/buyer_scope.ts",
    find:
      '    affinity: await scopedKey(buyer.scope, "session", buyer.sessionHeader),',
    replace: "    affinity: buyer.sessionHeader,",
    tests: [BUYER_SCOPE_TEST],
    why: "a buyer's session header gives an affinity within its scope",
  },
  {
    id: "raw-cache-key-upstream",
    file: "src/provider/prepare.ts",
    find: "  if (replaced !== undefined) return replaced;",
    replace:
      "  if (replaced !== undefined) return encodeUpstreamBody(buyer, upstream);",
    tests: [BUYER_SCOPE_TEST],
    why: "the buyer's prompt_cache_key never reaches the backend",
  },
  {
    id: "cache-key-body-serialised",
    file: "src/provider/prepare.ts",
    find: '  if (!Object.hasOwn(upstream, "prompt_cache_key")) {',
    replace: "  if (true) {",
    tests: [BUYER_SCOPE_TEST],
    why:
      "a buyer's body keeps being sent as its own text when only its key changes",
  },
  {
    id: "member-text-first-of-several",
    file: "src/codex/member_text.ts",
    find: "    if (valueAt >= 0) return undefined;",
    replace: "    if (valueAt >= 0) break;",
    tests: [BUYER_SCOPE_TEST],
    why:
      "the key is replaced in the text only when its one occurrence is the top level's",
  },
  {
    id: "echo-store-as-upstream",
    file: ECHO,
    find: "    store: body.store !== false,",
    replace: "    store: false,",
    tests: [ECHO_TEST],
    why: "a buyer's Response says store true unless it sent store false",
  },
  {
    id: "echo-stream-off",
    file: RELAY,
    find: "  return echo ? echo.push(filtered) : filtered;",
    replace: "  return filtered;",
    tests: [ECHO_TEST],
    why: "a streaming buyer's lifecycle events echo what it sent",
  },
  {
    id: "echo-json-off",
    file: RELAY,
    find: "    echoResponse(result.response, options.echo);",
    replace: "",
    tests: [ECHO_TEST],
    why: "a non-streaming buyer's JSON answer echoes what it sent",
  },
  {
    id: "echo-appended-failure-off",
    file: RELAY,
    find: "          echo: options.echo,\n        });",
    replace: "        });",
    tests: [ECHO_TEST],
    why: "the response.failed the relay appends echoes what the buyer sent",
  },
  {
    id: "echo-error-event-ignored",
    file: ERRORS,
    find: "  if (options.echo) echoResponse(response, options.echo);",
    replace: "",
    tests: [ECHO_TEST],
    why: "a response.failed event built here echoes the buyer's fields",
  },
  {
    id: "echo-held-failure-off",
    file: "src/provider/hold.ts",
    find: "  if (options.echo) echoResponse(response, options.echo);",
    replace: "",
    tests: ["tests/provider_hold_test.ts", "tests/provider_hold_node_test.ts"],
    why: "a failed Response after the commit echoes what the buyer sent",
  },
  {
    id: "echo-held-failure-not-wired",
    file: PIPELINE,
    find: "      echo: prepared.echo,",
    replace: "",
    tests: ["tests/provider_hold_node_test.ts"],
    why: "the provider hands the buyer's fields to the hold",
  },
  {
    id: "echo-terminal-skipped",
    file: ECHO,
    find: "          this.#rewrite(bytes, last, bytes.length);",
    replace: "",
    tests: [ECHO_TEST],
    why:
      "the terminal event (the last of its chunk) echoes what the buyer sent",
  },
  {
    id: "echo-split-head-passed",
    file: ECHO,
    find: '        if (head === "lifecycle" || head === "undecided") {',
    replace: '        if (head === "lifecycle") {',
    tests: [ECHO_TEST],
    why:
      "a lifecycle event whose name a chunk cuts is held until it is complete",
  },
  {
    id: "echo-copies-deltas",
    file: ECHO,
    find: "    if (edits.count === 0 && !prefix) return bytes;",
    replace: "    if (edits.count === 0 && !prefix) return bytes.slice();",
    tests: [ECHO_TEST],
    why: "a chunk of delta events passes as it is, not copied",
  },
  {
    id: "echo-undecided-start-withheld",
    file: ECHO,
    find:
      "      this.#undecided = rest;\n      return edits.apply(bytes, from, bytes.length, prefix);",
    replace:
      "      this.#undecided = rest;\n      return edits.apply(bytes, from, at, prefix);",
    tests: [ECHO_TEST],
    why:
      "the start of an event a chunk cuts before its name ends passes on at once, and is not passed again",
  },
  {
    id: "echo-reframe-head-normalized",
    file: ECHO,
    find: "    event.subarray(0, value),",
    replace: '    encoder.encode("data: "),',
    tests: [ECHO_TEST],
    why:
      "an event framed again keeps its head as it came: its start may have gone to the buyer already",
  },
  {
    id: "echo-error-event-members-kept",
    file: ECHO,
    find: "    const removed = keepMembers(payload, ERROR_EVENT_MEMBERS);",
    replace: "    const removed = false;",
    tests: [ECHO_TEST, "tests/relay_test.ts"],
    why:
      "an error event keeps the seller's x-codex-* headers (its headers member) and other members from the buyer",
  },
  {
    id: "echo-reframed-head-unchecked",
    file: ECHO,
    find: "  if (!bytesAt(event, 0, bytes.subarray(at, at + head))) {",
    replace: "  if (false) {",
    tests: [ECHO_TEST],
    why:
      "an event framed again must begin as it came, so that the output does not depend on where the chunks were cut",
  },
  {
    id: "echo-cut-off-event-passed",
    file: ECHO,
    find:
      "    this.#held = [rest];\n    return edits.apply(bytes, from, at, prefix);",
    replace:
      "    this.#held = [rest];\n    return edits.apply(bytes, from, bytes.length, prefix);",
    tests: [ECHO_TEST],
    why:
      "an event held to be rewritten is not passed on before it is complete (nor at all when the stream cuts it off)",
  },
  {
    id: "echo-error-members-kept",
    file: ECHO,
    find: "      keepMembers(payload.error, ERROR_MEMBERS)) || removed;",
    replace: "      false) || removed;",
    tests: [ECHO_TEST, "tests/relay_test.ts"],
    why:
      "an error event in a stream keeps the seller's plan (a usage limit's plan_type) from the buyer",
  },
  {
    id: "echo-appended-member-comma",
    file: ECHO,
    find: "(first ? KEY_HEADS : NEXT_KEY_HEADS)[index]",
    replace: "NEXT_KEY_HEADS[index]",
    tests: [ECHO_TEST],
    why:
      "a member appended to an empty Response has no comma before it, the next ones have",
  },
  {
    id: "json-scan-escaped-quote-ends-short-string",
    file: JSON_SCAN,
    find: "    if (byte === BACKSLASH) index++;",
    replace: "",
    tests: [JSON_SCAN_TEST, ECHO_TEST],
    why: "an escaped quote does not end a short string",
  },
  {
    id: "json-scan-search-skips-a-byte",
    file: JSON_SCAN,
    find: "  let quote = bytes.indexOf(QUOTE, index);",
    replace: "  let quote = bytes.indexOf(QUOTE, index + 1);",
    tests: [JSON_SCAN_TEST],
    why:
      "the native search goes on from the first byte the short loop did not look at",
  },
  {
    id: "lite-body-keeps-buyer-cache-key",
    file: PREPARE,
    find: "  shaped.body.prompt_cache_key = conversation.key;\n",
    replace: "",
    tests: [LITE_TEST],
    why:
      "a responses-lite attempt, built from the shaped object, sends the buyer-scoped key, never the buyer's own",
  },
  {
    id: "observe-completed-several-data-lines",
    file: OBSERVE,
    find: "  if (dataAt < 0 || dataAt !== lastLf) return undefined;",
    replace: "  if (dataAt < 0) return undefined;",
    tests: [OBSERVE_TEST],
    why:
      "a completed event kept unread is one data line: several lines are parsed",
  },
  {
    id: "observe-response-id-latin1",
    file: OBSERVE,
    find:
      "    if (byte >= 0x80) return decoder.decode(bytes.subarray(from, to));\n",
    replace: "",
    tests: [OBSERVE_TEST],
    why: "a non-ASCII response id is decoded as UTF-8",
  },
  {
    id: "observe-kept-output-not-rebuilt",
    file: OBSERVE,
    find: "    (options.keepOutput && seen.completed === undefined);",
    replace: "    false;",
    tests: [OBSERVE_TEST],
    why:
      "a completed event that cannot be kept unread has its empty output rebuilt from the streamed items",
  },
  {
    id: "stream-without-usage-resolves-last-event",
    file: RELAY,
    find:
      "    body = seen.usage !== undefined || observed.last.length === read.total",
    replace: "    body = true",
    tests: [RELAY_TEST],
    why:
      "a stream without usage resolves with what the buyer got, for the node's metering estimate",
  },
  {
    id: "chat-stream-without-usage-resolves-nothing",
    file: RELAY,
    find:
      "      body = billing.byteLength > 0\n        ? billing\n        : translatedAgain(translator, read.chunks, ending);\n",
    replace: "      body = billing;\n",
    tests: ["tests/provider_chat_test.ts"],
    why:
      "a Chat Completions stream without usage resolves with what the buyer got, for the node's metering estimate",
  },
  {
    id: "observe-chunks-line-end-after-blank-line",
    file: OBSERVE,
    find:
      "  return endsWithBlankLine(before) && next[0] !== LF && next[0] !== CR;",
    replace: "  return endsWithBlankLine(before);",
    tests: [OBSERVE_TEST],
    why:
      "the last event of a stream kept in chunks starts where the whole body's does, also after a blank line more",
  },
  {
    id: "observe-chunks-joins-all",
    file: OBSERVE,
    find: "    const enough = Math.max(size * 2, 4);",
    replace: "    const enough = Infinity;",
    tests: [OBSERVE_TEST],
    why:
      "a finished stream is observed from the chunks of its last event, not a copy of the whole stream",
  },
  {
    id: "chat-billing-body-only-when-not-sent",
    file: "src/protocols/chat_stream.ts",
    find: "    if (this.#usage === undefined) return EMPTY;",
    replace:
      "    if (this.#usage === undefined || this.#includeUsage) return EMPTY;",
    tests: ["tests/protocols_chat_stream_test.ts"],
    why:
      "a Chat Completions stream with include_usage is billed from its usage chunk too",
  },
  {
    id: "not-included-unbounded",
    file: "src/provider/pool.ts",
    find: "    if (this.#notIncluded.size > NOT_INCLUDED_MEMORY) {",
    replace: "    if (false) {",
    tests: ["tests/provider_pool_test.ts"],
    why:
      "the models a login's plan lacks are named by buyers: the memory of them is bounded",
  },
  {
    id: "lacking-model-as-auth-failure",
    file: LOGINS,
    find:
      "    if (refusals.length > 0 && refusals.every((refusal) => refusal)) {",
    replace: "    if (false) {",
    tests: ["tests/provider_pool_test.ts"],
    why:
      "a model every plan lacks is the buyer's 400, not 503 upstream_auth_failed (a seller alert any buyer could raise)",
  },
  {
    id: "echo-failed-error-kept-whole",
    file: "src/codex/echo.ts",
    find:
      "      if (isRecord(payload.response.error)) {\n        keepMembers(payload.response.error, ERROR_MEMBERS);\n      }\n",
    replace: "",
    tests: ["tests/echo_test.ts"],
    why:
      "a failed Response's error reaches a streaming buyer without the seller's plan and promotions",
  },
  {
    id: "echo-failed-error-fast-path",
    file: "src/codex/echo.ts",
    find:
      "      json[valueStart] === OPEN_BRACE && keyEnd - key === ERROR_KEY.length &&\n",
    replace: "      false && keyEnd - key === ERROR_KEY.length &&\n",
    tests: ["tests/echo_test.ts"],
    why:
      "a lifecycle event whose Response has an error object goes the slow path, where the error is trimmed",
  },
  {
    id: "chat-again-new-created",
    file: "src/protocols/chat_stream.ts",
    find: "      created: this.#createdUsed ?? this.#created,\n",
    replace: "      created: this.#created,\n",
    tests: ["tests/protocols_chat_stream_test.ts"],
    why:
      "a stream translated again for billing gives the bytes the buyer got, its chunks' created included",
  },
  {
    id: "chat-billed-without-failure",
    file: "src/relay.ts",
    find: "        : translatedAgain(translator, read.chunks, ending);\n",
    replace: "        : translatedAgain(translator, read.chunks, undefined);\n",
    tests: ["tests/provider_chat_test.ts"],
    why:
      "a Chat stream without usage is billed from what the buyer got, the error chunk that ended it included",
  },
  {
    id: "chat-tail-head-over-text",
    file: "src/protocols/chat_stream.ts",
    find: '      const head = this.#tailPending && this.#pushed === ""\n',
    replace: "      const head = this.#tailPending\n",
    tests: ["tests/protocols_chat_stream_test.ts"],
    why:
      "a content chunk's tail goes out before the chunks of the events that followed it, never after them",
  },
  {
    id: "chat-line-feed-in-word",
    file: "src/protocols/chat_stream.ts",
    find: "  for (; at < length; at++) if (chunk[at] === LF) return at;\n",
    replace: "  if (at < length) return at;\n",
    tests: ["tests/protocols_chat_stream_test.ts"],
    why:
      "the fast path's line end is the line feed itself, not the start of the word that holds it",
  },
  {
    id: "chat-short-piece-from-start",
    file: "src/protocols/chat_stream.ts",
    find:
      "          for (let at = start; at < end; at++) out[offset++] = piece[at];\n",
    replace:
      "          for (let at = 0; at < end - start; at++) out[offset++] = piece[at];\n",
    tests: ["tests/protocols_chat_stream_test.ts"],
    why: "a short piece is copied from its own range of the upstream chunk",
  },
  {
    id: "chat-translation-unpaced",
    file: "src/protocols/chat_request.ts",
    find:
      "    if (pacer && index % MESSAGES_PER_LOOK === 0) await pacer.pace();\n",
    replace: "",
    tests: ["tests/hostile_chat_test.ts"],
    why:
      "a Chat body of many small messages is translated with yields to the event loop",
  },
  {
    id: "body-written-in-one-step",
    file: PREPARE,
    find: "      : await writtenBody(\n",
    replace:
      "      : JSON.stringify({ ...shaped.body, prompt_cache_key: conversation.key }) ?? writtenBody(\n",
    tests: ["tests/hostile_chat_test.ts", "tests/hostile_store_test.ts"],
    why:
      "a translated Chat body and a body filled in from the store are written with yields and within the limit, not in one JSON.stringify",
  },
  {
    id: "chat-modalities-serialised",
    file: "src/protocols/chat_request.ts",
    find: "        }${describe(odd)}`,",
    replace: "        }${JSON.stringify(modalities).slice(0, 100)}`,",
    tests: ["tests/hostile_chat_test.ts"],
    why:
      "a refused modalities array is never serialised whole to quote it (40 MiB held the loop 0.7 s)",
  },
  {
    id: "chat-tools-unbounded",
    file: "src/protocols/chat_request.ts",
    find: "  if (array.length <= MAX_CHAT_TOOLS) return;",
    replace: "  return;",
    tests: ["tests/hostile_chat_test.ts"],
    why: "at most 128 tools and 128 tool calls a message, as api.openai.com",
  },
  {
    id: "prompt-cache-key-unbounded",
    file: "src/codex/request.ts",
    find: "    if (key.length > MAX_PROMPT_CACHE_KEY_LENGTH) {",
    replace: "    if (false) {",
    tests: ["tests/codex_request_test.ts"],
    why:
      "a prompt_cache_key is at most 64 characters, as api.openai.com: it is echoed in every lifecycle event",
  },
  {
    id: "paced-json-unpaced",
    file: "src/codex/paced_json.ts",
    find: "        await pacer.pace();\n",
    replace: "",
    tests: ["tests/paced_json_test.ts"],
    why:
      "a large upstream body (a translated Chat body, a lite one) is written with yields to the event loop",
  },
  {
    id: "paced-json-unbounded",
    file: "src/codex/paced_json.ts",
    find: "    if (bytes > maxBytes) throw tooLarge(bytes);",
    replace: "",
    tests: ["tests/paced_json_test.ts", "tests/hostile_chat_test.ts"],
    why:
      "the Chat body as translated for the backend stays within the body limit",
  },
  {
    id: "paced-json-bytes-as-units",
    file: "src/codex/paced_json.ts",
    find: "    bytes += utf8Length(text);",
    replace: "    bytes += text.length;",
    tests: ["tests/paced_json_test.ts"],
    why: "the body limit is counted in UTF-8 bytes, not UTF-16 units",
  },
  {
    id: "lite-body-unpaced",
    file: "src/codex/responses_lite.ts",
    find: "    Infinity,\n    pacer,\n",
    replace: "    Infinity,\n    new Pacer(1e9),\n",
    tests: ["tests/paced_json_test.ts"],
    why:
      "the responses-lite body of a large request is written with yields to the event loop",
  },
  {
    id: "serve-connect-kept-on-close",
    file: "src/serve/node.ts",
    find: "            for (const socket of refused) socket.destroy();\n",
    replace: "",
    tests: ["tests/serve_pipelined_test.ts"],
    why:
      "close() drops a refused CONNECT whose client keeps its side open (node:http no longer tracks it)",
  },
  {
    id: "models-cache-clock-set-back",
    file: "src/serve/models.ts",
    find: "    return age >= 0 && age < ms;",
    replace: "    return age < ms;",
    tests: ["tests/serve_models_test.ts"],
    why:
      "a cached model list or failure is not kept for as long as the clock was set back",
  },
  {
    id: "store-evicts-oldest-of-all",
    file: "src/state/response_store.ts",
    find: "      const victim = this.#victim(entry);\n",
    replace: "      const victim = this.#oldest;\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "past the bound the largest scope loses its oldest turn first: the oldest of all lets a buyer under many peer ids flush everyone else's",
  },
  {
    id: "store-evict-floor-ignored",
    file: "src/state/response_store.ts",
    find: "    if (largest.bytes <= this.#evictFloor) {\n",
    replace: "    if (false) {\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "below half a share recency decides: many names of one small turn each must not make a larger buyer evict its own turns",
  },
  {
    id: "store-bom-escaped",
    file: "src/state/response_store.ts",
    find: "    ? 3\n    : 0;\n",
    replace: "    ? 0\n    : 0;\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a byte order mark before a streamed request's JSON is left to the decoder, not escaped into text before the JSON",
  },
  {
    id: "chat-billing-fed-keep-alives",
    file: RELAY,
    find: "    if (chunk === KEEP_ALIVE) continue;\n",
    replace: "",
    tests: ["tests/relay_retention_test.ts"],
    why:
      "a Chat stream translated again for billing is fed the upstream's bytes only, not the relay's keep-alives",
  },
  {
    id: "store-evicts-new-turn",
    file: "src/state/response_store.ts",
    find: "    if (oldest !== spared) return oldest;\n",
    replace: "    if (oldest !== undefined) return oldest;\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a new turn is not evicted past the bound while another scope's can go, even when it makes its scope the largest",
  },
  {
    id: "store-heap-not-lowered",
    file: "src/state/response_store.ts",
    find: "    state.bytes -= entry.bytes;\n    this.#lowered(state);\n",
    replace: "    state.bytes -= entry.bytes;\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a scope that lost a turn moves down the heap, or the one that holds the most is no longer its root",
  },
  {
    id: "store-heap-not-raised-on-read",
    file: "src/state/response_store.ts",
    find:
      "    if (bytes > entry.bytes) this.#raised(entry.scope);\n    else this.#lowered(entry.scope);\n",
    replace: "    this.#lowered(entry.scope);\n",
    tests: ["tests/state_response_store_test.ts"],
    why: "a raw turn that counts more once read moves its scope up the heap",
  },
  {
    id: "store-wide-items-not-narrowed",
    file: "src/state/response_store.ts",
    find:
      "  if (json.length > narrowAbove && TWO_BYTE.test(json) && narrowTexts(texts)) {\n",
    replace:
      "  if (json.length > narrowAbove && TWO_BYTE.test(json) && false) {\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "one ’ in a large turn does not make it count two bytes a character (a 10 MB answer was refused by the 16 MiB share)",
  },
  {
    id: "store-wide-raw-not-narrowed",
    file: "src/state/response_store.ts",
    find: "  return rawDecoder.decode(narrowed ?? bytes);\n",
    replace: "  return rawDecoder.decode(bytes);\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "one ’ in a large streamed turn does not make it count two bytes a character",
  },
  {
    id: "store-narrow-continuation-unchecked",
    file: "src/state/response_store.ts",
    find: "      if ((byte & 0xc0) !== 0x80) return undefined;\n",
    replace: "",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "bytes that are not UTF-8 are left to the decoder, never read as a character and escaped",
  },
  {
    id: "store-narrow-astral-one-escape",
    file: "src/state/response_store.ts",
    find: "      escape(0xd800 + ((point - 0x10000) >> 10));\n",
    replace: "      escape(point);\n",
    tests: ["tests/state_response_store_test.ts"],
    why: "a character beyond the BMP is escaped as its two UTF-16 surrogates",
  },
  {
    id: "store-huge-raw-decoded",
    file: "src/state/response_store.ts",
    find:
      "    if (RAW_OVERHEAD + utf8 / 2 + SCOPE_OVERHEAD > this.maxBuyerBytes) {\n",
    replace: "    if (false) {\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a streamed turn of more than twice a buyer's share is refused before it is decoded (60 MB: 0.2 s of decoding for nothing)",
  },
  {
    id: "store-small-texts-narrowed",
    file: "src/state/response_store.ts",
    find:
      "  if (json.length > narrowAbove && TWO_BYTE.test(json) && narrowTexts(texts)) {\n",
    replace: "  if (TWO_BYTE.test(json) && narrowTexts(texts)) {\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a small turn's text is not rewritten (about 6 us per KB on every stored answer that holds a ’)",
  },
  {
    id: "store-read-past-share-evicts-others",
    file: "src/state/response_store.ts",
    find:
      "    if (bytes + SCOPE_OVERHEAD > this.maxBuyerBytes) {\n      this.#remove(entry);\n      return false;\n    }\n",
    replace: "",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a turn past the share once read goes alone, without evicting the buyer's other turns first",
  },
  {
    id: "store-long-ids-indexed",
    file: "src/state/response_store.ts",
    find: " &&\n          item.id.length <= MAX_ITEM_ID_LENGTH\n",
    replace: "\n",
    tests: ["tests/state_response_store_test.ts"],
    why:
      "an item id past MAX_ITEM_ID_LENGTH is not indexed: V8 hashes a long string by its length, and such ids share one bucket",
  },
  {
    id: "store-long-ids-looked-up",
    file: "src/state/response_store.ts",
    find:
      '      const entry = typeof id === "string" && id.length <= MAX_ITEM_ID_LENGTH\n',
    replace: '      const entry = typeof id === "string"\n',
    tests: ["tests/state_response_store_test.ts"],
    why:
      "a reference with an id past MAX_ITEM_ID_LENGTH is not looked up (1,000 of 16,384 characters took 0.7 s)",
  },
  {
    id: "paced-json-no-char-slices",
    file: "src/codex/paced_json.ts",
    find: "index < end && chars < CHARS_PER_SLICE;",
    replace: "index < end;",
    tests: ["tests/paced_json_test.ts"],
    why:
      "a slice of items ends after 64 Ki characters: items of a megabyte are written one at a time",
  },
  {
    id: "filled-turn-past-share-stored",
    file: PREPARE,
    find: " &&\n      expanded.filledBytes <= store.maxBuyerBytes\n",
    replace: "\n",
    tests: ["tests/hostile_store_test.ts"],
    why:
      "a turn filled in past the buyer's share is not handed to the store (it would serialise it, then drop it)",
  },
];
