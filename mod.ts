/**
 * `@antseed/provider-openai-responses`: an AntSeed provider plugin that sells
 * OpenAI Responses API capacity from a Codex (ChatGPT subscription) login.
 *
 * The default export is the plugin the AntSeed seller node loads. Named
 * exports give the factory, the host contract types and the error classes.
 *
 * @example
 * ```ts
 * import plugin from "@antseed/provider-openai-responses";
 *
 * const provider = await plugin.createProvider({
 *   ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
 * });
 * console.log(provider.services); // ["gpt-5.4"]
 * ```
 *
 * @module
 */

import { plugin } from "./src/plugin.ts";

export default plugin;
export { plugin };
export { createProvider } from "./src/provider/provider.ts";
export type {
  CreateProviderOptions,
  HandleOptions,
  LoginRule,
  LoginStatus,
  OpenAIResponsesProvider,
  RequestLogEntry,
} from "./src/provider/provider.ts";
export type { LoginState } from "./src/provider/pool.ts";
export type {
  ClientVersionChoice,
  ClientVersionSource,
  VersionFileReading,
} from "./src/codex/client_version.ts";
export type { AccountState } from "./src/codex/errors.ts";
export { RESPONSES_PATH } from "./src/provider/routes.ts";
export type {
  RateLimitSnapshot,
  RateLimitWindow,
} from "./src/codex/rate_limits.ts";
export type {
  AdditionalUsageLimit,
  UsageCredits,
  UsageReport,
  UsageWindow,
} from "./src/codex/usage.ts";
export type { ResetCredit, ResetCredits } from "./src/codex/reset_credits.ts";
export { CONFIG_SCHEMA, parseConfig } from "./src/config.ts";
export type { ParseConfigOptions, ProviderSettings } from "./src/config.ts";
export {
  AccountError,
  ConfigError,
  CredentialsError,
  LoginError,
  LoginRequiredError,
  OpenAIResponsesError,
  RelayError,
  TokenRefreshError,
} from "./src/errors.ts";
export type { CredentialsErrorCode, RelayErrorOptions } from "./src/errors.ts";
export type {
  AntseedProviderPlugin,
  ConfigField,
  Provider,
  ProviderCapacity,
  ProviderPricing,
  ProviderStreamCallbacks,
  ProviderTokenPricingUsdPerMillion,
  SerializedHttpRequest,
  SerializedHttpResponse,
  SerializedHttpResponseChunk,
  ServiceApiProtocol,
} from "./src/host_types.ts";
export { VERSION } from "./src/version.ts";
// `CreateProviderOptions.tokenSource` takes any object of this shape (an
// embedder's own credentials, a test's fixed token); the shapes carry no
// secret of their own.
export type {
  AccessToken,
  CredentialsInfo,
  TokenSource,
} from "./src/auth/types.ts";
