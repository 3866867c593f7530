/**
 * Codex-style SSE answers for the benchmarks, built once as bytes: the same
 * event sequence and field layout as the real backend's text answers
 * (`response.created` ... `response.output_text.delta` x N ...
 * `response.completed` with usage), so that the relay's parser does the work
 * it does in production.
 *
 * @module
 */

const encoder = new TextEncoder();

/** One framed SSE answer. */
export interface SseAnswer {
  /** Complete frames, `event: <type>\ndata: <json>\n\n` each. */
  frames: string[];
  /** All frames as one byte string. */
  bytes: Uint8Array;
}

function frame(type: string, sequence: number, fields: object): string {
  const data = JSON.stringify({ type, sequence_number: sequence, ...fields });
  return `event: ${type}\ndata: ${data}\n\n`;
}

/**
 * A text answer with `deltas` `response.output_text.delta` events carrying
 * `deltaText` each, framed like the real backend's (about 175 bytes per
 * delta event with a 4-character delta).
 *
 * @example
 * ```ts
 * import { textAnswer } from "./frames.ts";
 * const answer = textAnswer(3, "Hi! ");
 * console.log(answer.frames.length); // 11
 * ```
 */
export function textAnswer(deltas: number, deltaText: string): SseAnswer {
  const id = "resp_bench_0001";
  const itemId = "msg_bench_0001";
  const base = {
    id,
    object: "response",
    created_at: 1767225600,
    model: "gpt-5.4",
    output: [] as unknown[],
    parallel_tool_calls: true,
    store: false,
    tool_choice: "auto",
    tools: [],
  };
  const text = deltaText.repeat(deltas);
  const message = {
    id: itemId,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", annotations: [], logprobs: [], text }],
  };
  const frames: string[] = [];
  let sequence = 0;
  frames.push(
    frame("response.created", sequence++, {
      response: { ...base, status: "in_progress" },
    }),
  );
  frames.push(
    frame("response.in_progress", sequence++, {
      response: { ...base, status: "in_progress" },
    }),
  );
  frames.push(
    frame("response.output_item.added", sequence++, {
      output_index: 0,
      item: { ...message, status: "in_progress", content: [] },
    }),
  );
  frames.push(
    frame("response.content_part.added", sequence++, {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", annotations: [], logprobs: [], text: "" },
    }),
  );
  for (let index = 0; index < deltas; index++) {
    frames.push(
      frame("response.output_text.delta", sequence++, {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta: deltaText,
      }),
    );
  }
  frames.push(
    frame("response.output_text.done", sequence++, {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      text,
      logprobs: [],
    }),
  );
  frames.push(
    frame("response.content_part.done", sequence++, {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: message.content[0],
    }),
  );
  frames.push(
    frame("response.output_item.done", sequence++, {
      output_index: 0,
      item: message,
    }),
  );
  frames.push(
    frame("response.completed", sequence++, {
      response: {
        ...base,
        status: "completed",
        output: [message],
        usage: {
          input_tokens: 24,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: deltas,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 24 + deltas,
        },
      },
    }),
  );
  return { frames, bytes: encoder.encode(frames.join("")) };
}

/**
 * Splits an answer's frames into writes of about `writeBytes` bytes each,
 * never inside a frame (a frame larger than `writeBytes` is one write).
 *
 * @example
 * ```ts
 * import { batchFrames, textAnswer } from "./frames.ts";
 * const writes = batchFrames(textAnswer(100, "abcd").frames, 4096);
 * ```
 */
export function batchFrames(
  frames: readonly string[],
  writeBytes: number,
): Uint8Array[] {
  const writes: Uint8Array[] = [];
  let pending = "";
  for (const text of frames) {
    if (pending.length > 0 && pending.length + text.length > writeBytes) {
      writes.push(encoder.encode(pending));
      pending = "";
    }
    pending += text;
  }
  if (pending.length > 0) writes.push(encoder.encode(pending));
  return writes;
}
