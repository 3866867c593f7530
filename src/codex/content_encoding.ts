/**
 * Decoding of a buyer's compressed request body (`content-encoding`), before
 * anything reads it as JSON. Today's Codex CLI compresses its requests with
 * zstd when it talks to the ChatGPT backend; SDKs may send gzip or deflate.
 *
 * The size bound applies to the DECODED size, while decoding: decoding stops
 * at the first output chunk past the bound, so a small "bomb" (a few KB that
 * expand to gigabytes) costs at most the bound plus one chunk of memory.
 *
 * - `gzip` / `x-gzip` and `deflate` go through `node:zlib`'s streaming
 *   decoders (`createGunzip`, `createInflate`, `createInflateRaw`), driven
 *   through their own events (`_zlib_stream.ts`): Node's web-standard
 *   `DecompressionStream` wraps the same decoders in an adapter that, once
 *   cancelled at the bound, could still enqueue a chunk and throw an
 *   uncaught error, which ends the process. A gzip body may hold several
 *   members (RFC 1952), decoded one after the other; bytes after the end of
 *   a deflate stream, or zero bytes after a gzip member (padding), are
 *   ignored, as zlib does; a truncated stream is refused. The input is
 *   written in 2 KiB slices, and the decoder is paused on its output
 *   (16 KiB chunks) when its time slice is used up.
 *   `deflate` is zlib-wrapped as HTTP says (RFC 9110); a body that does not
 *   start with a zlib header is decoded as raw deflate, as browsers and
 *   curl do, because some old clients and servers sent raw deflate under
 *   that name, and the header check (CM = 8, header checksum) costs nothing.
 * - `zstd` goes through `node:zlib`'s streaming decoder where the runtime
 *   has one (Deno 2; Node 22.15 and later), else through
 *   [fzstd](https://github.com/101arrowz/fzstd) (npm `fzstd`, MIT, by the
 *   author of fflate; a 24 KB file with no dependencies, pure JavaScript,
 *   with a streaming `Decompress` that hands out one block of at most
 *   128 KiB at a time, so the bound stops it while it decodes). fzstd is
 *   imported only when a zstd body arrives on a runtime without native zstd
 *   (Node 20), so it costs nothing at start-up. Every frame's window is
 *   checked before decoding: at most 8 MiB (the Codex CLI uses 2 MiB), since
 *   a decoder allocates the declared window up front. A body holds at most
 *   128 frames (skippable ones included), 2048 blocks and 64 MiB of windows,
 *   counted before decoding, so a body of thousands of tiny frames or blocks
 *   costs nothing; and every frame must decode to at least one byte.
 * - Decoding yields to the event loop every 10 ms or so (`Pacer`): some
 *   decoders work on the event loop's thread (fzstd, Deno's `node:zlib`),
 *   so without it a large body would hold every other request and timer
 *   until it is done (Node's `node:zlib` decodes on its thread pool).
 * - A list (`gzip, zstd`) was applied in the order listed and is decoded in
 *   reverse; `identity` is skipped; names are case-insensitive.
 *
 * @module
 */

import { Pacer } from "../async.ts";
import { RelayError } from "../errors.ts";
import {
  BeyondZstdLimits,
  DecodedTooLarge,
  decodeZstd,
  NotDecodable,
  Sink,
} from "./_zstd.ts";
import { decodeThroughZlib, type ZlibStream } from "./_zlib_stream.ts";

/**
 * The content codings {@linkcode decodeRequestBody} accepts, for docs and
 * for the `accept-encoding` header of a 415 answer.
 */
export const ACCEPTED_CONTENT_ENCODINGS: readonly string[] = Object.freeze([
  "zstd",
  "gzip",
  "x-gzip",
  "deflate",
  "identity",
]);

/** Most codings one body may stack (`gzip, gzip, zstd` is three). */
export const MAX_CONTENT_CODINGS = 4;

/** Bytes of compressed gzip or deflate input handed to the decoder per step. */
const SLICE_BYTES = 2048;

/** The value of the `accept-encoding` header of a 415 answer (RFC 9110 §12.5.3). */
const ACCEPT_ENCODING = "zstd, gzip, deflate";

type Coding = "zstd" | "gzip" | "deflate";

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function unsupported(message: string): RelayError {
  return new RelayError(415, "unsupported_content_encoding", message, {
    headers: { "accept-encoding": ACCEPT_ENCODING },
  });
}

/**
 * The codings of a `content-encoding` header in the order they must be
 * undone (the last listed first), `identity` left out.
 *
 * Throws a 415 {@linkcode RelayError} `unsupported_content_encoding` for a
 * coding not in {@linkcode ACCEPTED_CONTENT_ENCODINGS} or more than
 * {@linkcode MAX_CONTENT_CODINGS} codings.
 *
 * @param header the `content-encoding` header value, or `undefined`
 * @returns the codings to undo, first to last
 *
 * @example
 * ```ts
 * import { decodingOrder } from "./content_encoding.ts";
 * console.log(decodingOrder("gzip, zstd")); // ["zstd", "gzip"]
 * ```
 */
export function decodingOrder(header: string | undefined): string[] {
  if (header === undefined) return [];
  const codings: Coding[] = [];
  for (const token of header.split(",")) {
    const name = token.trim().toLowerCase();
    if (name === "" || name === "identity") continue;
    if (name === "zstd" || name === "gzip" || name === "deflate") {
      codings.push(name);
    } else if (name === "x-gzip") {
      codings.push("gzip");
    } else {
      throw unsupported(
        `Expected a content-encoding among ${
          ACCEPTED_CONTENT_ENCODINGS.join(", ")
        }, found "${truncate(name, 40)}"`,
      );
    }
  }
  if (codings.length > MAX_CONTENT_CODINGS) {
    throw unsupported(
      `Expected at most ${MAX_CONTENT_CODINGS} content codings, found ${codings.length}`,
    );
  }
  return codings.reverse();
}

/** Options of {@linkcode decodeRequestBody}. */
export interface DecodeOptions {
  /**
   * Paces the decoding (default: a new {@linkcode Pacer}); pass the one the
   * other steps of preparing the same request use, so that their slices of
   * time add up.
   */
  pacer?: Pacer;
}

/**
 * Decodes a request body according to its `content-encoding`, bounded by
 * the decoded size while it decodes. Without an encoding (or `identity`)
 * the body itself is returned; an empty body stays empty.
 *
 * Throws a {@linkcode RelayError}: 413 `request_too_large` when the body,
 * encoded or decoded, is larger than `maxBytes` (or a zstd frame asks for a
 * window above 8 MiB); 415 `unsupported_content_encoding` for a coding not
 * in {@linkcode ACCEPTED_CONTENT_ENCODINGS}; 400 `invalid_body_encoding`
 * when the bytes are not valid in their coding, or a zstd body has more
 * than 128 frames, 2048 blocks or 64 MiB of windows, or a frame that
 * decodes to nothing.
 *
 * @param body the request body as received
 * @param contentEncoding the `content-encoding` header, or `undefined`
 * @param maxBytes the largest accepted body, in bytes, encoded and decoded
 * @param options the pacer to share with the other steps of the request
 * @returns the decoded body
 *
 * @example
 * ```ts
 * import { decodeRequestBody } from "./content_encoding.ts";
 *
 * const json = new TextEncoder().encode('{"model":"gpt-5.4","input":"Hi"}');
 * const gzip = new Uint8Array(
 *   await new Response(
 *     new Blob([json]).stream().pipeThrough(new CompressionStream("gzip")),
 *   ).arrayBuffer(),
 * );
 * const decoded = await decodeRequestBody(gzip, "gzip", 1024 * 1024);
 * console.log(new TextDecoder().decode(decoded)); // {"model":"gpt-5.4","input":"Hi"}
 * ```
 */
export async function decodeRequestBody(
  body: Uint8Array,
  contentEncoding: string | undefined,
  maxBytes: number,
  options: DecodeOptions = {},
): Promise<Uint8Array> {
  const codings = decodingOrder(contentEncoding);
  const header = truncate(contentEncoding?.trim() ?? "", 60);
  if (body.byteLength > maxBytes) {
    throw new RelayError(
      413,
      "request_too_large",
      `Expected a request body of at most ${maxBytes} bytes, found ${body.byteLength} bytes`,
    );
  }
  let bytes = body;
  const pacer = options.pacer ?? new Pacer();
  for (const coding of codings) {
    if (bytes.byteLength === 0) break;
    try {
      bytes = coding === "zstd"
        ? await decodeZstd(bytes, maxBytes, undefined, pacer)
        : await decodeGzipOrDeflate(
          coding as "gzip" | "deflate",
          bytes,
          maxBytes,
          pacer,
        );
    } catch (error) {
      if (error instanceof DecodedTooLarge) {
        throw new RelayError(
          413,
          "request_too_large",
          `Expected a request body of at most ${maxBytes} bytes once decoded (content-encoding: ${header}), found one that ${error.message}`,
        );
      }
      if (error instanceof NotDecodable) {
        throw new RelayError(
          400,
          "invalid_body_encoding",
          `Expected a request body in ${coding} (content-encoding: ${header}), found bytes that do not decode: ${error.message}`,
        );
      }
      if (error instanceof BeyondZstdLimits) {
        throw new RelayError(
          400,
          "invalid_body_encoding",
          `${error.message} (content-encoding: ${header})`,
        );
      }
      throw error;
    }
  }
  return bytes;
}

/** Whether the bytes start with a zlib header (RFC 1950: CM 8, check bits). */
function hasZlibHeader(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 2 && (bytes[0] & 0x0f) === 8 &&
    (bytes[0] >> 4) <= 7 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

/** What this module needs of `node:zlib`: its gzip and deflate decoders. */
interface ZlibDecoders {
  createGunzip(): ZlibStream;
  createInflate(): ZlibStream;
  createInflateRaw(): ZlibStream;
}

let zlibModule: Promise<ZlibDecoders> | undefined;

async function decodeGzipOrDeflate(
  coding: "gzip" | "deflate",
  body: Uint8Array,
  maxBytes: number,
  pacer: Pacer,
): Promise<Uint8Array> {
  zlibModule ??= import("node:zlib") as Promise<unknown> as Promise<
    ZlibDecoders
  >;
  const zlib = await zlibModule;
  const stream = coding === "gzip"
    ? zlib.createGunzip()
    : hasZlibHeader(body)
    ? zlib.createInflate()
    : zlib.createInflateRaw();
  const sink = new Sink(maxBytes);
  await decodeThroughZlib(
    stream,
    body,
    SLICE_BYTES,
    sink,
    pacer,
    (error) =>
      new NotDecodable(
        `the ${coding} decoder refused it (${
          error instanceof Error ? error.message : "unknown error"
        })`,
      ),
  );
  return await sink.result(pacer);
}
