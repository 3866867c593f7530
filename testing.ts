/**
 * Test helpers of `@antseed/provider-openai-responses`: a simulated Codex
 * backend, a fake OAuth token endpoint and a simulated OAuth issuer (the
 * browser and device logins, revoke) that run on 127.0.0.1, and
 * unsigned test credentials shaped like the ones `codex login` writes. Use
 * them to test code that embeds the provider without a ChatGPT account or
 * network access. Nothing here is a real credential.
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * import { createProvider } from "@antseed/provider-openai-responses";
 * import {
 *   makeAuthJson,
 *   startFakeCodexBackend,
 *   startFakeTokenEndpoint,
 * } from "@antseed/provider-openai-responses/testing";
 *
 * const backend = await startFakeCodexBackend();
 * const tokens = await startFakeTokenEndpoint({ refreshTokens: ["rt_test_0"] });
 * try {
 *   await writeFile("./test-auth.json", JSON.stringify(makeAuthJson()));
 *   const provider = createProvider({
 *     OPENAI_RESPONSES_AUTH_FILE: "./test-auth.json",
 *     OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
 *     OPENAI_RESPONSES_TOKEN_URL: tokens.url,
 *   });
 *   await provider.init();
 *   backend.enqueue({ kind: "text", text: "Hello!" });
 *   // ... send requests through `provider`, assert on `backend.requests` ...
 * } finally {
 *   await backend.close();
 *   await tokens.close();
 * }
 * ```
 *
 * @module
 */

export {
  DEFAULT_FAKE_GATED_MODELS,
  DEFAULT_FAKE_MODELS,
  DEFAULT_FAKE_RESPONSES_LITE_MODELS,
  startFakeCodexBackend,
} from "./src/testing/fake_backend.ts";
export type {
  FakeAccountError,
  FakeAccountUsage,
  FakeBehaviour,
  FakeCodexBackend,
  FakeCodexBackendOptions,
  FakeErrorEventBehaviour,
  FakeFailedBehaviour,
  FakeFunctionCallBehaviour,
  FakeHeadersNeverBehaviour,
  FakeIncompleteBehaviour,
  FakeLargeBehaviour,
  FakeNoTerminalBehaviour,
  FakeResetBeforeHeadersBehaviour,
  FakeResetCredit,
  FakeResetCredits,
  FakeResetFailure,
  FakeResetMidStreamBehaviour,
  FakeResetRedemption,
  FakeStallBehaviour,
  FakeStatusBehaviour,
  FakeTextBehaviour,
  FakeTruncatedBehaviour,
  FakeUsageCredits,
  FakeUsageFailure,
  FakeUsageLimitBehaviour,
  FakeUsageLimitInStreamBehaviour,
  FakeUsageNotIncludedBehaviour,
  FakeUsageOverride,
  FakeUsageWindow,
  RecordedRequest,
} from "./src/testing/fake_backend.ts";
export {
  FAKE_CODEX_CLIENT_ID,
  REFRESH_TOKEN_REUSED_BODY,
  startFakeTokenEndpoint,
} from "./src/testing/fake_token_endpoint.ts";
export type {
  ErrorCodePlacement,
  FakeTokenEndpoint,
  FakeTokenEndpointOptions,
  FakeTokenFailure,
  RecordedTokenRequest,
} from "./src/testing/fake_token_endpoint.ts";
export { startFakeIssuer } from "./src/testing/fake_issuer.ts";
export type {
  FakeAuthorizeError,
  FakeDeviceLogin,
  FakeIssuer,
  FakeIssuerOptions,
  RecordedIssuerRequest,
  TokenIdentity,
} from "./src/testing/fake_issuer.ts";
export {
  AUTH_CLAIM,
  makeAccessToken,
  makeAuthJson,
  makeIdToken,
  makeJwt,
} from "./src/testing/jwt.ts";
export type { AuthJsonOptions, TestTokenOptions } from "./src/testing/jwt.ts";
