/**
 * Feeding one `node:zlib` decoding stream (gunzip, inflate, raw inflate,
 * zstd) and collecting its output, bounded and paced. Private to
 * `src/codex/`: use `decodeRequestBody` of `content_encoding.ts`.
 *
 * The stream is driven through its own events rather than through a web
 * stream adapter: once decoding stops (the bound crossed, the bytes
 * refused), the stream is destroyed and whatever it still emits is ignored.
 * Node's adapter (behind its `DecompressionStream`) instead enqueues a chunk
 * that a stream still emits after it was cancelled, which throws outside any
 * caller ("Controller is already closed"), an uncaught exception that ends
 * the process; a buyer's gzip bomb could otherwise end a seller on Node.
 *
 * @module
 */

import type { Pacer } from "../async.ts";

/** What this module needs of a `node:zlib` decoding stream. */
export interface ZlibStream {
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  on(event: "error", listener: (error: unknown) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  write(chunk: Uint8Array, callback: (error?: unknown) => void): unknown;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
}

/** Where the output goes; `add` throws to stop decoding (the bound). */
export interface ZlibSink {
  add(chunk: Uint8Array): void;
}

/**
 * Writes `input` to `stream` in slices of `sliceBytes`, with a pace between
 * them, and hands each output chunk to `sink`. When a slice of time is used
 * up while output flows, the stream is paused (the decoder stops at its next
 * output chunk) and resumed after a turn of the event loop.
 *
 * Rejects with what `sink.add` threw, or with `refused(error)` when the
 * stream fails. Whatever the outcome, the stream is destroyed once decoding
 * stops (a deflate stream ends before its input when bytes follow its end),
 * the write under way is not waited for, and nothing the stream emits
 * afterwards is looked at.
 *
 * @param stream a fresh decoding stream
 * @param input the encoded bytes
 * @param sliceBytes bytes written per step
 * @param sink takes the output
 * @param pacer paces the work
 * @param refused turns the stream's error into the caller's
 * @returns resolves once the stream has ended and all its output is in `sink`
 */
export function decodeThroughZlib(
  stream: ZlibStream,
  input: Uint8Array,
  sliceBytes: number,
  sink: ZlibSink,
  pacer: Pacer,
  refused: (error: unknown) => Error,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    // The write under way: a stream that failed or ended early never calls
    // its callback, and the loop below must not wait for it.
    let writing: (() => void) | undefined;
    function settle(error?: Error): void {
      if (settled) return;
      settled = true;
      // Also on success: a deflate stream ends before its input does when
      // bytes follow its end, and would otherwise stay open.
      stream.destroy();
      writing?.();
      if (error) reject(error);
      else resolve();
    }
    stream.on("data", (chunk) => {
      if (settled) return;
      try {
        sink.add(chunk);
      } catch (error) {
        settle(error as Error);
        return;
      }
      if (pacer.due) {
        stream.pause();
        pacer.yield().then(() => {
          if (!settled) stream.resume();
        });
      }
    });
    stream.on("error", (error) => settle(refused(error)));
    stream.on("end", () => settle());
    (async () => {
      for (let at = 0; at < input.byteLength; at += sliceBytes) {
        await new Promise<void>((written, failed) => {
          writing = written;
          stream.write(
            input.subarray(at, at + sliceBytes),
            (error) => error ? failed(error) : written(),
          );
        });
        writing = undefined;
        if (settled) return;
        // A slice that decodes to nothing gives the output side no turn to
        // pace.
        await pacer.pace();
        if (settled) return;
      }
      stream.end();
    })().catch((error) => settle(refused(error)));
  });
}
