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
const PROVIDER = "src/provider/provider.ts";
const REQUEST = "src/codex/request.ts";
const ERRORS = "src/codex/errors.ts";
const TOKEN_SOURCE = "src/auth/token_source.ts";
const LOCK = "src/auth/lock.ts";
const WRITE = "src/auth/write.ts";
const SERVER = "src/serve/handler.ts";
const ENCODING = "src/codex/content_encoding.ts";
const ZSTD = "src/codex/_zstd.ts";

const RELAY_TEST = "tests/relay_test.ts";
const RETRY_TEST = "tests/relay_retry_test.ts";
const ABORT_TEST = "tests/relay_abort_test.ts";
const HEADERS_TEST = "tests/relay_headers_test.ts";
const ENCODING_TEST = "tests/codex_content_encoding_test.ts";
const HOSTILE_DECODE_TEST = "tests/hostile_decode_test.ts";

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
      "      callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    replace: "",
    tests: [RELAY_TEST],
    why: "a stream ends with exactly one done chunk",
  },
  {
    id: "two-done-chunks",
    file: RELAY,
    find:
      "      callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    replace:
      "      callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });\n      callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });",
    tests: [RELAY_TEST],
    why: "a stream ends with exactly one done chunk",
  },
  // A buyer who goes away.
  {
    id: "buyer-abort-not-heard",
    file: RELAY,
    find: '    signal?.addEventListener("abort", this, { once: true });',
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
      "  while (true) {\n    if (context.signal?.aborted) throw buyerGone();",
    replace: "  while (true) {",
    tests: [ABORT_TEST],
    why: "no attempt for a buyer who has gone",
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
    file: PROVIDER,
    find: "    } finally {\n      capacity.leave();",
    replace: "    } finally {",
    tests: [RELAY_TEST],
    why: "every request releases its slot",
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
    file: PROVIDER,
    find:
      "            prepared,\n            signal ? { ...context, signal } : context,",
    replace:
      '            { ...prepared, sessionId: req.headers["x-antseed-buyer-peer-id"] ?? prepared.sessionId },\n            signal ? { ...context, signal } : context,',
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
    file: "src/state/response_store.ts",
    find:
      "    const state = this.#scopes.get(scope);\n    const result: ExpandResult = {",
    replace:
      "    const state = this.#scopes.get(scope) ?? [...this.#scopes.values()][0];\n    const result: ExpandResult = {",
    tests: ["tests/provider_clients_test.ts"],
    why: "nothing one buyer stored resolves for another",
  },
  {
    id: "store-false-stored",
    file: "src/provider/prepare.ts",
    find: "    if (store.enabled && buyer.value.store !== false) {",
    replace: "    if (store.enabled) {",
    tests: ["tests/provider_clients_test.ts"],
    why: "a request that says store: false keeps nothing",
  },
  {
    id: "decoded-size-unbounded",
    file: "src/codex/content_encoding.ts",
    find:
      '      if (size > maxBytes) {\n        throw new DecodedTooLarge("it decodes to more bytes");',
    replace:
      '      if (size > maxBytes * 1000) {\n        throw new DecodedTooLarge("it decodes to more bytes");',
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
    id: "zstd-native-output-never-paused",
    file: ZSTD,
    find: "      if (pacer.due) {\n        stream.pause();",
    replace: "      if (false) {\n        stream.pause();",
    tests: [ENCODING_TEST],
    why: "the native zstd decoder is paused on its output to yield",
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
    file: ENCODING,
    find: "    // reading side no turn to pace.\n    await pacer.pace();",
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
    find: "    sent.push(translator.billingTail());",
    replace: "",
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
    file: PROVIDER,
    find:
      "          if (several && await failOver(login, failure, prepared.model)) {",
    replace: "          if (false) {",
    tests: ["tests/provider_pool_test.ts"],
    why:
      "a login that cannot serve hands the request to the next, before any byte",
  },
];
