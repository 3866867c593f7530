/**
 * The AntSeed host contract, declared structurally.
 *
 * These shapes mirror what an AntSeed seller node (`@antseed/node`) expects of
 * a provider plugin. They are declared here so that the module depends on no
 * `@antseed/*` package at runtime or at type-check time.
 *
 * @module
 */

/** One configuration key a plugin declares; the AntSeed CLI passes only declared keys. */
export interface ConfigField {
  /** Environment variable name, e.g. `OPENAI_RESPONSES_AUTH_FILE`. */
  key: string;
  /** Short human label. */
  label: string;
  /** Value type as shown by the CLI. */
  type: "string" | "number" | "boolean" | "secret" | "string[]";
  /** Whether the key must be set. */
  required?: boolean;
  /** Default applied by the plugin itself (the CLI does not apply it). */
  default?: unknown;
  /** What the key does. */
  description?: string;
}

/** Token prices in US dollars per million tokens. */
export interface ProviderTokenPricingUsdPerMillion {
  /** Price of one million input tokens. */
  inputUsdPerMillion: number;
  /** Price of one million output tokens. */
  outputUsdPerMillion: number;
  /** Price of one million cached input tokens, when it differs from input. */
  cachedInputUsdPerMillion?: number;
}

/** Default pricing plus optional per-service overrides. */
export interface ProviderPricing {
  /** Prices used for every service without an override. */
  defaults: ProviderTokenPricingUsdPerMillion;
  /** Per-service prices, keyed by announced service id. */
  services?: Record<string, ProviderTokenPricingUsdPerMillion>;
}

/** API protocols a service can speak. */
export type ServiceApiProtocol =
  | "anthropic-messages"
  | "openai-chat-completions"
  | "openai-completions"
  | "openai-responses";

/** A request as the seller node hands it to the provider. */
export interface SerializedHttpRequest {
  /** Node-assigned request id, echoed in every response and chunk. */
  requestId: string;
  /** HTTP method. */
  method: string;
  /** Request path; may include a `?query`. */
  path: string;
  /** Headers, one string per name; names are usually lower-case. */
  headers: Record<string, string>;
  /** Request body; empty when there is none. */
  body: Uint8Array;
}

/** A complete response, or the start of a stream (then with an empty body). */
export interface SerializedHttpResponse {
  /** The request id this answers. */
  requestId: string;
  /** HTTP status code. */
  statusCode: number;
  /** Response headers, one string per name. */
  headers: Record<string, string>;
  /** Response body. */
  body: Uint8Array;
}

/** One piece of a streamed response body. */
export interface SerializedHttpResponseChunk {
  /** The request id this belongs to. */
  requestId: string;
  /** Bytes of the body. */
  data: Uint8Array;
  /** `true` on the one final chunk of a stream. */
  done: boolean;
}

/** Callbacks the seller node passes to `handleRequestStream`. */
export interface ProviderStreamCallbacks {
  /** Starts a stream (with `x-antseed-streaming: "1"`) or delivers a whole response. */
  onResponseStart(response: SerializedHttpResponse): void;
  /** Delivers one chunk of a started stream. */
  onResponseChunk(chunk: SerializedHttpResponseChunk): void;
}

/** Current and maximum number of requests in flight. */
export interface ProviderCapacity {
  /** Requests in flight now. */
  current: number;
  /** Most requests the provider serves at once. */
  max: number;
}

/** A provider instance as the seller node uses it. */
export interface Provider {
  /** Provider name announced to buyers. */
  name: string;
  /** Announced service ids (exact, case-sensitive). */
  services: string[];
  /** Token pricing. */
  pricing: ProviderPricing;
  /** Categories per service; assigned by the AntSeed CLI after creation. */
  serviceCategories?: Record<string, string[]>;
  /** Protocols per service. */
  serviceApiProtocols?: Record<string, ServiceApiProtocol[]>;
  /** Most concurrent requests, announced to buyers and enforced by the provider. */
  maxConcurrency: number;
  /** Answers one request with a complete response. */
  handleRequest(req: SerializedHttpRequest): Promise<SerializedHttpResponse>;
  /** Answers one request, streaming through the callbacks when it can. */
  handleRequestStream?(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks,
  ): Promise<SerializedHttpResponse>;
  /** Validates credentials before the node starts serving. */
  init?(): Promise<void>;
  /** Current load, polled by the CLI dashboard. */
  getCapacity(): ProviderCapacity;
}

/** The default export of a provider plugin package. */
export interface AntseedProviderPlugin {
  /** Short plugin name. */
  name: string;
  /** Name shown to people. */
  displayName: string;
  /** Package version. */
  version: string;
  /** One-line description. */
  description: string;
  /** Always `"provider"` for provider plugins. */
  type: "provider";
  /** Every configuration key the plugin reads. */
  configSchema?: ConfigField[];
  /** Creates a provider from env-style configuration. */
  createProvider(config: Record<string, string>): Provider | Promise<Provider>;
}
