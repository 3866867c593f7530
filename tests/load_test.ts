// Load: 64 buyers through the seller-node emulation, in a child process of
// their own (so that its RSS is theirs), against the simulated backend with
// random latency in this process. Every request ends (200 or 429
// provider_at_capacity), never more than maxConcurrency upstream exchanges,
// capacity back to 0, RSS back within 20 MB of the warmed-up baseline.
//
// Size: LOAD_REQUESTS (default 1,000; the full run is LOAD_REQUESTS=5000).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { type Child, spawnFixture } from "./fixtures/auth_helpers.ts";
import type { LoadSummary } from "./fixtures/load_child.ts";
import { prng } from "./fakes/prng.ts";

const REQUESTS = Number(process.env.LOAD_REQUESTS ?? "1000");
const CLIENTS = 64;
const MAX_CONCURRENCY = 16;
/**
 * Requests run before the RSS baseline is taken, so that the allocator's
 * arenas reach their working size (RSS then stays flat: 5,000, 10,000 and
 * 20,000 requests all end near the same RSS); the child then runs one more
 * round of the measured size before its baseline.
 */
const WARMUP = Math.max(2000, REQUESTS);
/** Bound of the whole run (warm-up included), after which the child counts as hung. */
const RUN_BOUND_MS = 60_000 + (2 * REQUESTS + WARMUP) * 20;
const RSS_SLACK_BYTES = 20 * 1024 * 1024;

let backend: FakeCodexBackend;
let child: Child | undefined;
let summary: LoadSummary | undefined;
let failure: string | undefined;

before(async () => {
  backend = await startFakeCodexBackend();
  const latency = prng(42);
  backend.setDefault(() => ({
    kind: "text",
    text: "Load test answer with a few words in it.",
    eventDelayMs: Math.floor(latency() * 3),
  }));
  child = spawnFixture("load_child", [
    backend.baseUrl,
    String(REQUESTS),
    String(CLIENTS),
    String(MAX_CONCURRENCY),
    String(WARMUP),
  ]);
  try {
    const line = await child.waitForLine(
      (text) => text.startsWith("{"),
      RUN_BOUND_MS,
    );
    summary = JSON.parse(line);
  } catch (error) {
    failure = (error as Error).message;
  }
});

after(async () => {
  if (child && child.process.exitCode === null) child.process.kill();
  await child?.exited;
  await backend?.close();
});

function result(): LoadSummary {
  assert.equal(failure, undefined, "the load run did not finish in time");
  return summary!;
}

describe(`load: ${REQUESTS} requests from ${CLIENTS} buyers, maxConcurrency ${MAX_CONCURRENCY}`, () => {
  it("ends every request within the run's bound (no hang)", () => {
    assert.equal(result().requests, REQUESTS);
  });

  it("answers every request with 200 or 429 provider_at_capacity", () => {
    const { otherCount, other, served, atCapacity } = result();
    assert.deepEqual(other, []);
    assert.equal(otherCount, 0);
    assert.equal(served + atCapacity, REQUESTS);
    assert.ok(served >= REQUESTS / 20, `only ${served} served`);
  });

  it("completes every served answer, with exactly one done chunk per stream", () => {
    assert.equal(result().incomplete, 0);
  });

  it("breaks no rule of the host contract", () => {
    assert.deepEqual(result().violations, []);
  });

  it("never runs more than maxConcurrency upstream exchanges", () => {
    result();
    assert.ok(backend.maxInFlight <= MAX_CONCURRENCY, `${backend.maxInFlight}`);
    assert.ok(backend.maxInFlight >= 2, "the load was not concurrent");
  });

  it("returns capacity to 0", () => {
    assert.deepEqual(result().capacityAfter, {
      current: 0,
      max: MAX_CONCURRENCY,
    });
    assert.equal(backend.inFlight, 0);
  });

  it("keeps RSS within 20 MB of the warmed-up baseline", () => {
    const { baselineRss, finalRss, elapsedMs, served } = result();
    console.log(
      `load: ${REQUESTS} requests in ${
        elapsedMs.toFixed(0)
      } ms, ${served} served, RSS ${(baselineRss / 2 ** 20).toFixed(1)} -> ${
        (finalRss / 2 ** 20).toFixed(1)
      } MiB`,
    );
    const grown = finalRss - baselineRss;
    assert.ok(
      grown <= RSS_SLACK_BYTES,
      `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`,
    );
  });
});
