/**
 * The simulated backend's deterministic default answer, chosen from the
 * request body.
 *
 * @module
 */

import type { FakeBehaviour } from "./_fake_types.ts";
import { isRecord } from "../json.ts";

function inputItems(body: Record<string, unknown>): unknown[] {
  return Array.isArray(body.input) ? body.input : [];
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part) => isRecord(part) && typeof part.text === "string")
    .map((part) => (part as { text: string }).text)
    .join("");
}

function lastUserText(body: Record<string, unknown>): string | undefined {
  if (typeof body.input === "string") return body.input;
  const items = inputItems(body);
  for (let index = items.length - 1; index >= 0; index--) {
    const item = items[index];
    if (isRecord(item) && item.role === "user") {
      return contentText(item.content);
    }
  }
  return undefined;
}

function lastItem(
  body: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const items = inputItems(body);
  const last = items[items.length - 1];
  return isRecord(last) ? last : undefined;
}

/**
 * The default answer text: the tool output after a `function_call_output`,
 * else `Echo: <last user text>`, else a fixed sentence.
 */
export function defaultText(body: Record<string, unknown>): string {
  const last = lastItem(body);
  if (last?.type === "function_call_output") {
    const output = typeof last.output === "string"
      ? last.output
      : JSON.stringify(last.output);
    return `The tool returned: ${output}`;
  }
  const text = lastUserText(body);
  return text ? `Echo: ${text}` : "Hello from the simulated Codex backend.";
}

function firstFunction(
  body: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (!Array.isArray(body.tools) || body.tool_choice === "none") {
    return undefined;
  }
  return body.tools.find((tool) =>
    isRecord(tool) && tool.type === "function" && typeof tool.name === "string"
  );
}

function sampleValue(schema: unknown): unknown {
  const type = isRecord(schema) ? schema.type : undefined;
  if (type === "number" || type === "integer") return 1;
  if (type === "boolean") return true;
  if (type === "array") return [];
  if (type === "object") return {};
  return "Paris";
}

/**
 * Arguments built from a JSON schema: every required property (every
 * property when none is required) set to a fixed sample value (`"Paris"`
 * for strings, `1`, `true`, `[]`, `{}`).
 */
export function sampleArguments(parameters: unknown): string {
  const properties = isRecord(parameters) && isRecord(parameters.properties)
    ? parameters.properties
    : {};
  const required = isRecord(parameters) && Array.isArray(parameters.required)
    ? parameters.required.filter((name) => typeof name === "string")
    : Object.keys(properties);
  const args: Record<string, unknown> = {};
  for (const name of required) args[name] = sampleValue(properties[name]);
  return JSON.stringify(args);
}

/**
 * The default behaviour: a call of the first function tool unless the last
 * input item is a `function_call_output` (or `tool_choice` is `"none"`),
 * else a text answer.
 */
export function defaultBehaviour(body: Record<string, unknown>): FakeBehaviour {
  const tool = firstFunction(body);
  if (tool && lastItem(body)?.type !== "function_call_output") {
    return {
      kind: "function_call",
      name: tool.name as string,
      arguments: sampleArguments(tool.parameters),
    };
  }
  return { kind: "text" };
}
