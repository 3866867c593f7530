// The node:http adapter of `serve` against pipelined requests whose client
// goes away: node:http (Node, and Deno's) emits `close` only on the first
// queued answer, so the adapter also watches the connection. Before, the
// requests queued behind the first were never told that their client had
// gone (their upstream exchanges ran to their end) and were counted in
// flight for ever (`close()` then always waited its whole grace).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { serveWithNodeHttp } from "../src/serve/node.ts";

describe("serve: pipelined requests whose client goes away", () => {
  it("abort every request's signal, and none stays in flight", async () => {
    let aborted = 0;
    let handled = 0;
    const server = await serveWithNodeHttp(
      (request) => {
        handled++;
        return new Promise<Response>((resolve) => {
          const timer = setTimeout(() => resolve(new Response("late")), 5_000);
          request.signal.addEventListener("abort", () => {
            aborted++;
            clearTimeout(timer);
            resolve(new Response("gone"));
          }, { once: true });
        });
      },
      { hostname: "127.0.0.1", port: 0 },
    );
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise<void>((done) => socket.once("connect", done));
    const get = (path: string) =>
      `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\n\r\n`;
    socket.write(get("/a") + get("/b") + get("/c"));
    for (let wait = 0; wait < 100 && handled < 3; wait++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    socket.destroy();
    for (let wait = 0; wait < 100 && aborted < 3; wait++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    const started = performance.now();
    await server.close(3_000);
    const closeMs = performance.now() - started;
    assert.equal(handled, 3);
    assert.equal(
      aborted,
      3,
      "a queued request was not told its client had gone",
    );
    assert.ok(closeMs < 1_000, `close() waited ${closeMs.toFixed(0)} ms`);
  });
});
