import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Watchdog } from "../src/watchdog.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("Watchdog", () => {
  it("fires an entry once its deadline has passed", async () => {
    const watchdog = new Watchdog({ tickMs: 10 });
    let fired = 0;
    watchdog.watch(Date.now() + 30, () => fired++);
    await sleep(15);
    assert.equal(fired, 0, "not before the deadline");
    await sleep(60);
    assert.equal(fired, 1);
    assert.equal(watchdog.size, 0);
  });

  it("extends a deadline that is moved forward", async () => {
    const watchdog = new Watchdog({ tickMs: 10 });
    let fired = 0;
    const entry = watchdog.watch(Date.now() + 30, () => fired++);
    for (let i = 0; i < 6; i++) {
      await sleep(15);
      entry.deadline = Date.now() + 30;
    }
    assert.equal(fired, 0);
    watchdog.unwatch(entry);
  });

  it("never fires an unwatched entry", async () => {
    const watchdog = new Watchdog({ tickMs: 10 });
    let fired = 0;
    const entry = watchdog.watch(Date.now() + 10, () => fired++);
    watchdog.unwatch(entry);
    await sleep(50);
    assert.equal(fired, 0);
  });

  it("stops its timer once nothing is watched", async () => {
    const watchdog = new Watchdog({ tickMs: 10 });
    assert.equal(watchdog.ticking, false);
    const entry = watchdog.watch(Date.now() + 1000, () => {});
    assert.equal(watchdog.ticking, true);
    watchdog.unwatch(entry);
    await sleep(40);
    assert.equal(watchdog.ticking, false);
  });

  it("keeps firing others when an expiry handler throws", async () => {
    const watchdog = new Watchdog({ tickMs: 10 });
    let fired = 0;
    watchdog.watch(Date.now(), () => {
      throw new Error("boom");
    });
    watchdog.watch(Date.now(), () => fired++);
    await sleep(40);
    assert.equal(fired, 1);
  });
});
