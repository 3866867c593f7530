import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AggregateResult,
  ResponseAggregator,
  TERMINAL_EVENTS,
  wantsEvent,
} from "../src/codex/aggregate.ts";
import { DEFAULT_USAGE_LIMIT_MS } from "../src/codex/errors.ts";
import { buildUpstreamHeaders, shapeRequest } from "../src/codex/request.ts";
import { SseParser } from "../src/codex/sse.ts";
import type { RelayError } from "../src/errors.ts";
import {
  type FakeBehaviour,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";

type Json = Record<string, unknown>;

let sequence = 0;

/** Feeds events as the parser would hand them over: named, with JSON data. */
function feed(
  aggregator: ResponseAggregator,
  ...events: Array<[string, Json | string]>
): ResponseAggregator {
  for (const [event, data] of events) {
    aggregator.handle(
      event,
      typeof data === "string" ? data : JSON.stringify(data),
    );
  }
  return aggregator;
}

function event(type: string, fields: Json = {}): [string, Json] {
  return [type, { type, sequence_number: sequence++, ...fields }];
}

function itemDone(index: number | undefined, item: Json): [string, Json] {
  return event("response.output_item.done", { output_index: index, item });
}

function completed(response: Json): [string, Json] {
  return event("response.completed", { response });
}

function responseOf(result: AggregateResult): Json {
  assert.equal(result.kind, "response", JSON.stringify(result));
  return (result as { response: Json }).response;
}

function errorOf(result: AggregateResult): RelayError {
  assert.equal(result.kind, "error", JSON.stringify(result));
  return (result as { error: RelayError }).error;
}

const USAGE = {
  input_tokens: 10,
  input_tokens_details: { cached_tokens: 2 },
  output_tokens: 5,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 15,
};

describe("wantsEvent", () => {
  it("lists exactly the four terminal events", () => {
    assert.deepEqual([...TERMINAL_EVENTS].sort(), [
      "error",
      "response.completed",
      "response.failed",
      "response.incomplete",
    ]);
  });

  it("wants terminal events, output items, response.created and unnamed events", () => {
    for (
      const name of [
        ...TERMINAL_EVENTS,
        "response.output_item.done",
        "response.created",
        "message",
      ]
    ) {
      assert.equal(wantsEvent(name), true, name);
    }
  });

  it("does not want deltas and other progress events", () => {
    for (
      const name of [
        "response.output_text.delta",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
      ]
    ) {
      assert.equal(wantsEvent(name), false, name);
    }
  });
});

describe("ResponseAggregator completed", () => {
  it("returns the completed response with its output", () => {
    const output = [{ type: "message", id: "msg_1" }];
    const aggregator = feed(
      new ResponseAggregator(),
      completed({ id: "resp_1", status: "completed", output, usage: USAGE }),
    );
    assert.deepEqual(responseOf(aggregator.result()), {
      id: "resp_1",
      status: "completed",
      output,
      usage: USAGE,
    });
    assert.equal(aggregator.terminal, "response.completed");
  });

  it("keeps a non-empty output rather than rebuilding it", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(0, { id: "streamed" }),
      completed({ status: "completed", output: [{ id: "final" }] }),
    );
    const first = responseOf(aggregator.result());
    assert.deepEqual(first.output, [{ id: "final" }]);
    (first.output as unknown[]).push("junk");
    assert.deepEqual(responseOf(aggregator.result()).output, [{ id: "final" }]);
  });

  it("rebuilds an empty output from the done items ordered by output_index", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(1, { id: "msg" }),
      itemDone(0, { id: "rs" }),
      itemDone(2, { id: "fc" }),
      completed({ status: "completed", output: [] }),
    );
    assert.deepEqual(responseOf(aggregator.result()).output, [
      { id: "rs" },
      { id: "msg" },
      { id: "fc" },
    ]);
  });

  it("rebuilds a missing output", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(0, { id: "a" }),
      completed({ status: "completed" }),
    );
    assert.deepEqual(responseOf(aggregator.result()).output, [{ id: "a" }]);
  });

  it("keeps the last item of a repeated output_index and appends unindexed items", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(undefined, { id: "loose" }),
      itemDone(0, { id: "first" }),
      itemDone(0, { id: "second" }),
      completed({ status: "completed", output: [] }),
    );
    assert.deepEqual(responseOf(aggregator.result()).output, [
      { id: "second" },
      { id: "loose" },
    ]);
  });

  it("sets status completed when the response has none", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      completed({ output: [] }),
    );
    assert.equal(responseOf(aggregator.result()).status, "completed");
  });

  it("exposes the usage of the terminal response", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      completed({ status: "completed", usage: USAGE }),
    );
    assert.deepEqual(aggregator.usage, USAGE);
  });

  it("has no usage before a terminal event", () => {
    const aggregator = feed(new ResponseAggregator(), itemDone(0, {}));
    assert.equal(aggregator.usage, undefined);
  });

  it("does not let a later result call see changes to an earlier result", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(0, { id: "a" }),
      completed({ status: "completed", output: [] }),
    );
    const first = responseOf(aggregator.result());
    (first.output as unknown[]).push("junk");
    first.status = "changed";
    const second = responseOf(aggregator.result());
    assert.deepEqual(second.output, [{ id: "a" }]);
    assert.equal(second.status, "completed");
  });
});

describe("ResponseAggregator incomplete", () => {
  it("returns the response with status incomplete and a rebuilt output", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      itemDone(0, { id: "msg" }),
      event("response.incomplete", {
        response: {
          id: "resp_2",
          status: "in_progress",
          output: [],
          incomplete_details: { reason: "max_output_tokens" },
          usage: USAGE,
        },
      }),
    );
    const response = responseOf(aggregator.result());
    assert.equal(response.status, "incomplete");
    assert.deepEqual(response.output, [{ id: "msg" }]);
    assert.deepEqual(response.incomplete_details, {
      reason: "max_output_tokens",
    });
    assert.equal(aggregator.terminal, "response.incomplete");
    assert.deepEqual(aggregator.usage, USAGE);
  });
});

describe("ResponseAggregator failures", () => {
  function failed(code: string | undefined, message?: string): RelayError {
    const error = code === undefined ? undefined : { code, message };
    const aggregator = feed(
      new ResponseAggregator(),
      event("response.failed", {
        response: { id: "resp_3", status: "failed", error },
      }),
    );
    assert.equal(aggregator.terminal, "response.failed");
    return errorOf(aggregator.result());
  }

  it("maps context_length_exceeded and invalid_prompt to 400 with the upstream code and message", () => {
    for (const code of ["context_length_exceeded", "invalid_prompt"]) {
      const error = failed(code, "Your input is too long");
      assert.equal(error.status, 400, code);
      assert.equal(error.code, code);
      assert.equal(error.message, "Your input is too long");
    }
  });

  it("maps quota and rate-limit codes to 429", () => {
    for (
      const code of [
        "insufficient_quota",
        "usage_limit_reached",
        "rate_limit_exceeded",
      ]
    ) {
      const error = failed(code, "Limited");
      assert.equal(error.status, 429, code);
      assert.equal(error.code, code);
    }
  });

  it("maps usage_not_included to 503 usage_not_included", () => {
    const error = failed("usage_not_included", "No Codex");
    assert.equal(error.status, 503);
    assert.equal(error.code, "usage_not_included");
  });

  it("maps server_is_overloaded to 503", () => {
    const error = failed("server_is_overloaded", "Busy");
    assert.equal(error.status, 503);
    assert.equal(error.code, "server_is_overloaded");
  });

  it("maps another code to 502 keeping the code", () => {
    const error = failed("server_error", "Oops");
    assert.equal(error.status, 502);
    assert.equal(error.code, "server_error");
  });

  it("maps a failure without an error object to 502 upstream_failed", () => {
    const error = failed(undefined);
    assert.equal(error.status, 502);
    assert.equal(error.code, "upstream_failed");
  });

  it("reads a flat error event", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("error", {
        code: "context_length_exceeded",
        message: "Too long",
        param: null,
      }),
    );
    const error = errorOf(aggregator.result());
    assert.equal(error.status, 400);
    assert.equal(error.code, "context_length_exceeded");
    assert.equal(error.message, "Too long");
    assert.equal(aggregator.terminal, "error");
  });

  it("reads an error event with a nested error object", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("error", {
        error: {
          type: "invalid_request_error",
          code: "rate_limit_exceeded",
          message: "Slow down",
        },
      }),
    );
    const error = errorOf(aggregator.result());
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limit_exceeded");
    assert.equal(error.message, "Slow down");
  });

  it("takes the code of a nested error from its type when it has no code", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("error", {
        error: { type: "usage_not_included", message: "No Codex" },
      }),
    );
    assert.equal(errorOf(aggregator.result()).code, "usage_not_included");
  });

  it("turns a usage_limit_reached error event with resets_at into the usage-limit error", () => {
    const now = Date.UTC(2026, 0, 1);
    const aggregator = feed(
      new ResponseAggregator({ now: () => now }),
      event("error", {
        error: {
          type: "usage_limit_reached",
          message: "The usage limit has been reached",
          resets_at: now / 1000 + 600,
        },
      }),
    );
    const error = errorOf(aggregator.result());
    assert.equal(error.status, 429);
    assert.equal(error.code, "usage_limit_reached");
    assert.equal(error.headers["retry-after"], "600");
    assert.equal(error.details.resets_at, now / 1000 + 600);
  });

  it("reports the usage limit of a usage_limit_reached error event, reset at resets_at", () => {
    const now = Date.UTC(2026, 0, 1);
    const result = feed(
      new ResponseAggregator({ now: () => now }),
      event("error", {
        status_code: 429,
        error: {
          type: "usage_limit_reached",
          resets_at: now / 1000 + 600,
          resets_in_seconds: 9999,
        },
      }),
    ).result();
    assert.equal(result.kind, "error");
    assert.deepEqual(
      result.kind === "error" && result.usageLimit,
      { resetsAt: now + 600_000 },
    );
  });

  it("resets a usage_limit_reached error event without resets_at after resets_in_seconds, else the default", () => {
    const now = Date.UTC(2026, 0, 1);
    const limits = [{ resets_in_seconds: 90 }, {}].map((resets) => {
      const result = feed(
        new ResponseAggregator({ now: () => now }),
        event("error", { error: { type: "usage_limit_reached", ...resets } }),
      ).result();
      const error = errorOf(result);
      assert.equal(error.status, 429);
      assert.equal(error.code, "usage_limit_reached");
      return [
        result.kind === "error" && result.usageLimit,
        error.headers["retry-after"],
      ];
    });
    assert.deepEqual(limits, [
      [{ resetsAt: now + 90_000 }, "90"],
      [
        { resetsAt: now + DEFAULT_USAGE_LIMIT_MS },
        String(DEFAULT_USAGE_LIMIT_MS / 1000),
      ],
    ]);
  });

  it("turns a response.failed usage_limit_reached into the usage-limit error and its reset", () => {
    const now = Date.UTC(2026, 0, 1);
    const results = [{ resets_in_seconds: 120 }, {}].map((resets) =>
      feed(
        new ResponseAggregator({ now: () => now }),
        event("response.failed", {
          response: {
            status: "failed",
            error: { code: "usage_limit_reached", message: "Limit", ...resets },
          },
        }),
      ).result()
    );
    const [withReset, without] = results.map(errorOf);
    assert.equal(withReset.code, "usage_limit_reached");
    assert.equal(withReset.headers["retry-after"], "120");
    assert.equal(without.status, 429);
    assert.equal(
      without.headers["retry-after"],
      String(DEFAULT_USAGE_LIMIT_MS / 1000),
    );
    assert.deepEqual(
      results.map((result) => result.kind === "error" && result.usageLimit),
      [{ resetsAt: now + 120_000 }, { resetsAt: now + DEFAULT_USAGE_LIMIT_MS }],
    );
  });

  it("reports no usage limit for a burst rate_limit_exceeded or another failure", () => {
    const results = [
      event("response.failed", {
        response: {
          error: {
            code: "rate_limit_exceeded",
            message: "Please try again in 2s.",
          },
        },
      }),
      event("error", { code: "rate_limit_exceeded", message: "Slow down" }),
      event("response.failed", {
        response: { error: { code: "insufficient_quota" } },
      }),
    ].map((terminal) => feed(new ResponseAggregator(), terminal).result());
    for (const result of results) {
      assert.equal(errorOf(result).status, 429);
      assert.equal(result.kind === "error" && result.usageLimit, undefined);
    }
  });

  it("gives a 502 upstream_bad_event for a terminal event with bad JSON", () => {
    const aggregator = feed(new ResponseAggregator(), [
      "response.completed",
      "{not json",
    ]);
    assert.equal(aggregator.terminal, "response.completed");
    const error = errorOf(aggregator.result());
    assert.equal(error.status, 502);
    assert.equal(error.code, "upstream_bad_event");
  });

  it("gives a 502 upstream_bad_event for a completed event without a response", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("response.completed"),
    );
    assert.equal(errorOf(aggregator.result()).code, "upstream_bad_event");
  });
});

describe("ResponseAggregator state", () => {
  it("reports missing before any terminal event", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("response.created", { response: { id: "resp_x" } }),
      itemDone(0, {}),
    );
    assert.deepEqual(aggregator.result(), { kind: "missing" });
    assert.equal(aggregator.terminal, undefined);
  });

  it("ignores bad JSON in a non-terminal event", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      ["response.output_item.done", "{oops"],
      completed({ status: "completed", output: [] }),
    );
    assert.deepEqual(responseOf(aggregator.result()).output, []);
  });

  it("takes the type of an unnamed event from its JSON type", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      [
        "message",
        {
          type: "response.output_item.done",
          sequence_number: 3,
          output_index: 0,
          item: { id: "m" },
        },
      ],
      [
        "message",
        {
          type: "response.completed",
          sequence_number: 4,
          response: { status: "completed", output: [], usage: USAGE },
        },
      ],
    );
    assert.equal(aggregator.terminal, "response.completed");
    assert.deepEqual(responseOf(aggregator.result()).output, [{ id: "m" }]);
    assert.deepEqual(aggregator.usage, USAGE);
  });

  it("ignores an unnamed event without a JSON type", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      ["message", { response: { status: "completed" } }],
      ["message", "[DONE]"],
    );
    assert.equal(aggregator.terminal, undefined);
    assert.equal(aggregator.lastSequenceNumber, undefined);
  });

  it("tracks the highest sequence number of the handled events", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      ["response.created", { sequence_number: 0, response: { id: "r" } }],
      ["response.output_item.done", { sequence_number: 9, item: {} }],
      ["response.output_item.done", { sequence_number: 4, item: {} }],
    );
    assert.equal(aggregator.lastSequenceNumber, 9);
  });

  it("reads the response id from response.created", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("response.created", { response: { id: "resp_created" } }),
    );
    assert.equal(aggregator.responseId, "resp_created");
  });

  it("reads the response id from the terminal event without response.created", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      event("response.failed", { response: { id: "resp_t", error: null } }),
    );
    assert.equal(aggregator.responseId, "resp_t");
  });

  it("ignores events after the first terminal event", () => {
    const aggregator = feed(
      new ResponseAggregator(),
      completed({ id: "first", status: "completed", output: [{ id: "x" }] }),
      event("error", { code: "server_error", message: "late" }),
      completed({ id: "second", status: "completed", output: [] }),
    );
    assert.equal(aggregator.terminal, "response.completed");
    assert.equal(responseOf(aggregator.result()).id, "first");
  });
});

describe("ResponseAggregator with the SSE parser and the simulated backend", () => {
  async function exchange(
    behaviour: FakeBehaviour,
    chunkBytes?: number,
  ): Promise<{ aggregator: ResponseAggregator; parser: SseParser }> {
    const backend = await startFakeCodexBackend({ rateLimitHeaders: false });
    try {
      backend.enqueue(behaviour);
      const shaped = shapeRequest(
        {
          model: "gpt-5.4",
          input: [
            { role: "system", content: "Be brief" },
            { role: "user", content: "Hello" },
          ],
          reasoning: { effort: "low" },
          temperature: 0.5,
        },
        { defaultInstructions: "D", aliasMap: {}, allowedServices: [] },
      );
      const response = await fetch(backend.responsesUrl, {
        method: "POST",
        headers: buildUpstreamHeaders(
          { accessToken: makeAccessToken(), accountId: "acct_test" },
          crypto.randomUUID(),
        ),
        body: JSON.stringify(shaped.body),
      });
      assert.equal(response.status, 200, await response.clone().text());
      const aggregator = new ResponseAggregator();
      const parser = new SseParser(
        (name, data) => aggregator.handle(name, data),
        { wants: wantsEvent },
      );
      const bytes = new Uint8Array(await response.arrayBuffer());
      const size = chunkBytes ?? bytes.length;
      for (let offset = 0; offset < bytes.length; offset += size) {
        parser.push(bytes.subarray(offset, offset + size));
      }
      parser.finish();
      return { aggregator, parser };
    } finally {
      await backend.close();
    }
  }

  it("aggregates a text answer whose completed output is empty", async () => {
    const { aggregator, parser } = await exchange(
      { kind: "text", text: "Hi there 🌍", emptyCompletedOutput: true },
      7,
    );
    const response = responseOf(aggregator.result());
    assert.equal(response.status, "completed");
    const output = response.output as Json[];
    assert.deepEqual(output.map((item) => item.type), ["reasoning", "message"]);
    const content = output[1].content as Json[];
    assert.equal(content[0].text, "Hi there 🌍");
    assert.equal(typeof aggregator.usage?.input_tokens, "number");
    assert.equal(aggregator.lastSequenceNumber, parser.eventCount - 1);
    assert.equal(parser.pendingBytes, 0);
  });

  it("aggregates a response.failed answer into its error", async () => {
    const { aggregator } = await exchange({
      kind: "failed",
      code: "context_length_exceeded",
    });
    const error = errorOf(aggregator.result());
    assert.equal(error.status, 400);
    assert.equal(error.code, "context_length_exceeded");
  });

  it("reports missing for a stream without a terminal event", async () => {
    const { aggregator } = await exchange({ kind: "no_terminal" }, 13);
    assert.deepEqual(aggregator.result(), { kind: "missing" });
  });
});
