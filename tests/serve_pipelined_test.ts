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

  it("close() drops a refused CONNECT whose client keeps its side open", async () => {
    const server = await serveWithNodeHttp(
      () => Promise.resolve(new Response("ok")),
      { hostname: "127.0.0.1", port: 0, headersTimeoutMs: 5_000 },
    );
    const socket = connect({
      port: server.port,
      host: "127.0.0.1",
      allowHalfOpen: true,
    });
    socket.on("error", () => {});
    let answer = "";
    socket.on("data", (data) => answer += data);
    const ended = new Promise<void>((done) => socket.once("end", done));
    socket.write("CONNECT 127.0.0.1:1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\r\n");
    for (let wait = 0; wait < 100 && !answer.includes("405"); wait++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    assert.match(answer, /^HTTP\/1\.1 405 /);
    const started = performance.now();
    await server.close(0);
    const closeMs = performance.now() - started;
    await ended;
    socket.destroy();
    // Before, close() waited for the refusal's own timeout (5 s here).
    assert.ok(closeMs < 1_000, `close() waited ${closeMs.toFixed(0)} ms`);
  });
});
