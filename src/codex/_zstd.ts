/**
 * zstd decoding of request bodies, bounded while it decodes. Private to
 * `src/codex/`: use `decodeRequestBody` of `content_encoding.ts`.
 *
 * Before any byte is decoded, {@linkcode checkZstdFrames} walks the frame
 * structure (RFC 8878: frame headers and block headers only, no
 * decompression): every frame must declare a window of at most
 * {@linkcode ZSTD_MAX_WINDOW_BYTES} (a decoder allocates the window up
 * front, so a 10-byte frame declaring a 2 GiB window would otherwise cost
 * 2 GiB), the declared content sizes must fit the bound, and the body must
 * end where its last frame ends. The walk also counts: at most
 * {@linkcode ZSTD_MAX_FRAMES} frames (skippable ones included),
 * {@linkcode ZSTD_MAX_BLOCKS} blocks and
 * {@linkcode ZSTD_MAX_TOTAL_WINDOW_BYTES} of windows per body, because each
 * frame starts a decoder and allocates its window, and each block costs a
 * decoder step whatever it holds: a body of 9-byte empty frames, or of
 * 3-byte empty blocks, would otherwise buy minutes of work for nothing. Then
 * one of two decoders runs:
 *
 * - `native`: `node:zlib`'s streaming `createZstdDecompress` where the
 *   runtime has it (Deno 2, Node 22.15 and later), with the same window
 *   limit (`ZSTD_d_windowLogMax`);
 * - `fzstd`: the pure-JavaScript decoder from npm (Node 20), imported only
 *   when a zstd body arrives.
 *
 * Both stop at the first output chunk (a 16 KiB chunk, or one zstd block of
 * at most 128 KiB) that crosses the bound, so a small bomb never expands
 * past `maxBytes` plus one chunk. A frame that decodes to nothing is
 * refused. Both yield to the event loop every few milliseconds (a
 * {@linkcode Pacer}): the native decoder gets the input in 16 KiB slices and
 * is paused on its output, fzstd (synchronous) gets one block at a time.
 *
 * @module
 */

import { Pacer } from "../async.ts";
import { decodeThroughZlib, type ZlibStream } from "./_zlib_stream.ts";

/** The body decodes to more than the bound allows. */
export class DecodedTooLarge extends Error {
  /**
   * Creates the signal.
   *
   * @param message what crossed the bound
   */
  constructor(message: string) {
    super(message);
    this.name = "DecodedTooLarge";
  }
}

/** The body is not valid in its coding. */
export class NotDecodable extends Error {
  /**
   * Creates the signal.
   *
   * @param message what is wrong with the bytes (never the bytes themselves)
   */
  constructor(message: string) {
    super(message);
    this.name = "NotDecodable";
  }
}

/**
 * The body is zstd but beyond what a body may hold: too many frames or
 * blocks, or a frame that decodes to nothing. The message is a whole
 * sentence naming the limit.
 */
export class BeyondZstdLimits extends Error {
  /**
   * Creates the signal.
   *
   * @param message what was expected and what was found
   */
  constructor(message: string) {
    super(message);
    this.name = "BeyondZstdLimits";
  }
}

/**
 * Most frames one zstd body may hold, skippable frames included. The Codex
 * CLI and `zstd` send one; the parallel `pzstd` sends a frame and a
 * skippable frame per 2 to 8 MiB of input (66 for 64 MiB at level 1). Each
 * frame starts a decoder with its own window, which fzstd (Node 20) fills:
 * up to 8 MiB, a few milliseconds, per frame.
 */
export const ZSTD_MAX_FRAMES = 128;

/**
 * Most blocks one zstd body may hold, over all its frames. An encoder fills
 * blocks up to 128 KiB of content, so 2048 blocks carry 256 MiB; only a
 * hostile body is made of thousands of tiny or empty blocks, and fzstd
 * moves its whole window once per block, whatever the block holds.
 */
export const ZSTD_MAX_BLOCKS = 2048;

/**
 * Largest window a zstd frame may declare: 8 MiB (window log 23), what
 * zstd's levels 1 to 19 use at most. The Codex CLI sends 2 MiB windows
 * (level 3, no content size); only the "ultra" levels 20 to 22 and long-range
 * mode ask for more.
 */
export const ZSTD_MAX_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Most window bytes the frames of one body may declare together: 64 MiB.
 * Each frame's decoder allocates its window, and fzstd (Node 20) fills it:
 * 128 tiny frames of 8 MiB windows would cost a second or more of work for
 * a body of 1 KB. `zstd` sends one frame; `pzstd` one per four windows of
 * content, so a 64 MiB body declares 16 MiB at most.
 */
export const ZSTD_MAX_TOTAL_WINDOW_BYTES = 64 * 1024 * 1024;
const ZSTD_MAX_WINDOW_LOG = 23;
/** `ZSTD_d_windowLogMax` of zstd.h, for runtimes that lack the constant. */
const ZSTD_D_WINDOW_LOG_MAX = 100;

/** Which decoder runs. */
export type ZstdImplementation = "native" | "fzstd";

/** Where one zstd frame lies in the body. */
export interface ZstdFrameSpan {
  /** Offset of its magic number. */
  start: number;
  /** Offset just past its last byte (the checksum when it has one). */
  end: number;
  /** Offset just past each block, in order; the last one is `end`. */
  blockEnds: number[];
}

/** Facts the frame walk found. */
export interface ZstdFrames {
  /** Number of zstd frames (skippable frames not counted). */
  frames: number;
  /** Number of skippable frames. */
  skippable: number;
  /** Number of blocks, over all zstd frames. */
  blocks: number;
  /** Where each zstd frame lies, in order. */
  spans: ZstdFrameSpan[];
}

const MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
    bytes[at + 3] << 24) >>> 0;
}

function uint(bytes: Uint8Array, at: number, length: number): number {
  let value = 0;
  for (let index = length - 1; index >= 0; index--) {
    value = value * 256 + bytes[at + index];
  }
  return value;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024 * 10) / 10} MiB`;
}

/**
 * Walks the frames of a zstd body without decoding them. Throws
 * {@linkcode NotDecodable} for a structure that is not zstd (bad magic,
 * reserved bits, a block or frame cut short, bytes after the last frame, a
 * dictionary), {@linkcode DecodedTooLarge} for a window above
 * {@linkcode ZSTD_MAX_WINDOW_BYTES} or declared content sizes above
 * `maxBytes`, {@linkcode BeyondZstdLimits} for more than
 * {@linkcode ZSTD_MAX_FRAMES} frames, {@linkcode ZSTD_MAX_BLOCKS} blocks or
 * {@linkcode ZSTD_MAX_TOTAL_WINDOW_BYTES} of windows (it stops counting
 * there, so the walk itself is bounded).
 *
 * @param body the encoded body
 * @param maxBytes the bound of the decoded size
 * @returns the frames found
 */
export function checkZstdFrames(
  body: Uint8Array,
  maxBytes: number,
): ZstdFrames {
  let at = 0;
  let frames = 0;
  let skippable = 0;
  let blocks = 0;
  let windows = 0;
  let declared = 0;
  const spans: ZstdFrameSpan[] = [];
  while (at < body.byteLength) {
    if (frames + skippable === ZSTD_MAX_FRAMES) {
      throw new BeyondZstdLimits(
        `Expected a zstd body of at most ${ZSTD_MAX_FRAMES} frames (skippable frames included), found more`,
      );
    }
    if (body.byteLength - at < 4) {
      throw new NotDecodable("the body ends inside a zstd frame header");
    }
    const magic = u32(body, at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (body.byteLength - at < 8) {
        throw new NotDecodable("the body ends inside a skippable frame");
      }
      at += 8 + u32(body, at + 4);
      if (at > body.byteLength) {
        throw new NotDecodable("the body ends inside a skippable frame");
      }
      skippable++;
      continue;
    }
    if (magic !== MAGIC) {
      throw new NotDecodable(
        frames === 0
          ? "the body does not start with the zstd magic number"
          : "bytes that are not a zstd frame follow the last frame",
      );
    }
    frames++;
    const start = at;
    at += 4;
    if (at >= body.byteLength) {
      throw new NotDecodable("the body ends inside a zstd frame header");
    }
    const descriptor = body[at++];
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5 & 1) === 1;
    const checksum = (descriptor >> 2 & 1) === 1;
    const dictionaryFlag = descriptor & 3;
    if (descriptor & 8) {
      throw new NotDecodable("a zstd frame header sets a reserved bit");
    }
    const dictionaryBytes = [0, 1, 2, 4][dictionaryFlag];
    const contentSizeBytes = contentSizeFlag === 0
      ? (singleSegment ? 1 : 0)
      : 1 << contentSizeFlag;
    const headerRest = (singleSegment ? 0 : 1) + dictionaryBytes +
      contentSizeBytes;
    if (body.byteLength - at < headerRest) {
      throw new NotDecodable("the body ends inside a zstd frame header");
    }
    let window = 0;
    if (!singleSegment) {
      const windowDescriptor = body[at++];
      const base = 2 ** (10 + (windowDescriptor >> 3));
      window = base + (base / 8) * (windowDescriptor & 7);
    }
    if (dictionaryBytes > 0 && uint(body, at, dictionaryBytes) !== 0) {
      throw new NotDecodable("a zstd frame needs a dictionary");
    }
    at += dictionaryBytes;
    let contentSize: number | undefined;
    if (contentSizeBytes > 0) {
      contentSize = uint(body, at, contentSizeBytes) +
        (contentSizeBytes === 2 ? 256 : 0);
      at += contentSizeBytes;
    }
    if (singleSegment) window = contentSize ?? 0;
    if (window > ZSTD_MAX_WINDOW_BYTES) {
      throw new DecodedTooLarge(
        `a zstd frame declares a window of ${mib(window)}, above the ${
          mib(ZSTD_MAX_WINDOW_BYTES)
        } accepted`,
      );
    }
    windows += window;
    if (windows > ZSTD_MAX_TOTAL_WINDOW_BYTES) {
      throw new BeyondZstdLimits(
        `Expected the frames of a zstd body to declare at most ${
          mib(ZSTD_MAX_TOTAL_WINDOW_BYTES)
        } of windows in total, found more`,
      );
    }
    if (contentSize !== undefined) {
      declared += contentSize;
      if (declared > maxBytes) {
        throw new DecodedTooLarge(
          `its zstd frames declare ${declared} bytes of content`,
        );
      }
    }
    const blockEnds: number[] = [];
    for (let last = false; !last;) {
      if (blocks === ZSTD_MAX_BLOCKS) {
        throw new BeyondZstdLimits(
          `Expected a zstd body of at most ${ZSTD_MAX_BLOCKS} blocks, found more`,
        );
      }
      blocks++;
      if (body.byteLength - at < 3) {
        throw new NotDecodable("the body ends inside a zstd block header");
      }
      const header = body[at] | body[at + 1] << 8 | body[at + 2] << 16;
      at += 3;
      last = (header & 1) === 1;
      const type = header >> 1 & 3;
      const size = header >>> 3;
      if (type === 3) {
        throw new NotDecodable("a zstd block has the reserved block type");
      }
      if (size > BLOCK_MAX) {
        throw new NotDecodable("a zstd block is larger than 128 KiB");
      }
      at += type === 1 ? 1 : size;
      if (at > body.byteLength) {
        throw new NotDecodable("the body ends inside a zstd block");
      }
      blockEnds.push(at);
    }
    if (checksum) {
      at += 4;
      if (at > body.byteLength) {
        throw new NotDecodable("the body ends inside a zstd frame checksum");
      }
    }
    blockEnds[blockEnds.length - 1] = at;
    spans.push({ start, end: at, blockEnds });
  }
  if (frames === 0) throw new NotDecodable("the body holds no zstd frame");
  return { frames, skippable, blocks, spans };
}

/** Collects output chunks up to a bound. */
export class Sink {
  readonly chunks: Uint8Array[] = [];
  readonly maxBytes: number;
  size = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Adds a chunk; throws {@linkcode DecodedTooLarge} once the bound is crossed. */
  add(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) {
      throw new DecodedTooLarge("it decodes to more bytes");
    }
    if (chunk.byteLength > 0) this.chunks.push(chunk);
  }

  /** The chunks as one array, joined at the pace of `pacer`. */
  result(pacer: Pacer): Promise<Uint8Array> {
    return concatBytes(this.chunks, this.size, pacer);
  }
}

/** Bytes {@linkcode concatBytes} copies between two paces. */
const JOIN_STEP_BYTES = 1024 * 1024;

/**
 * Joins chunks into one array of `size` bytes (the only chunk itself when
 * there is one and it is a plain `Uint8Array`). Paced: copying tens of MiB
 * into fresh memory is not one short step (the first touch of each page
 * costs, and much more on some virtual machines).
 *
 * @param chunks the chunks
 * @param size their total length
 * @param pacer paces the copy
 * @returns the joined bytes
 */
export async function concatBytes(
  chunks: readonly Uint8Array[],
  size: number,
  pacer: Pacer,
): Promise<Uint8Array> {
  if (
    chunks.length === 1 && chunks[0].constructor === Uint8Array &&
    chunks[0].byteLength === size
  ) {
    return chunks[0];
  }
  const all = new Uint8Array(size);
  let offset = 0;
  let copied = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
    copied += chunk.byteLength;
    if (copied >= JOIN_STEP_BYTES) {
      copied = 0;
      await pacer.pace();
    }
  }
  return all;
}

type CreateZstdDecompress = (
  options: { params: Record<number, number> },
) => ZlibStream;

/**
 * Bytes of a frame written to the native decoder per step, so that input
 * that decodes to little still comes in small steps (output is paused
 * separately).
 */
const NATIVE_SLICE_BYTES = 16 * 1024;

let nativeFactory: Promise<CreateZstdDecompress | undefined> | undefined;

/**
 * `node:zlib`'s `createZstdDecompress` when this runtime has it, else
 * `undefined`; imported once, on first use.
 */
function loadNative(): Promise<CreateZstdDecompress | undefined> {
  nativeFactory ??= import("node:zlib").then(
    (zlib) => {
      const module = zlib as unknown as {
        createZstdDecompress?: CreateZstdDecompress;
      };
      return typeof module.createZstdDecompress === "function"
        ? module.createZstdDecompress
        : undefined;
    },
    () => undefined,
  );
  return nativeFactory;
}

/**
 * Whether this runtime decodes zstd natively (`node:zlib` has
 * `createZstdDecompress`): Deno 2 and Node 22.15 or later do, Node 20 does
 * not.
 *
 * @returns true when the native decoder is available
 */
export async function hasNativeZstd(): Promise<boolean> {
  return (await loadNative()) !== undefined;
}

function refused(error: unknown): NotDecodable {
  return new NotDecodable(
    `the zstd decoder refused it (${
      error instanceof Error ? error.message : "unknown error"
    })`,
  );
}

/**
 * Decodes one frame into the sink. One stream per frame: Deno's
 * `node:zlib` zstd stream stops after the first frame of its input. The
 * frame goes in by slices, paced on both sides ({@linkcode decodeThroughZlib}).
 */
function decodeNativeFrame(
  create: CreateZstdDecompress,
  frame: Uint8Array,
  sink: Sink,
  pacer: Pacer,
): Promise<void> {
  const stream = create({
    params: { [ZSTD_D_WINDOW_LOG_MAX]: ZSTD_MAX_WINDOW_LOG },
  });
  return decodeThroughZlib(
    stream,
    frame,
    NATIVE_SLICE_BYTES,
    sink,
    pacer,
    refused,
  );
}

type FzstdDecompress = typeof import("fzstd").Decompress;

/**
 * Decodes one frame into the sink with fzstd, one block per step and a pace
 * between steps: fzstd decodes synchronously, so a block (at most 128 KiB
 * of content, plus moving a window of at most 8 MiB) is the smallest step
 * there is. The frame's first block also touches the whole window, fresh
 * memory: the longest step.
 */
async function decodeFzstdFrame(
  Decompress: FzstdDecompress,
  body: Uint8Array,
  span: ZstdFrameSpan,
  sink: Sink,
  pacer: Pacer,
): Promise<void> {
  // fzstd calls back once per decoded block, inside push: the throw of the
  // sink stops it at the first block past the bound.
  const decoder = new Decompress((chunk) => sink.add(chunk));
  let start = span.start;
  for (const end of span.blockEnds) {
    try {
      decoder.push(body.subarray(start, end), end === span.end);
    } catch (error) {
      if (error instanceof DecodedTooLarge) throw error;
      throw refused(error);
    }
    start = end;
    await pacer.pace();
  }
}

/**
 * Decodes a zstd body, bounded while it decodes.
 *
 * @param body the encoded body (one or more frames)
 * @param maxBytes the bound of the decoded size
 * @param implementation the decoder (default: `native` when the runtime has
 *   it, else `fzstd`)
 * @param pacer paces the work (default: a new one), shared with the other
 *   codings of the same body
 * @returns the decoded bytes
 */
export async function decodeZstd(
  body: Uint8Array,
  maxBytes: number,
  implementation?: ZstdImplementation,
  pacer: Pacer = new Pacer(),
): Promise<Uint8Array> {
  const { spans } = checkZstdFrames(body, maxBytes);
  const sink = new Sink(maxBytes);
  const native = implementation === "fzstd" ? undefined : await loadNative();
  let decodeFrame: (span: ZstdFrameSpan) => Promise<void>;
  if (native !== undefined) {
    decodeFrame = (span) =>
      decodeNativeFrame(
        native,
        body.subarray(span.start, span.end),
        sink,
        pacer,
      );
  } else if (implementation === "native") {
    throw new Error("Expected node:zlib to have zstd, found none");
  } else {
    const { Decompress } = await import("fzstd");
    decodeFrame = (span) =>
      decodeFzstdFrame(Decompress, body, span, sink, pacer);
  }
  for (let index = 0; index < spans.length; index++) {
    const before = sink.size;
    await decodeFrame(spans[index]);
    if (sink.size === before) {
      throw new BeyondZstdLimits(
        `Expected every zstd frame to decode to at least one byte, found frame ${
          index + 1
        } empty`,
      );
    }
  }
  return await sink.result(pacer);
}
