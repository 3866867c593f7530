/**
 * A buyer's request body made ready for the backend: read, shaped, encoded,
 * with its upstream session id. Only strings are kept, so that the parsed
 * objects are not held while the answer streams.
 *
 * @module
 */

import {
  encodeUpstreamBody,
  readRequestJson,
  shapeRequest,
  upstreamSessionId,
} from "../codex/request.ts";
import type { ProviderSettings } from "../config.ts";
import type { UpstreamRequest } from "../relay.ts";

/** A shaped buyer request, ready for the backend. */
export interface PreparedRequest extends UpstreamRequest {
  /** The requested service. */
  service: string;
  /** Whether the buyer asked for a stream. */
  stream: boolean;
}

/**
 * Reads and shapes a buyer's body. Throws the 4xx `RelayError` of a body
 * that cannot be served (too large, not JSON, no model, a model not
 * allowed, a field of the wrong type).
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { prepareRequest } from "./prepare.ts";
 *
 * const prepared = await prepareRequest(
 *   new TextEncoder().encode('{"model":"gpt-5.4","input":"Hi"}'),
 *   parseConfig({}),
 * );
 * console.log(prepared.service, prepared.stream); // "gpt-5.4" false
 * ```
 */
export async function prepareRequest(
  body: Uint8Array,
  settings: Pick<
    ProviderSettings,
    "maxBodyBytes" | "defaultInstructions" | "aliasMap" | "allowedServices"
  >,
): Promise<PreparedRequest> {
  const buyer = readRequestJson(body, settings.maxBodyBytes);
  const shaped = shapeRequest(buyer.value, {
    defaultInstructions: settings.defaultInstructions,
    aliasMap: settings.aliasMap,
    allowedServices: settings.allowedServices,
  });
  return {
    service: shaped.service,
    stream: shaped.stream,
    body: encodeUpstreamBody(buyer, shaped.body),
    sessionId: await upstreamSessionId(shaped.promptCacheKey),
  };
}
