// The default largest body is the AntSeed node's own upload limit (64 MiB):
// a body the node accepts is not refused by the plugin for its size.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_BODY_BYTES, parseConfig } from "../src/config.ts";
import { RelayError } from "../src/errors.ts";
import { prepareRequest } from "../src/provider/prepare.ts";

const MIB = 1024 * 1024;

/** A /v1/responses request whose JSON body is `bytes` long. */
function requestOf(bytes: number) {
  const encoder = new TextEncoder();
  const head = encoder.encode('{"model":"gpt-5.4","input":"');
  const tail = encoder.encode('"}');
  const body = new Uint8Array(bytes).fill("x".charCodeAt(0));
  body.set(head, 0);
  body.set(tail, bytes - tail.byteLength);
  return {
    requestId: "req-1",
    method: "POST",
    path: "/v1/responses",
    headers: { "content-type": "application/json" },
    body,
  };
}

describe("largest request body by default", () => {
  it("is the node's upload limit, 64 MiB", () => {
    assert.equal(DEFAULT_MAX_BODY_BYTES, 64 * MIB);
    assert.equal(parseConfig({}).maxBodyBytes, 64 * MIB);
  });

  it("takes a 40 MiB request", async () => {
    const prepared = await prepareRequest(requestOf(40 * MIB), parseConfig({}));
    assert.equal(prepared.service, "gpt-5.4");
  });

  it("refuses a 65 MiB request with 413 request_too_large", async () => {
    await assert.rejects(
      prepareRequest(requestOf(65 * MIB), parseConfig({})),
      (error) =>
        error instanceof RelayError && error.status === 413 &&
        error.code === "request_too_large",
    );
  });
});
