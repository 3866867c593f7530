// An upstream redirect is not followed. To be able to follow one, Node's
// fetch (undici) keeps a clone of every request, its body stream teed, for as
// long as the answer streams: 8 KiB of heap per open stream
// (BENCHMARKS.md, "What an open stream holds on Node"). A fetch told
// `redirect: "error"` keeps none. The backend answers its one URL itself; a
// redirect is an answer the relay does not use, and does not ask again for
// (a wrong OPENAI_RESPONSES_BASE_URL): 502 at once, saying why.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createProvider } from "../src/provider/provider.ts";
import { openUpstream } from "../src/relay.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { Watchdog } from "../src/watchdog.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const SERVICE = "gpt-5.4";
const BODY = { model: SERVICE, input: "hi", stream: true };

const COMPLETED =
  'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_moved","output":[]}}\n\n';

describe("an upstream redirect", () => {
  it("is not followed: the exchange asks its fetch for redirect: error", async () => {
    const inits: RequestInit[] = [];
    const recording = ((_input: RequestInfo | URL, init?: RequestInit) => {
      if (init) inits.push(init);
      return Promise.resolve(
        new Response(COMPLETED, {
          headers: { "content-type": "text/event-stream" },
        }),
      );
    }) as typeof fetch;
    const watchdog = new Watchdog();
    const upstream = await openUpstream(
      { body: JSON.stringify(BODY), sessionId: "session-1" },
      {
        responsesUrl: "http://127.0.0.1:9/backend-api/codex/responses",
        requestTimeoutMs: 60_000,
        idleTimeoutMs: 60_000,
        watchdog,
        tokens: fixedTokens(ACCOUNT, TOKEN),
        fetch: recording,
      },
    );
    await upstream.body?.cancel();
    upstream.release();
    assert.equal(inits.length, 1);
    assert.equal(inits[0].redirect, "error");
    assert.ok(inits[0].signal instanceof AbortSignal);
  });

  describe("from a backend that moved", () => {
    let server: Server;
    let baseUrl = "";
    let posts = 0;
    let movedPosts = 0;
    let resets = 0;

    before(async () => {
      server = createServer((request, response) => {
        request.resume();
        if (request.method !== "POST") {
          response.writeHead(404).end();
          return;
        }
        if (request.url?.startsWith("/redirect/reset/")) {
          resets++;
          request.socket.destroy();
          return;
        }
        if (request.url?.startsWith("/moved/")) {
          movedPosts++;
          response.writeHead(200, { "content-type": "text/event-stream" });
          response.end(COMPLETED);
          return;
        }
        posts++;
        response.writeHead(307, { location: "/moved/codex/responses" });
        response.end();
      });
      await new Promise<void>((resolve) =>
        server.listen(0, "127.0.0.1", resolve)
      );
      const { port } = server.address() as AddressInfo;
      baseUrl = `http://127.0.0.1:${port}/backend-api`;
    });

    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("is answered 502 upstream_unreachable at once, saying so; the new place is never asked", async () => {
      const provider = createProvider({
        OPENAI_RESPONSES_BASE_URL: baseUrl,
        ANTSEED_ALLOWED_SERVICES: SERVICE,
      }, {
        tokenSource: fixedTokens(ACCOUNT, TOKEN),
        random: () => 0,
      });
      const result = await callProvider(provider, { body: BODY });
      assert.equal(result.status, 502);
      const { error } = JSON.parse(result.text);
      assert.equal(error.code, "upstream_unreachable");
      assert.match(error.message, /redirect, which is not followed/);
      // Not retried: the same URL answers the same way.
      assert.equal(posts, 1);
      assert.equal(movedPosts, 0);
      assert.equal(provider.getCapacity().current, 0);
    });

    it("is told from a network error by the runtime's words, not by a URL that says redirect", async () => {
      // A connection reset at a base URL whose path says "redirect": Deno
      // puts the URL in the error's message. Still retried as a network
      // error.
      const provider = createProvider({
        OPENAI_RESPONSES_BASE_URL: baseUrl.replace(
          "/backend-api",
          "/redirect/reset",
        ),
        ANTSEED_ALLOWED_SERVICES: SERVICE,
      }, {
        tokenSource: fixedTokens(ACCOUNT, TOKEN),
        random: () => 0,
      });
      resets = 0;
      const result = await callProvider(provider, { body: BODY });
      assert.equal(result.status, 502);
      const { error } = JSON.parse(result.text);
      assert.equal(error.code, "upstream_unreachable");
      assert.equal(error.message, "The upstream could not be reached");
      // The first attempt and its three retries (Deno's fetch may try a
      // reused connection once more by itself).
      assert.ok(resets >= 4, `${resets} attempts`);
    });
  });
});
