// Decoding of compressed request bodies: every accepted coding, lists, the
// bound on the decoded size while decoding (bombs), and the errors.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  ACCEPTED_CONTENT_ENCODINGS,
  decodeRequestBody,
  decodingOrder,
} from "../src/codex/content_encoding.ts";
import {
  checkZstdFrames,
  decodeZstd,
  hasNativeZstd,
  ZSTD_MAX_BLOCKS,
  ZSTD_MAX_FRAMES,
  ZSTD_MAX_TOTAL_WINDOW_BYTES,
  ZSTD_MAX_WINDOW_BYTES,
  type ZstdImplementation,
} from "../src/codex/_zstd.ts";
import { Pacer } from "../src/async.ts";
import { RelayError } from "../src/errors.ts";
import { loadClientFixture } from "./fixtures/clients.ts";
import {
  BLOCK_MAX,
  concat,
  EMPTY_COMPRESSED_FRAME,
  EMPTY_FRAME,
  rawFrame,
  repeat,
  rleFrame,
  skippableFrame,
} from "./fixtures/zstd_frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;
const JSON_BODY = encoder.encode('{"model":"gpt-5.4","input":"Hi"}');
const REPETITIVE = encoder.encode(
  JSON.stringify({ model: "gpt-5.4", input: "Hi ".repeat(100) }),
);
const NATIVE = await hasNativeZstd();
/** One zstd frame whose only block, compressed, is 8 bytes of nonsense. */
const CORRUPT_FRAME = Uint8Array.from([
  0x28,
  0xb5,
  0x2f,
  0xfd,
  0x00,
  0x58,
  1 | 2 << 1 | 8 << 3,
  0,
  0,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
]);
const IMPLEMENTATIONS: ZstdImplementation[] = NATIVE
  ? ["native", "fzstd"]
  : ["fzstd"];

async function compress(
  format: CompressionFormat,
  chunks: Iterable<Uint8Array>,
): Promise<Uint8Array> {
  const stream = new CompressionStream(format);
  const writer = stream.writable.getWriter();
  const reading = new Response(stream.readable).arrayBuffer();
  for (const chunk of chunks) await writer.write(chunk as BufferSource);
  await writer.close();
  return new Uint8Array(await reading);
}

function* zeros(total: number): Generator<Uint8Array> {
  const chunk = new Uint8Array(MiB);
  for (let left = total; left > 0; left -= MiB) {
    yield left >= MiB ? chunk : chunk.subarray(0, left);
  }
}

let bombs: Promise<{ gzip: Uint8Array; nested: Uint8Array }> | undefined;
/** gzip of 100 MiB of zeros (about 100 KB), and gzip of that (a few hundred bytes). */
function gzipBombs(): Promise<{ gzip: Uint8Array; nested: Uint8Array }> {
  bombs ??= (async () => {
    const gzip = await compress("gzip", zeros(100 * MiB));
    const nested = await compress("gzip", [gzip]);
    return { gzip, nested };
  })();
  return bombs;
}

async function relayError(run: () => Promise<unknown>): Promise<RelayError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected RelayError: ${error}`);
    assert.doesNotMatch(error.message, /\.$/, "no trailing period");
    return error;
  }
  assert.fail("expected a RelayError");
}

/** A pacer that yields at every step, and counts its yields. */
class CountingPacer extends Pacer {
  yields = 0;

  constructor() {
    super(0);
  }

  override yield(): Promise<void> {
    this.yields++;
    return super.yield();
  }
}

/** Runs `run`, then says how long it took and how much the RSS grew. */
async function measure(
  run: () => Promise<unknown>,
): Promise<{ ms: number; rssGrowth: number }> {
  const before = process.memoryUsage().rss;
  const start = performance.now();
  await run();
  return {
    ms: performance.now() - start,
    rssGrowth: process.memoryUsage().rss - before,
  };
}

describe("decodingOrder", () => {
  it("undoes the codings from the last listed to the first", () => {
    assert.deepEqual(decodingOrder("gzip, zstd"), ["zstd", "gzip"]);
  });

  it("leaves identity and empty entries out", () => {
    assert.deepEqual(decodingOrder(" identity , ,gzip"), ["gzip"]);
    assert.deepEqual(decodingOrder(undefined), []);
  });

  it("reads names case-insensitively and x-gzip as gzip", () => {
    assert.deepEqual(decodingOrder("X-GZIP,Deflate,ZSTD"), [
      "zstd",
      "deflate",
      "gzip",
    ]);
  });

  it("lists the accepted codings for docs", () => {
    assert.deepEqual([...ACCEPTED_CONTENT_ENCODINGS], [
      "zstd",
      "gzip",
      "x-gzip",
      "deflate",
      "identity",
    ]);
  });
});

describe("decodeRequestBody without compression", () => {
  it("returns the body itself without a content-encoding", async () => {
    assert.equal(await decodeRequestBody(JSON_BODY, undefined, 100), JSON_BODY);
  });

  it("returns the body itself for identity", async () => {
    assert.equal(
      await decodeRequestBody(JSON_BODY, "identity", 100),
      JSON_BODY,
    );
  });

  it("refuses a body larger than maxBytes with 413 request_too_large", async () => {
    const error = await relayError(() =>
      decodeRequestBody(JSON_BODY, undefined, JSON_BODY.byteLength - 1)
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
  });

  it("keeps an empty body empty whatever the coding", async () => {
    const empty = new Uint8Array(0);
    assert.equal((await decodeRequestBody(empty, "gzip", 100)).byteLength, 0);
    assert.equal((await decodeRequestBody(empty, "zstd", 100)).byteLength, 0);
  });
});

describe("decodeRequestBody with gzip and deflate", () => {
  it("decodes gzip", async () => {
    const gzip = await compress("gzip", [JSON_BODY]);
    assert.deepEqual(await decodeRequestBody(gzip, "gzip", 1000), JSON_BODY);
  });

  it("decodes x-gzip", async () => {
    const gzip = await compress("gzip", [JSON_BODY]);
    assert.deepEqual(await decodeRequestBody(gzip, "x-gzip", 1000), JSON_BODY);
  });

  it("decodes a gzip body of two members as the two contents one after the other", async () => {
    const half = encoder.encode('{"model":"gpt-5.4",');
    const rest = encoder.encode('"input":"Hi"}');
    const first = await compress("gzip", [half]);
    const second = await compress("gzip", [rest]);
    const both = new Uint8Array(first.byteLength + second.byteLength);
    both.set(first);
    both.set(second, first.byteLength);
    assert.deepEqual(
      decoder.decode(await decodeRequestBody(both, "gzip", 1000)),
      '{"model":"gpt-5.4","input":"Hi"}',
    );
  });

  it("decodes zlib-wrapped deflate", async () => {
    const deflate = await compress("deflate", [JSON_BODY]);
    assert.deepEqual(
      await decodeRequestBody(deflate, "deflate", 1000),
      JSON_BODY,
    );
  });

  it("decodes raw deflate sent as deflate", async () => {
    const raw = await compress("deflate-raw", [JSON_BODY]);
    assert.deepEqual(await decodeRequestBody(raw, "deflate", 1000), JSON_BODY);
  });

  it("decodes a body of many 4 KiB slices", async () => {
    const text = encoder.encode(
      JSON.stringify({ input: "x".repeat(300_000), n: Math.PI }),
    );
    const gzip = await compress("gzip", [text]);
    assert.deepEqual(await decodeRequestBody(gzip, "gzip", MiB), text);
  });

  it("accepts a decoded size of exactly maxBytes and refuses one byte less", async () => {
    const gzip = await compress("gzip", [REPETITIVE]);
    const size = REPETITIVE.byteLength;
    assert.deepEqual(await decodeRequestBody(gzip, "gzip", size), REPETITIVE);
    const error = await relayError(() =>
      decodeRequestBody(gzip, "gzip", size - 1)
    );
    assert.equal(error.status, 413);
    assert.match(error.message, /once decoded \(content-encoding: gzip\)/);
  });

  it("refuses corrupt gzip with 400 invalid_body_encoding", async () => {
    const error = await relayError(() =>
      decodeRequestBody(encoder.encode("not gzip at all"), "gzip", 1000)
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_body_encoding");
    assert.match(error.message, /gzip/);
  });

  it("refuses truncated gzip with 400 invalid_body_encoding", async () => {
    const gzip = await compress("gzip", [JSON_BODY]);
    const error = await relayError(() =>
      decodeRequestBody(gzip.subarray(0, gzip.byteLength - 10), "gzip", 1000)
    );
    assert.equal(error.code, "invalid_body_encoding");
  });

  for (const format of ["deflate", "deflate-raw"] as const) {
    it(`refuses truncated ${format} with 400 invalid_body_encoding, never a part of the body`, async () => {
      const whole = await compress(format, [JSON_BODY]);
      // zlib-wrapped: without its checksum; raw: without its last bytes.
      const cut = whole.subarray(
        0,
        whole.byteLength - (format === "deflate" ? 4 : 2),
      );
      const error = await relayError(() =>
        decodeRequestBody(cut, "deflate", 1000)
      );
      assert.equal(error.code, "invalid_body_encoding");
    });
  }

  it("ignores bytes after the end of a deflate stream, and zero padding after a gzip member", async () => {
    const deflate = await compress("deflate", [JSON_BODY]);
    const gzip = await compress("gzip", [JSON_BODY]);
    const padded = (bytes: Uint8Array, tail: number[]) =>
      new Uint8Array([...bytes, ...tail]);
    assert.deepEqual(
      await decodeRequestBody(padded(deflate, [1, 2, 3]), "deflate", 1000),
      JSON_BODY,
    );
    assert.deepEqual(
      await decodeRequestBody(padded(gzip, [0, 0, 0, 0]), "gzip", 1000),
      JSON_BODY,
    );
    const error = await relayError(() =>
      decodeRequestBody(padded(gzip, [1, 2, 3]), "gzip", 1000)
    );
    assert.equal(error.code, "invalid_body_encoding");
  });
});

describe("decodeRequestBody with zstd", () => {
  it("decodes the Codex CLI's zstd body to its compact JSON", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-openai-auth-zstd-3.json",
    );
    assert.equal(fixture.headers["content-encoding"], "zstd");
    const decoded = await decodeRequestBody(
      fixture.bodyBytes(),
      fixture.headers["content-encoding"],
      32 * MiB,
    );
    assert.equal(decoder.decode(decoded), JSON.stringify(fixture.body));
  });

  for (const implementation of IMPLEMENTATIONS) {
    it(`decodes both Codex CLI zstd fixtures with ${implementation}`, async () => {
      for (
        const path of [
          "codex-cli/custom-provider-openai-auth-zstd-3.json",
          "codex-cli/custom-provider-openai-auth-zstd-decoded-2.json",
        ]
      ) {
        const fixture = loadClientFixture(path);
        const frames = checkZstdFrames(fixture.bodyBytes(), MiB);
        assert.equal(frames.frames, 1, "one frame, as the CLI sends");
        const decoded = await decodeZstd(
          fixture.bodyBytes(),
          MiB,
          implementation,
        );
        assert.equal(decoder.decode(decoded), JSON.stringify(fixture.body));
      }
    });

    it(`decodes raw blocks, several frames and skippable frames with ${implementation}`, async () => {
      const data = encoder.encode("y".repeat(BLOCK_MAX * 2 + 17));
      const skippable = Uint8Array.from([
        0x50,
        0x2a,
        0x4d,
        0x18,
        3,
        0,
        0,
        0,
        1,
        2,
        3,
      ]);
      const body = concat([
        rawFrame(data),
        skippable,
        rawFrame(JSON_BODY, { contentSize: JSON_BODY.byteLength }),
      ]);
      const decoded = await decodeZstd(body, MiB, implementation);
      assert.deepEqual(decoded, concat([data, JSON_BODY]));
    });

    it(`stops a 256 MiB zstd bomb at the bound, fast and in little memory, with ${implementation}`, async () => {
      // 2047 x 128 KiB = 256 MiB from 8 KB (2048 blocks is the most a body
      // may hold), then a frame whose block does not decode: a decoder that
      // went on to the end would fail there.
      const bomb = concat([rleFrame(ZSTD_MAX_BLOCKS - 1), CORRUPT_FRAME]);
      assert.ok(bomb.byteLength < 10_000);
      let error: unknown;
      const { ms, rssGrowth } = await measure(async () => {
        try {
          await decodeZstd(bomb, MiB, implementation);
        } catch (caught) {
          error = caught;
        }
      });
      assert.equal((error as Error)?.name, "DecodedTooLarge");
      assert.ok(ms < 1000, `stopped after ${ms} ms`);
      assert.ok(rssGrowth < 64 * MiB, `RSS grew by ${rssGrowth} bytes`);
    });

    it(`refuses a frame declaring a 1 GiB window before decoding, with ${implementation}`, async () => {
      const frame = rleFrame(1, 0, { windowLog: 30 });
      const { rssGrowth } = await measure(async () => {
        await assert.rejects(
          decodeZstd(frame, 64 * MiB, implementation),
          { name: "DecodedTooLarge", message: /window of 1024 MiB/ },
        );
      });
      assert.ok(rssGrowth < 64 * MiB, `RSS grew by ${rssGrowth} bytes`);
    });

    it(`refuses a corrupt compressed block with ${implementation}`, async () => {
      // A compressed block (type 2) of 8 bytes of nonsense: the structure is
      // fine, the decoder refuses the content.
      const frame = CORRUPT_FRAME;
      await assert.rejects(decodeZstd(frame, MiB, implementation), {
        name: "NotDecodable",
      });
    });
  }

  it("maps a zstd bomb to 413 request_too_large", async () => {
    const error = await relayError(() =>
      decodeRequestBody(rleFrame(800), "zstd", MiB)
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    assert.match(error.message, /content-encoding: zstd/);
  });

  it("refuses declared content sizes above maxBytes before decoding", () => {
    const frame = rawFrame(JSON_BODY, { contentSize: 10 * MiB });
    assert.throws(() => checkZstdFrames(frame, MiB), {
      name: "DecodedTooLarge",
    });
  });

  it("accepts a decoded size of exactly maxBytes and refuses one byte less", async () => {
    const frame = rleFrame(1, 0x20); // 128 KiB of spaces from 10 bytes
    const size = BLOCK_MAX;
    assert.equal(
      (await decodeRequestBody(frame, "zstd", size)).byteLength,
      size,
    );
    const error = await relayError(() =>
      decodeRequestBody(frame, "zstd", size - 1)
    );
    assert.equal(error.status, 413);
  });

  it("refuses bytes that are not zstd with 400 invalid_body_encoding", async () => {
    const error = await relayError(() =>
      decodeRequestBody(JSON_BODY, "zstd", 1000)
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_body_encoding");
    assert.match(error.message, /zstd magic number/);
  });

  it("refuses a truncated zstd frame with 400 invalid_body_encoding", async () => {
    const frame = rawFrame(JSON_BODY);
    const error = await relayError(() =>
      decodeRequestBody(frame.subarray(0, frame.byteLength - 3), "zstd", 1000)
    );
    assert.equal(error.code, "invalid_body_encoding");
  });

  it("refuses bytes after the last zstd frame with 400 invalid_body_encoding", async () => {
    const body = concat([rawFrame(JSON_BODY), encoder.encode("tail")]);
    const error = await relayError(() => decodeRequestBody(body, "zstd", 1000));
    assert.equal(error.code, "invalid_body_encoding");
  });
});

describe("decodeRequestBody with zstd, within bounds", () => {
  /** One byte in a frame of the smallest window (1 KiB). */
  const ONE_BYTE_FRAME = rawFrame(encoder.encode("x"), { windowLog: 10 });

  it(`accepts ${ZSTD_MAX_FRAMES} frames and refuses one more, skippable frames included`, async () => {
    const most = repeat(ONE_BYTE_FRAME, ZSTD_MAX_FRAMES);
    assert.equal(
      decoder.decode(await decodeRequestBody(most, "zstd", MiB)),
      "x".repeat(ZSTD_MAX_FRAMES),
    );
    for (
      const body of [
        repeat(ONE_BYTE_FRAME, ZSTD_MAX_FRAMES + 1),
        concat([
          repeat(ONE_BYTE_FRAME, ZSTD_MAX_FRAMES - 1),
          skippableFrame(2),
          skippableFrame(),
        ]),
        concat([skippableFrame(), most]),
      ]
    ) {
      const error = await relayError(() =>
        decodeRequestBody(body, "zstd", MiB)
      );
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_body_encoding");
      assert.equal(
        error.message,
        `Expected a zstd body of at most ${ZSTD_MAX_FRAMES} frames (skippable frames included), found more (content-encoding: zstd)`,
      );
    }
  });

  it(`accepts ${ZSTD_MAX_BLOCKS} blocks and refuses one more, over all frames`, async () => {
    const text = "y".repeat(ZSTD_MAX_BLOCKS);
    const most = rawFrame(encoder.encode(text), { blockSize: 1 });
    assert.equal(checkZstdFrames(most, MiB).blocks, ZSTD_MAX_BLOCKS);
    assert.equal(
      decoder.decode(await decodeRequestBody(most, "zstd", MiB)),
      text,
    );
    for (
      const body of [
        rawFrame(encoder.encode(text + "y"), { blockSize: 1 }),
        concat([most, ONE_BYTE_FRAME]),
      ]
    ) {
      const error = await relayError(() =>
        decodeRequestBody(body, "zstd", MiB)
      );
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_body_encoding");
      assert.equal(
        error.message,
        `Expected a zstd body of at most ${ZSTD_MAX_BLOCKS} blocks, found more (content-encoding: zstd)`,
      );
    }
  });

  it(`accepts frames that declare ${ZSTD_MAX_TOTAL_WINDOW_BYTES / MiB} MiB of windows in total, and refuses more`, async () => {
    const largest = rawFrame(encoder.encode("w"), { windowLog: 23 });
    const count = ZSTD_MAX_TOTAL_WINDOW_BYTES / ZSTD_MAX_WINDOW_BYTES;
    assert.equal(checkZstdFrames(repeat(largest, count), MiB).frames, count);
    const body = concat([repeat(largest, count), ONE_BYTE_FRAME]);
    const error = await relayError(() => decodeRequestBody(body, "zstd", MiB));
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_body_encoding");
    assert.equal(
      error.message,
      "Expected the frames of a zstd body to declare at most 64 MiB of windows in total, found more (content-encoding: zstd)",
    );
  });

  for (const implementation of IMPLEMENTATIONS) {
    it(`refuses a frame that decodes to nothing, with ${implementation}`, async () => {
      const cases: [Uint8Array, number][] = [
        [EMPTY_FRAME, 1],
        [rawFrame(new Uint8Array(0)), 1],
        [EMPTY_COMPRESSED_FRAME, 1],
        [concat([ONE_BYTE_FRAME, EMPTY_FRAME, ONE_BYTE_FRAME]), 2],
      ];
      for (const [body, frame] of cases) {
        await assert.rejects(decodeZstd(body, MiB, implementation), {
          name: "BeyondZstdLimits",
          message:
            `Expected every zstd frame to decode to at least one byte, found frame ${frame} empty`,
        });
      }
    });

    it(`yields to the event loop at least once per 128 KiB of output, with ${implementation}`, async () => {
      // 16 RLE blocks of 128 KiB from 70 bytes: one slice of input, all
      // output (16 KiB chunks natively, one block at a time with fzstd).
      const pacer = new CountingPacer();
      const decoded = await decodeZstd(
        rleFrame(16, 0x20),
        32 * MiB,
        implementation,
        pacer,
      );
      assert.equal(decoded.byteLength, 2 * MiB);
      assert.ok(pacer.yields >= 16, `${pacer.yields} yields`);
    });

    it(`yields to the event loop at least once per 16 KiB of input, with ${implementation}`, async () => {
      const text = new Uint8Array(256 * 1024).fill(0x61);
      const pacer = new CountingPacer();
      const decoded = await decodeZstd(
        rawFrame(text, { blockSize: 16 * 1024 }),
        MiB,
        implementation,
        pacer,
      );
      assert.equal(decoded.byteLength, text.byteLength);
      assert.ok(pacer.yields >= 16, `${pacer.yields} yields`);
    });
  }

  it("yields to the event loop once per block with fzstd, however small the block", async () => {
    // fzstd decodes synchronously and moves its whole window (2 MiB here)
    // once per block, whatever the block holds.
    const text = encoder.encode("z".repeat(64));
    const pacer = new CountingPacer();
    const decoded = await decodeZstd(
      rawFrame(text, { blockSize: 1 }),
      MiB,
      "fzstd",
      pacer,
    );
    assert.equal(decoded.byteLength, 64);
    assert.ok(pacer.yields >= 64, `${pacer.yields} yields`);
  });

  it("refuses the empty body zstd makes with 400, as it refuses any empty frame", async () => {
    const error = await relayError(() =>
      decodeRequestBody(EMPTY_FRAME, "zstd", MiB)
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_body_encoding");
    assert.match(error.message, /at least one byte, found frame 1 empty/);
  });
});

describe("decodeRequestBody with gzip and deflate, paced", () => {
  for (const format of ["gzip", "deflate", "deflate-raw"] as const) {
    it(`yields to the event loop while it decodes ${format}`, async () => {
      const text = new Uint8Array(2 * MiB);
      for (let at = 0; at < text.byteLength; at++) {
        text[at] = (at * 7919 >> 3) & 255;
      }
      const body = await compress(format, [text]);
      const coding = format === "gzip" ? "gzip" : "deflate";
      const pacer = new CountingPacer();
      const decoded = await decodeRequestBody(body, coding, 32 * MiB, {
        pacer,
      });
      assert.deepEqual(decoded, text);
      assert.ok(pacer.yields >= 16, `${pacer.yields} yields`);
    });
  }

  it("yields to the event loop while it decodes deflate blocks that hold nothing", async () => {
    // Stored blocks of no content, 5 bytes each: no output to pace on.
    const body = concat([
      repeat(Uint8Array.from([0, 0, 0, 0xff, 0xff]), 26_214),
      Uint8Array.from([1, 0, 0, 0xff, 0xff]),
    ]);
    const pacer = new CountingPacer();
    const decoded = await decodeRequestBody(body, "deflate", MiB, { pacer });
    assert.equal(decoded.byteLength, 0);
    assert.ok(pacer.yields >= 32, `${pacer.yields} yields`);
  });
});

describe("decodeRequestBody with lists and unknown codings", () => {
  it("decodes a list in reverse order of listing", async () => {
    const gzip = await compress("gzip", [JSON_BODY]);
    const body = rawFrame(gzip); // gzip applied first, then zstd
    assert.deepEqual(
      await decodeRequestBody(body, "gzip, zstd", 1000),
      JSON_BODY,
    );
    const error = await relayError(() =>
      decodeRequestBody(body, "zstd, gzip", 1000)
    );
    assert.equal(error.code, "invalid_body_encoding");
  });

  it("refuses an unknown coding with 415 and the accepted ones", async () => {
    const error = await relayError(() =>
      decodeRequestBody(JSON_BODY, "br", 1000)
    );
    assert.equal(error.status, 415);
    assert.equal(error.code, "unsupported_content_encoding");
    assert.match(error.message, /"br"/);
    assert.equal(error.headers["accept-encoding"], "zstd, gzip, deflate");
  });

  it("refuses more than four stacked codings with 415", async () => {
    const error = await relayError(() =>
      decodeRequestBody(JSON_BODY, "gzip, gzip, gzip, gzip, gzip", 1000)
    );
    assert.equal(error.status, 415);
  });

  it("decodes exactly four stacked codings and refuses five", async () => {
    let body: Uint8Array = JSON_BODY;
    for (let layer = 0; layer < 4; layer++) {
      body = await compress("gzip", [body]);
    }
    assert.deepEqual(
      await decodeRequestBody(body, "gzip, gzip, gzip, gzip", 1000),
      JSON_BODY,
    );
    const error = await relayError(() =>
      decodeRequestBody(body, "identity, gzip, gzip, gzip, gzip, gzip", 1000)
    );
    assert.equal(error.status, 415);
    assert.equal(error.code, "unsupported_content_encoding");
    assert.match(error.message, /at most 4 content codings, found 5$/);
  });
});

describe("decodeRequestBody against gzip bombs", () => {
  it("stops a gzip of 100 MiB of zeros at the bound, long before its end", async () => {
    const { gzip } = await gzipBombs();
    assert.ok(gzip.byteLength < 120_000, `${gzip.byteLength} bytes`);
    // A wrong CRC and size at the very end: a decoder that went on to the
    // end would report the body as corrupt (400), not as too large.
    const bomb = gzip.slice();
    bomb.fill(0xff, bomb.byteLength - 8);
    let error: unknown;
    const { ms, rssGrowth } = await measure(async () => {
      error = await relayError(() => decodeRequestBody(bomb, "gzip", MiB));
    });
    assert.equal((error as RelayError).status, 413);
    assert.equal((error as RelayError).code, "request_too_large");
    assert.ok(ms < 1000, `stopped after ${ms} ms`);
    assert.ok(rssGrowth < 48 * MiB, `RSS grew by ${rssGrowth} bytes`);
  });

  it("stops sixteen gzip bombs at a time, and nothing of a stopped decoder throws later", async () => {
    // Node's DecompressionStream, cancelled at the bound, could still
    // enqueue a chunk its gunzip had ready and throw outside any caller
    // ("Controller is already closed"): an uncaught exception, which ends a
    // seller. It took a few hundred bodies at a time to happen.
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", record);
    try {
      const bomb = await compress("gzip", zeros(4 * MiB));
      for (let round = 0; round < 40; round++) {
        const errors = await Promise.all(
          Array.from(
            { length: 16 },
            () => relayError(() => decodeRequestBody(bomb, "gzip", MiB)),
          ),
        );
        for (const error of errors) {
          assert.equal(error.code, "request_too_large");
        }
      }
      await new Promise((done) => setTimeout(done, 50));
    } finally {
      process.off("uncaughtException", record);
    }
    assert.deepEqual(uncaught, []);
  });

  it("stops a gzip of a gzip (a few hundred bytes, 100 MiB) at the bound", async () => {
    const { nested } = await gzipBombs();
    assert.ok(nested.byteLength < 2000, `${nested.byteLength} bytes`);
    let error: unknown;
    const { ms, rssGrowth } = await measure(async () => {
      error = await relayError(() =>
        decodeRequestBody(nested, "gzip, gzip", MiB)
      );
    });
    assert.equal((error as RelayError).code, "request_too_large");
    assert.ok(ms < 1000, `stopped after ${ms} ms`);
    assert.ok(rssGrowth < 48 * MiB, `RSS grew by ${rssGrowth} bytes`);
  });
});
