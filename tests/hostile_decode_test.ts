// Hostile buyers against the decoding of request bodies (issue 19): one test
// per defect, each driving the provider with the simulated backend, as a
// stranger on the network would.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { watchEventLoop } from "./fixtures/event_loop.ts";
import { EMPTY_FRAME, repeat } from "./fixtures/zstd_frames.ts";

const MiB = 1024 * 1024;
const TOKEN = makeAccessToken({ accountId: "acct_hostile_decode" });
let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

describe("hostile bodies to decode", () => {
  // The bench (`deno task bench:hostile`) holds the figures of the issue
  // (answered within 1 s, the loop never held for 100 ms; before: 9 to 28 s
  // and as long a hold). These bounds are looser, so that a loaded machine
  // (a CI runner, the mutation check) does not fail the test, and still far
  // from the code before.
  it("defect 2: a body of empty zstd frames is refused within 3 s, with its code, and does not hold the event loop for half a second", async () => {
    const provider = createProvider({
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { tokenSource: fixedTokens("acct_hostile_decode", TOKEN) });
    // 3.6 MB as reported (400,000 frames), and 31.8 MiB, under the default
    // 32 MiB body limit.
    for (const count of [400_000, Math.floor(31.8 * MiB / 9)]) {
      const body = repeat(EMPTY_FRAME, count);
      // The node cannot read the model of a compressed body: routing is off,
      // so that the provider itself gets it.
      backend.reset();
      const watch = watchEventLoop();
      const start = performance.now();
      const answer = await callProvider(provider, {
        headers: {
          "content-type": "application/json",
          "content-encoding": "zstd",
        },
        body,
      }, { skipRouting: true });
      const ms = performance.now() - start;
      const delay = watch.stop().longestMs;
      const size = `${body.byteLength} bytes`;
      assert.ok(ms < 3000, `${size}: answered after ${Math.round(ms)} ms`);
      assert.ok(
        delay < 500,
        `${size}: the event loop waited ${Math.round(delay)} ms`,
      );
      assert.equal(answer.status, 400, `${size}: ${answer.text}`);
      const error = JSON.parse(answer.text).error;
      assert.equal(error.code, "invalid_body_encoding", size);
      assert.equal(error.type, "invalid_request_error", size);
      assert.match(error.message, /at most 128 frames/, size);
      assert.equal(backend.requests.length, 0, "nothing went upstream");
    }
  });
});
