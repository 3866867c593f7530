/**
 * The `Provider` object: path gate, concurrency gate, capacity and the two
 * request handlers.
 *
 * @module
 */

import { parseConfig, type ProviderSettings } from "./config.ts";
import type {
  Provider,
  ProviderCapacity,
  ProviderPricing,
  SerializedHttpRequest,
  SerializedHttpResponse,
  ServiceApiProtocol,
} from "./host_types.ts";

/** A provider created by {@linkcode createProvider}, with its settings. */
export interface OpenAIResponsesProvider extends Provider {
  /** The validated settings this provider runs with. */
  readonly settings: ProviderSettings;
}

/**
 * Creates a provider from env-style configuration. Validates every key up
 * front and throws a `ConfigError` naming the bad key; does no file or network
 * I/O (credentials are read by `init()`).
 *
 * @example
 * ```ts
 * import { createProvider } from "./provider.ts";
 * const provider = createProvider({ ANTSEED_ALLOWED_SERVICES: "gpt-5.4" });
 * provider.serviceCategories = { "gpt-5.4": ["coding"] };
 * ```
 */
export function createProvider(
  config: Record<string, string>,
): OpenAIResponsesProvider {
  const settings = parseConfig(config);
  const serviceApiProtocols: Record<string, ServiceApiProtocol[]> = {};
  for (const service of settings.services) {
    serviceApiProtocols[service] = ["openai-responses"];
  }
  const pricing: ProviderPricing = settings.pricing;
  const inFlight = 0;
  return {
    name: "openai-responses",
    settings,
    services: [...settings.services],
    pricing,
    serviceApiProtocols,
    serviceCategories: undefined,
    maxConcurrency: settings.maxConcurrency,
    handleRequest(
      req: SerializedHttpRequest,
    ): Promise<SerializedHttpResponse> {
      return Promise.resolve({
        requestId: req.requestId,
        statusCode: 501,
        headers: { "content-type": "application/json" },
        body: new TextEncoder().encode(
          JSON.stringify({
            error: {
              message: "The relay is not built yet",
              type: "server_error",
              code: "not_implemented",
            },
          }),
        ),
      });
    },
    getCapacity(): ProviderCapacity {
      return { current: inFlight, max: settings.maxConcurrency };
    },
  };
}
