/**
 * The AntSeed plugin object: metadata, configuration schema and the factory.
 *
 * @module
 */

import { CONFIG_SCHEMA } from "./config.ts";
import type { AntseedProviderPlugin } from "./host_types.ts";
import { createProvider } from "./provider/provider.ts";
import { VERSION } from "./version.ts";

/** The AntSeed provider plugin (the default export of the package). */
export const plugin: AntseedProviderPlugin = {
  name: "openai-responses",
  displayName: "OpenAI Responses",
  version: VERSION,
  description:
    "Sells OpenAI Responses API capacity from a Codex (ChatGPT subscription) login: relays /v1/responses to the Codex backend using the seller's Codex CLI credentials",
  type: "provider",
  configSchema: CONFIG_SCHEMA,
  createProvider,
};
