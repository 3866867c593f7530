// An upstream body must outlive the garbage collector between the answer's
// headers and its first read. Node's fetch (undici) cancels the body of a
// Response that the collector takes while the body is not locked; the relay
// kept only the body, and on Node about one run in ten of the Chat
// Completions tests got an empty answer (502 upstream_stream_incomplete)
// after the lazy import of the translation. The exchange now holds the
// Response until the body is locked.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { aggregateToResponse, openUpstream } from "../src/relay.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { Watchdog } from "../src/watchdog.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });

let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

/** A full collection, where the runtime lets a test ask for one (Node); else undefined. */
function collector(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc");
    return typeof gc === "function" ? gc as () => void : undefined;
  } catch {
    return undefined;
  }
}

describe("an upstream answer between its headers and its first read", () => {
  it("keeps the Response until its body is locked, and reads the whole answer after collections", async () => {
    backend.enqueue({ kind: "text", text: "Hello after the collector" });
    let returned: Response | undefined;
    const watchdog = new Watchdog();
    const upstream = await openUpstream(
      {
        body: JSON.stringify({
          model: "gpt-5.4",
          instructions: "Be brief.",
          input: "hi",
          stream: true,
          store: false,
        }),
        sessionId: "session-gc",
      },
      {
        responsesUrl: `${backend.baseUrl}/codex/responses`,
        requestTimeoutMs: 10_000,
        idleTimeoutMs: 10_000,
        watchdog,
        tokens: fixedTokens(ACCOUNT, TOKEN),
        fetch: async (url, init) => (returned = await fetch(url, init)),
      },
    );
    assert.ok(returned);
    assert.equal(upstream.response, returned, "held until the body is read");
    returned = undefined;
    // What a wait before the read allows (the hold, a lazy import): the
    // collector, and the finalizers it schedules.
    const gc = collector();
    for (let round = 0; round < 3; round++) {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const outcome = await aggregateToResponse(upstream, "req-gc", {
      idleTimeoutMs: 10_000,
    });
    const text = new TextDecoder().decode(outcome.response.body);
    assert.equal(outcome.response.statusCode, 200, text);
    assert.ok(text.includes("Hello after the collector"), text);
    assert.equal(
      upstream.response,
      undefined,
      "let go once the body is locked",
    );
  });
});
