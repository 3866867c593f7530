import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { ResponseAggregator } from "../src/codex/aggregate.ts";
import { sseErrorEvent } from "../src/codex/errors.ts";
import { buildUpstreamHeaders, shapeRequest } from "../src/codex/request.ts";
import { SseParser } from "../src/codex/sse.ts";
import { RelayError } from "../src/errors.ts";
import { chatToResponsesRequest } from "../src/protocols/chat_request.ts";
import { chatUsage } from "../src/protocols/chat_response.ts";
import {
  ChatStreamTranslator,
  DONE_LINE,
  wantsChatEvent,
} from "../src/protocols/chat_stream.ts";
import {
  type FakeBehaviour,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { parseBilledUsage } from "./fakes/seller_node.ts";

type Json = Record<string, unknown>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CREATED = 1_700_000_000;

const TOOLS = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather of a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false,
    },
  },
}];

let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend({ rateLimitHeaders: false });
});

after(async () => {
  await backend.close();
});

/** The upstream SSE bytes the simulated backend answers a Chat request with. */
async function upstreamBytes(
  behaviour: FakeBehaviour,
  chat: Json = {},
): Promise<Uint8Array> {
  backend.enqueue(behaviour);
  const translated = await chatToResponsesRequest({
    model: "gpt-5.4",
    messages: [{ role: "user", content: "What is the weather in Paris?" }],
    stream: true,
    ...chat,
  });
  const shaped = shapeRequest(translated.body, {
    defaultInstructions: "Be helpful",
    aliasMap: {},
    allowedServices: [],
  });
  const response = await fetch(backend.responsesUrl, {
    method: "POST",
    headers: buildUpstreamHeaders(
      { accessToken: makeAccessToken(), accountId: "acct_test" },
      crypto.randomUUID(),
    ),
    body: JSON.stringify(shaped.body),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200, decoder.decode(bytes));
  return bytes;
}

interface Translated {
  /** Every output of push/finish, in order, empty ones left out. */
  outputs: Uint8Array[];
  /** The outputs concatenated, as text. */
  text: string;
  translator: ChatStreamTranslator;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

/** Pushes the bytes in pieces of `size` bytes (all at once by default), then finishes. */
function translate(
  bytes: Uint8Array,
  options: { includeUsage?: boolean; size?: number } = {},
): Translated {
  const translator = new ChatStreamTranslator({
    model: "codex",
    includeUsage: options.includeUsage ?? false,
    created: CREATED,
  });
  const outputs: Uint8Array[] = [];
  const size = options.size ?? bytes.length;
  for (let offset = 0; offset < bytes.length; offset += size) {
    const out = translator.push(bytes.subarray(offset, offset + size));
    if (out.length > 0) outputs.push(out);
  }
  const tail = translator.finish();
  if (tail.length > 0) outputs.push(tail);
  return { outputs, text: decoder.decode(concat(outputs)), translator };
}

/** The `data:` payloads of a Chat Completions stream, `[DONE]` as the string. */
function dataLines(text: string): (Json | string)[] {
  assert.ok(text.endsWith("\n\n"), "the stream ends on an event boundary");
  return text.split("\n\n").filter((frame) => frame !== "").map((frame) => {
    assert.ok(frame.startsWith("data: "), `a data line: ${frame}`);
    assert.ok(!frame.includes("\n"), `one line per event: ${frame}`);
    const data = frame.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

function chunks(text: string): Json[] {
  const lines = dataLines(text);
  assert.equal(lines.at(-1), "[DONE]");
  assert.equal(lines.filter((line) => line === "[DONE]").length, 1);
  return lines.slice(0, -1) as Json[];
}

function deltaOf(chunk: Json): Json {
  return (chunk.choices as Json[])[0].delta as Json;
}

function finishOf(chunk: Json): unknown {
  return (chunk.choices as Json[])[0].finish_reason;
}

function responseIdOf(bytes: Uint8Array): string {
  const match = /"id":"(resp_[^"]+)"/.exec(decoder.decode(bytes));
  assert.ok(match);
  return match[1];
}

/** Usage of the terminal event of an upstream body, as the Responses path reads it. */
function upstreamUsage(bytes: Uint8Array): Json {
  const aggregator = new ResponseAggregator();
  const parser = new SseParser((event, data) => aggregator.handle(event, data));
  parser.push(bytes);
  parser.finish();
  assert.ok(aggregator.usage);
  return aggregator.usage;
}

/** The official SDK reading a Chat Completions stream of these bytes (no network: a custom fetch). */
function sdkFor(bytes: Uint8Array): OpenAI {
  return new OpenAI({
    apiKey: "test",
    baseURL: "http://127.0.0.1:9/v1",
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(
        new Response(bytes.slice(), {
          status: 200,
          headers: { "content-type": "text/event-stream" },
        }),
      ),
  });
}

const SDK_REQUEST = {
  model: "codex",
  messages: [{ role: "user" as const, content: "Hi" }],
};

describe("ChatStreamTranslator with a text answer", () => {
  it("sends a role chunk, the text as content deltas, a stop chunk and [DONE]", async () => {
    const upstream = await upstreamBytes({
      kind: "text",
      text: "Sunny and warm",
    });
    const list = chunks(translate(upstream).text);
    assert.deepEqual(deltaOf(list[0]), {
      role: "assistant",
      content: "",
      refusal: null,
    });
    const contents = list.slice(1, -1).map((chunk) => deltaOf(chunk).content);
    assert.ok(contents.length > 1, "several deltas");
    assert.equal(contents.join(""), "Sunny and warm");
    for (const chunk of list.slice(0, -1)) {
      assert.equal(finishOf(chunk), null);
    }
    assert.deepEqual(deltaOf(list.at(-1)!), {});
    assert.equal(finishOf(list.at(-1)!), "stop");
  });

  it("gives every chunk the same id, object, created, model and choice index", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Hi there" });
    const id = `chatcmpl-${responseIdOf(upstream).slice(5)}`;
    for (const chunk of chunks(translate(upstream).text)) {
      assert.equal(chunk.id, id);
      assert.equal(chunk.object, "chat.completion.chunk");
      assert.equal(chunk.created, CREATED);
      assert.equal(chunk.model, "codex");
      assert.equal(chunk.system_fingerprint, null);
      const choice = (chunk.choices as Json[])[0];
      assert.equal(choice.index, 0);
      assert.equal(choice.logprobs, null);
    }
  });

  it("sends the usage chunk before [DONE] when include_usage", async () => {
    const upstream = await upstreamBytes({
      kind: "text",
      text: "Hi",
      usage: {
        input_tokens: 50,
        input_tokens_details: { cached_tokens: 40 },
        output_tokens: 9,
        output_tokens_details: { reasoning_tokens: 4 },
      },
    });
    const list = chunks(translate(upstream, { includeUsage: true }).text);
    const last = list.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, {
      prompt_tokens: 50,
      completion_tokens: 9,
      total_tokens: 59,
      prompt_tokens_details: { cached_tokens: 40, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 4,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    assert.equal(finishOf(list.at(-2)!), "stop");
  });

  it("sends no usage chunk without include_usage", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Hi" });
    const list = chunks(translate(upstream).text);
    assert.ok(list.every((chunk) => !("usage" in chunk)));
  });

  it("gives the same bytes when the upstream arrives one byte at a time", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Ça va? 👋" });
    const whole = translate(upstream, { includeUsage: true }).text;
    const split = translate(upstream, { includeUsage: true, size: 1 }).text;
    assert.equal(split, whole);
  });

  it("is read by the OpenAI SDK as the text, stop and usage", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Sunny" });
    const bytes = concat(translate(upstream, { includeUsage: true }).outputs);
    const stream = sdkFor(bytes).chat.completions.stream({
      ...SDK_REQUEST,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content, "Sunny");
    assert.equal(final.choices[0].message.role, "assistant");
    assert.equal(final.choices[0].finish_reason, "stop");
    assert.deepEqual(final.usage, chatUsage(upstreamUsage(upstream)));
  });

  it("turns events without an event: line like named ones", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Hello" });
    const unnamed = encoder.encode(
      decoder.decode(upstream).replace(/^event: [^\n]*\n/gm, ""),
    );
    assert.equal(translate(unnamed).text, translate(upstream).text);
  });
});

describe("ChatStreamTranslator with a function call", () => {
  it("sends the call's header delta, then its arguments with the same index, then tool_calls", async () => {
    const upstream = await upstreamBytes({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
      callId: "call_paris",
    }, { tools: TOOLS });
    const list = chunks(translate(upstream).text);
    const calls = list.slice(1, -1).map((chunk) =>
      (deltaOf(chunk).tool_calls as Json[])[0]
    );
    assert.deepEqual(calls[0], {
      index: 0,
      id: "call_paris",
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    assert.ok(calls.length > 2, "several argument deltas");
    for (const call of calls.slice(1)) {
      assert.deepEqual(Object.keys(call), ["index", "function"]);
      assert.equal(call.index, 0);
    }
    assert.equal(
      calls.slice(1).map((call) => (call.function as Json).arguments).join(""),
      '{"city":"Paris"}',
    );
    assert.equal(finishOf(list.at(-1)!), "tool_calls");
  });

  it("is read by the OpenAI SDK as one tool call", async () => {
    const upstream = await upstreamBytes({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
      callId: "call_paris",
    }, { tools: TOOLS });
    const bytes = concat(translate(upstream).outputs);
    const final = await sdkFor(bytes).chat.completions.stream(SDK_REQUEST)
      .finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.deepEqual(final.choices[0].message.tool_calls, [{
      id: "call_paris",
      type: "function",
      function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    }]);
  });

  it("counts calls from 0 in the order they are added", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const added = (outputIndex: number, callId: string) =>
      decoder.decode(translator.handle(
        "response.output_item.added",
        JSON.stringify({
          type: "response.output_item.added",
          output_index: outputIndex,
          item: {
            id: `fc_${callId}`,
            type: "function_call",
            call_id: callId,
            name: "f",
            arguments: "",
          },
        }),
      ));
    const argument = (outputIndex: number, delta: string) =>
      decoder.decode(translator.handle(
        "response.function_call_arguments.delta",
        JSON.stringify({
          type: "response.function_call_arguments.delta",
          output_index: outputIndex,
          item_id: "ignored",
          delta,
        }),
      ));
    const first = chunks(added(1, "a") + argument(1, "{}") + DONE_LINE);
    const second = chunks(added(3, "b") + argument(3, "[]") + DONE_LINE);
    const indexOf = (chunk: Json) =>
      (deltaOf(chunk).tool_calls as Json[])[0].index;
    // first[0] is the role chunk.
    assert.deepEqual(first.slice(1).map(indexOf), [0, 0]);
    assert.deepEqual(second.map(indexOf), [1, 1]);
  });

  it("sends arguments that come whole at function_call_arguments.done", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    translator.handle(
      "response.output_item.added",
      '{"output_index":0,"item":{"id":"fc_1","type":"function_call","call_id":"c","name":"f","arguments":""}}',
    );
    const out = decoder.decode(translator.handle(
      "response.function_call_arguments.done",
      '{"item_id":"fc_1","arguments":"{\\"a\\":1}"}',
    ));
    const [chunk] = chunks(out + DONE_LINE);
    assert.deepEqual(deltaOf(chunk), {
      tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }],
    });
  });

  it("sends nothing at function_call_arguments.done when deltas carried the arguments", async () => {
    const upstream = await upstreamBytes({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
    }, { tools: TOOLS });
    const list = chunks(translate(upstream).text);
    const args = list.flatMap((chunk) => {
      const calls = deltaOf(chunk)?.tool_calls as Json[] | undefined;
      return calls ? [(calls[0].function as Json).arguments] : [];
    });
    assert.equal(args.join(""), '{"city":"Paris"}');
  });
});

describe("ChatStreamTranslator endings", () => {
  it("turns response.failed into the error chunk the Responses path's error has, then [DONE]", async () => {
    const upstream = await upstreamBytes({
      kind: "failed",
      code: "context_length_exceeded",
      message: "Too long",
    });
    const { text, translator } = translate(upstream);
    const lines = dataLines(text);
    assert.equal(lines.at(-1), "[DONE]");
    const error = lines.at(-2) as Json;
    assert.deepEqual(error, {
      error: {
        message: "Too long",
        type: "invalid_request_error",
        code: "context_length_exceeded",
      },
    });
    const aggregator = new ResponseAggregator();
    new SseParser((event, data) => aggregator.handle(event, data)).push(
      upstream,
    );
    const result = aggregator.result();
    assert.equal(result.kind, "error");
    assert.deepEqual(error, result.kind === "error" && result.error.toJSON());
    assert.equal(translator.error?.status, 400);
  });

  it("turns an error event into an error chunk, then [DONE]", async () => {
    const upstream = await upstreamBytes({
      kind: "error_event",
      code: "server_is_overloaded",
      message: "Busy",
    });
    const lines = dataLines(translate(upstream).text);
    assert.deepEqual(lines.slice(-2), [
      {
        error: {
          message: "Busy",
          type: "server_error",
          code: "server_is_overloaded",
        },
      },
      "[DONE]",
    ]);
  });

  it("makes the OpenAI SDK throw an APIError with the message and code", async () => {
    const upstream = await upstreamBytes({
      kind: "failed",
      code: "context_length_exceeded",
      message: "Too long",
    });
    const stream = await sdkFor(concat(translate(upstream).outputs)).chat
      .completions.create({ ...SDK_REQUEST, stream: true });
    await assert.rejects(
      async () => {
        for await (const _chunk of stream) { /* read */ }
      },
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.message, "Too long");
        assert.equal(error.code, "context_length_exceeded");
        assert.equal(error.type, "invalid_request_error");
        return true;
      },
    );
  });

  it("answers length for response.incomplete at max_output_tokens", async () => {
    const upstream = await upstreamBytes({
      kind: "incomplete",
      reason: "max_output_tokens",
    });
    const list = chunks(translate(upstream, { includeUsage: true }).text);
    assert.equal(finishOf(list.at(-2)!), "length");
    assert.ok(list.at(-1)!.usage);
  });

  it("answers content_filter for response.incomplete by the content filter", async () => {
    const upstream = await upstreamBytes({
      kind: "incomplete",
      reason: "content_filter",
    });
    assert.equal(
      finishOf(chunks(translate(upstream).text).at(-1)!),
      "content_filter",
    );
  });

  it("ends a stream without a terminal event with an error chunk and [DONE] at finish", async () => {
    const upstream = await upstreamBytes({ kind: "no_terminal" });
    const { outputs, translator } = translate(upstream);
    const tail = decoder.decode(outputs.at(-1)!);
    assert.deepEqual(dataLines(tail), [
      {
        error: {
          message: "The upstream stream closed before response.completed",
          type: "server_error",
          code: "upstream_stream_incomplete",
        },
      },
      "[DONE]",
    ]);
    assert.equal(translator.terminal, undefined);
    assert.ok(translator.ended);
  });

  it("reports the failure given to finish", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const out = decoder.decode(translator.finish(
      new RelayError(504, "upstream_idle_timeout", "Silent"),
    ));
    assert.deepEqual(dataLines(out)[0], {
      error: {
        message: "Silent",
        type: "server_error",
        code: "upstream_idle_timeout",
      },
    });
  });

  it("takes the response.failed event the relay appends, and finish adds nothing", async () => {
    const upstream = await upstreamBytes({ kind: "no_terminal" });
    const appended = sseErrorEvent(
      new RelayError(502, "upstream_stream_incomplete", "Closed early"),
      { sequenceNumber: 99 },
    );
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    translator.push(upstream);
    const out = decoder.decode(translator.push(appended));
    assert.deepEqual(dataLines(out), [
      {
        error: {
          message: "Closed early",
          type: "server_error",
          code: "upstream_stream_incomplete",
        },
      },
      "[DONE]",
    ]);
    assert.equal(translator.finish().length, 0);
  });

  it("ignores events after the terminal one", async () => {
    const upstream = await upstreamBytes({ kind: "text", text: "Hi" });
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    translator.push(upstream);
    assert.equal(translator.push(upstream).length, 0);
    assert.equal(
      translator.handle("response.output_text.delta", '{"delta":"late"}')
        .length,
      0,
    );
    assert.equal(translator.finish().length, 0);
  });

  it("answers an unreadable terminal event with upstream_bad_event", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const out = decoder.decode(
      translator.handle("response.completed", "{not json"),
    );
    assert.equal(
      ((dataLines(out)[0] as Json).error as Json).code,
      "upstream_bad_event",
    );
  });
});

describe("ChatStreamTranslator without buffering", () => {
  it("returns each event's chunk from the call that took the event", async () => {
    const upstream = decoder.decode(
      await upstreamBytes({ kind: "text", text: "abcdefgh" }),
    );
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const frames = upstream.split(/(?<=\n\n)/);
    let sawDelta = false;
    for (const frame of frames) {
      const out = decoder.decode(translator.push(encoder.encode(frame)));
      if (frame.startsWith("event: response.output_text.delta")) {
        const delta = JSON.parse(frame.split("data: ")[1]).delta;
        assert.equal(deltaOf(chunks(out + DONE_LINE)[0]).content, delta);
        sawDelta = true;
      }
    }
    assert.ok(sawDelta);
  });

  it("sends the role chunk at response.created", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const out = decoder.decode(translator.handle(
      "response.created",
      '{"type":"response.created","response":{"id":"resp_x","created_at":5}}',
    ));
    const [chunk] = chunks(out + DONE_LINE);
    assert.equal(chunk.id, "chatcmpl-x");
    assert.equal(chunk.created, 5);
    assert.equal(deltaOf(chunk).role, "assistant");
  });

  it("sends the role chunk with the first output when response.created is missing", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const out = decoder.decode(translator.handle(
      "response.output_text.delta",
      '{"output_index":0,"delta":"Hi"}',
    ));
    const list = chunks(out + DONE_LINE);
    assert.deepEqual(list.map((chunk) => deltaOf(chunk)), [
      { role: "assistant", content: "", refusal: null },
      { content: "Hi" },
    ]);
    assert.match(String(list[0].id), /^chatcmpl-[0-9a-f]{32}$/);
  });

  it("sends refusal deltas as delta.refusal", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    translator.handle("response.created", "{}");
    const out = decoder.decode(translator.handle(
      "response.refusal.delta",
      '{"output_index":0,"delta":"No"}',
    ));
    assert.deepEqual(deltaOf(chunks(out + DONE_LINE)[0]), { refusal: "No" });
  });

  it("passes a keep-alive comment as is", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    assert.equal(decoder.decode(translator.comment()), ": keep-alive\n\n");
    assert.equal(decoder.decode(translator.comment("a\nb")), ": a b\n\n");
  });

  it("decodes only the events it translates", () => {
    for (
      const name of [
        "response.output_text.delta",
        "response.output_item.added",
        "response.completed",
        "message",
      ]
    ) {
      assert.ok(wantsChatEvent(name), name);
    }
    for (
      const name of [
        "response.content_part.added",
        "response.output_text.done",
        "response.output_item.done",
        "response.reasoning_summary_text.delta",
      ]
    ) {
      assert.ok(!wantsChatEvent(name), name);
    }
  });
});

describe("ChatStreamTranslator fast path for text deltas", () => {
  const START =
    'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_f","created_at":3}}\n\n';
  const END =
    'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_f","status":"completed","output":[]}}\n\n';

  function deltaFrame(json: string, lineEnd = "\n"): string {
    return `event: response.output_text.delta${lineEnd}data: ${json}${lineEnd}${lineEnd}`;
  }

  /** The content deltas a stream of these frames gives, fed whole and byte by byte. */
  function contents(frames: string[]): { whole: string[]; split: string[] } {
    const bytes = encoder.encode(START + frames.join("") + END);
    const read = (size: number) =>
      chunks(translate(bytes, { size }).text).flatMap((chunk) => {
        const delta = deltaOf(chunk);
        return typeof delta.content === "string" && delta.content !== ""
          ? [delta.content]
          : [];
      });
    return { whole: read(bytes.length), split: read(1) };
  }

  it("copies escapes and non-ASCII text exactly as the parser reads them", () => {
    const texts = [
      'quote " and backslash \\',
      "line\nbreak\ttab",
      "é 👋 \u2028",
      "ends with backslash \\",
    ];
    const frames = texts.map((text) =>
      deltaFrame(
        `{"type":"response.output_text.delta","output_index":0,"delta":${
          JSON.stringify(text)
        },"logprobs":[]}`,
      )
    );
    frames.push(deltaFrame(
      '{"type":"response.output_text.delta","delta":"\\u00e9\\/","output_index":0}',
    ));
    const { whole, split } = contents(frames);
    assert.deepEqual(whole, [...texts, "é/"]);
    assert.deepEqual(split, whole);
  });

  it("copies a whole delta frame's JSON string without decoding it", () => {
    const bytes = encoder.encode(
      START +
        deltaFrame('{"type":"response.output_text.delta","delta":"\\u00e9"}') +
        END,
    );
    // Fast path: the upstream's own escape; byte by byte, the parser's
    // decoded text, serialised again.
    assert.match(translate(bytes).text, /\{"content":"\\u00e9"\}/);
    assert.match(translate(bytes, { size: 1 }).text, /\{"content":"é"\}/);
  });

  it("reads the delta key and not a value that looks like it", () => {
    const { whole } = contents([deltaFrame(
      '{"type":"response.output_text.delta","item_id":"\\"delta\\":\\"no","delta":"yes","obfuscation":"\\"delta\\":\\"x"}',
    )]);
    assert.deepEqual(whole, ["yes"]);
  });

  it("hands frames it does not recognise to the parser", () => {
    const { whole, split } = contents([
      deltaFrame('{"type":"response.output_text.delta","delta": "spaced"}'),
      deltaFrame(
        '{"type":"response.output_text.delta","delta":"crlf"}',
        "\r\n",
      ),
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",\ndata: "delta":"two lines"}\n\n',
      ": keep-alive\n\n",
      deltaFrame('{"type":"response.output_text.delta","delta":"plain"}'),
      deltaFrame('{"type":"response.output_text.delta","delta":""}'),
    ]);
    assert.deepEqual(whole, ["spaced", "crlf", "two lines", "plain"]);
    assert.deepEqual(split, whole);
  });

  it("gives the parser's bytes when text deltas and other events share a chunk", () => {
    const text = (delta: string) =>
      deltaFrame(
        `{"type":"response.output_text.delta","output_index":0,"delta":"${delta}"}`,
      );
    const bytes = encoder.encode(
      START + text("a") +
        'event: response.refusal.delta\ndata: {"type":"response.refusal.delta","delta":"no"}\n\n' +
        text("b") + text("c") + ": keep-alive\n\n" +
        deltaFrame(
          '{"type":"response.output_text.delta","delta":"crlf"}',
          "\r\n",
        ) + text("d") + END,
    );
    // Whole: the fast path for "a" to "d"; a byte at a time: the parser.
    const whole = translate(bytes).text;
    for (const size of [1, 7, 64]) {
      assert.equal(translate(bytes, { size }).text, whole, `size ${size}`);
    }
    assert.deepEqual(
      chunks(whole).map((chunk) => deltaOf(chunk)).filter((delta) =>
        delta.content || delta.refusal
      ),
      [
        { content: "a" },
        { refusal: "no" },
        { content: "b" },
        { content: "c" },
        { content: "crlf" },
        { content: "d" },
      ],
    );
  });

  it("never changes a chunk it returned earlier", () => {
    const translator = new ChatStreamTranslator({
      model: "m",
      includeUsage: false,
    });
    const first = translator.push(encoder.encode(START));
    const copies: [Uint8Array, Uint8Array][] = [[first, first.slice()]];
    for (let index = 0; index < 2000; index++) {
      const out = translator.push(encoder.encode(deltaFrame(
        `{"type":"response.output_text.delta","delta":"piece ${index}"}`,
      )));
      copies.push([out, out.slice()]);
    }
    for (const [sent, copy] of copies) assert.deepEqual(sent, copy);
    const text = decoder.decode(concat(copies.map(([sent]) => sent)));
    assert.equal(
      chunks(text + DONE_LINE).slice(1).map((chunk) => deltaOf(chunk).content)
        .join(""),
      Array.from({ length: 2000 }, (_, index) => `piece ${index}`).join(""),
    );
  });
});

describe("ChatStreamTranslator billing", () => {
  function billed(body: Uint8Array) {
    return parseBilledUsage({
      requestId: "r",
      statusCode: 200,
      headers: { "content-type": "text/event-stream" },
      body,
    });
  }

  const USAGE = {
    input_tokens: 321,
    input_tokens_details: { cached_tokens: 300 },
    output_tokens: 45,
  };

  it("bills the backend's usage from billingBody without include_usage", async () => {
    const upstream = await upstreamBytes({
      kind: "text",
      text: "Hi",
      usage: USAGE,
    });
    const { outputs, translator, text } = translate(upstream);
    assert.equal(billed(concat(outputs)), undefined, "the buyer got no usage");
    assert.ok(!text.includes('"usage"'));
    const body = translator.billingBody();
    assert.deepEqual(billed(body), { input: 321, output: 45, cached: 300 });
    assert.deepEqual(billed(upstream), billed(body));
  });

  it("bills the same usage chunk the buyer got with include_usage", async () => {
    const upstream = await upstreamBytes({
      kind: "text",
      text: "Hi",
      usage: USAGE,
    });
    const { outputs, translator, text } = translate(upstream, {
      includeUsage: true,
    });
    const body = translator.billingBody();
    const usage = { input: 321, output: 45, cached: 300 };
    assert.deepEqual(billed(concat(outputs)), usage);
    assert.deepEqual(billed(body), usage);
    assert.ok(text.includes(decoder.decode(body)), "the buyer got that chunk");
  });

  it("exposes the usage it saw, in both forms", async () => {
    const upstream = await upstreamBytes({
      kind: "text",
      text: "Hi",
      usage: USAGE,
    });
    const { translator } = translate(upstream);
    assert.equal(translator.usage?.input_tokens, 321);
    assert.equal(
      translator.chatUsage?.prompt_tokens_details.cached_tokens,
      300,
    );
    assert.equal(translator.terminal, "response.completed");
    assert.match(String(translator.responseId), /^resp_/);
  });

  it("bills as the node does: per field the largest of any data line, [DONE] skipped", () => {
    const body = encoder.encode(
      'data: {"usage":{"prompt_tokens":5,"completion_tokens":9}}\n\n' +
        'data: {"usage":{"prompt_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":3}}}\n\n' +
        "data: [DONE]\n\n",
    );
    assert.deepEqual(billed(body), { input: 7, output: 9, cached: 3 });
  });

  it("translates the same answer again into the same bytes, a minute later", () => {
    // No created_at from the backend: the chunks' `created` is the clock's.
    const bytes = encoder.encode(
      'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_a"}}\n\n' +
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","output_index":0,"delta":"Hi"}\n\n',
    );
    const now = Date.now;
    try {
      Date.now = () => 1_800_000_000_000;
      const first = new ChatStreamTranslator({
        model: "m",
        includeUsage: true,
      });
      const once = decoder.decode(concat([first.push(bytes), first.finish()]));
      Date.now = () => 1_800_000_060_000;
      const again = first.again();
      const twice = decoder.decode(concat([again.push(bytes), again.finish()]));
      assert.equal(twice, once);
      assert.match(once, /"created":1800000000,/);
    } finally {
      Date.now = now;
    }
  });

  it("has no billing body when the backend reported no usage", async () => {
    const upstream = await upstreamBytes({ kind: "no_terminal" });
    assert.equal(translate(upstream).translator.billingBody().length, 0);
  });
});
