// The node:http adapter of `serve` against a client that stops reading its
// answer: the adapter waits for the socket to drain only as long as a body
// may pause (`bodyTimeoutMs`), then drops the connection and cancels the
// answer, so that a client that never reads holds neither a connection nor
// the answer's bytes for ever.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { serveWithNodeHttp } from "../src/serve/node.ts";

const CHUNK = new Uint8Array(64 * 1024).fill(0x61);

describe("serve: a client that does not read its answer", () => {
  it("is dropped after bodyTimeoutMs without a drain, and the answer's body is cancelled", async () => {
    let produced = 0;
    let cancelled = false;
    const server = await serveWithNodeHttp(
      () =>
        Promise.resolve(
          new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                // An answer far larger than the socket buffers: 256 MiB.
                if (produced >= 4096) return controller.close();
                produced++;
                controller.enqueue(CHUNK);
              },
              cancel() {
                cancelled = true;
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
        ),
      { hostname: "127.0.0.1", port: 0, bodyTimeoutMs: 300 },
    );
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    let received = 0;
    const closed = new Promise<void>((done) => socket.on("close", done));
    await new Promise<void>((done) => socket.once("connect", done));
    // Does not read: the answer fills the socket's buffers and stops there.
    socket.pause();
    socket.write(
      `GET /events HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\n\r\n`,
    );
    for (let wait = 0; wait < 100 && !cancelled; wait++) {
      await new Promise((done) => setTimeout(done, 20));
    }
    const cancelledWhilePaused = cancelled;
    // Reading again, the client gets what was already sent, then the end.
    socket.on("data", (chunk: Uint8Array) => {
      received += chunk.byteLength;
    });
    socket.resume();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((done) => {
      timer = setTimeout(done, 10_000, "late");
    });
    const outcome = await Promise.race([closed.then(() => "closed"), late]);
    clearTimeout(timer);
    socket.destroy();
    await server.close(100);
    assert.ok(
      cancelledWhilePaused,
      "the answer of a client that stopped reading was not cancelled",
    );
    assert.equal(outcome, "closed");
    assert.ok(
      received < 4096 * CHUNK.byteLength,
      `the client got the whole answer (${received} bytes)`,
    );
    assert.ok(
      produced < 4096,
      `the whole answer was produced (${produced} chunks)`,
    );
  });
});
