/**
 * decodeThroughZlib against a scripted stream: what a decoder emits after
 * decoding stopped (Node's zlib may have output ready when it is destroyed)
 * is never looked at, and nothing of it escapes to the event loop.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Pacer } from "../src/async.ts";
import { decodeThroughZlib } from "../src/codex/_zlib_stream.ts";

/** Echoes every written slice as output; records what is asked of it. */
class ScriptedStream extends EventEmitter {
  writes = 0;
  destroyed = false;
  ended = false;

  write(chunk: Uint8Array, callback: (error?: unknown) => void): void {
    this.writes++;
    this.emit("data", chunk.slice());
    callback();
  }

  end(): void {
    this.ended = true;
    this.emit("end");
  }

  pause(): void {}

  resume(): void {}

  destroy(): void {
    this.destroyed = true;
  }
}

class Bounded {
  readonly chunks: Uint8Array[] = [];
  size = 0;
  constructor(readonly maxBytes: number) {}

  add(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) throw new RangeError("past the bound");
    this.chunks.push(chunk);
  }
}

const refused = (error: unknown) =>
  new Error(`refused: ${(error as Error).message}`);

describe("decodeThroughZlib", () => {
  it("writes the input in slices and resolves with all output at the end", async () => {
    const stream = new ScriptedStream();
    const sink = new Bounded(100);
    await decodeThroughZlib(
      stream,
      new Uint8Array(10).fill(7),
      4,
      sink,
      new Pacer(),
      refused,
    );
    assert.equal(stream.writes, 3);
    assert.ok(stream.ended);
    assert.deepEqual(sink.chunks.map((chunk) => chunk.byteLength), [4, 4, 2]);
  });

  it("stops at the bound, destroys the stream, and ignores what it emits afterwards", async () => {
    const stream = new ScriptedStream();
    const sink = new Bounded(5);
    await assert.rejects(
      decodeThroughZlib(
        stream,
        new Uint8Array(10),
        4,
        sink,
        new Pacer(),
        refused,
      ),
      RangeError,
    );
    assert.ok(stream.destroyed);
    const sizeAtStop = sink.size;
    // Output and an error that were under way when the stream was
    // destroyed: neither is collected nor rejects a second time.
    stream.emit("data", new Uint8Array(4));
    stream.emit("error", new Error("late"));
    stream.emit("end");
    assert.equal(sink.size, sizeAtStop);
    assert.equal(stream.writes, 2);
    assert.ok(!stream.ended);
  });

  it("destroys a stream that ends before its input does, and writes no more", async () => {
    // A deflate stream followed by other bytes: zlib ends the output and
    // never calls back for the write under way.
    const stream = new ScriptedStream();
    stream.write = (chunk) => {
      stream.writes++;
      stream.emit("data", chunk.slice(0, 1));
      stream.emit("end");
    };
    const sink = new Bounded(100);
    await decodeThroughZlib(
      stream,
      new Uint8Array(10),
      4,
      sink,
      new Pacer(),
      refused,
    );
    assert.equal(sink.size, 1);
    assert.ok(stream.destroyed);
    await new Promise((done) => setTimeout(done, 0));
    assert.equal(stream.writes, 1);
    assert.ok(!stream.ended);
  });

  it("rejects with the caller's error when the stream fails, once", async () => {
    const stream = new ScriptedStream();
    stream.write = (_chunk, callback) => {
      stream.writes++;
      stream.emit("error", new Error("incorrect header check"));
      callback(new Error("write after error"));
    };
    await assert.rejects(
      decodeThroughZlib(
        stream,
        new Uint8Array(10),
        4,
        new Bounded(100),
        new Pacer(),
        refused,
      ),
      /^Error: refused: incorrect header check$/,
    );
    assert.ok(stream.destroyed);
    assert.equal(stream.writes, 1);
  });
});
