/**
 * Writes a scripted SSE answer to a `node:http` response: delays, pauses
 * until released, stalls and resets, with every timer tracked so that the
 * simulated backend can clear them all on close.
 *
 * @module
 */

import type { ServerResponse } from "node:http";

/** How a scripted stream is written and how it ends. */
export interface StreamPlan {
  /** Complete SSE frames, written one by one. */
  frames: readonly string[];
  /** Wait for `release()` before the frame at this index (or at the end when it is past the last). */
  pauseAfter?: number;
  /** Also resume a pause by itself after this many milliseconds. */
  pauseMs?: number;
  /** Milliseconds to wait before each frame after the first. */
  delayMs?: number;
  /** Raw text written after the frames, e.g. half a frame. */
  tail?: string;
  /** `end`: finish the body; `stall`: stay silent until aborted; `destroy`: destroy the socket. */
  finish: "end" | "stall" | "destroy";
}

/** Timers and pauses of one simulated backend. */
export class StreamControl {
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #paused = new Set<() => void>();

  /** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return this.#wait(signal, ms, false);
  }

  /** Resolves on `release()`, after `ms` when given, or when `signal` aborts. */
  pause(signal: AbortSignal, ms?: number): Promise<void> {
    return this.#wait(signal, ms, true);
  }

  /** Resolves only when `signal` aborts. */
  forever(signal: AbortSignal): Promise<void> {
    return this.#wait(signal, undefined, false);
  }

  /** Resumes every paused stream. */
  release(): void {
    const waiting = [...this.#paused];
    this.#paused.clear();
    for (const resume of waiting) resume();
  }

  /** Clears every timer and resumes every pause (their streams are aborted by then). */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.release();
  }

  #wait(
    signal: AbortSignal,
    ms: number | undefined,
    releasable: boolean,
  ): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) {
          clearTimeout(timer);
          this.#timers.delete(timer);
        }
        this.#paused.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done);
      if (releasable) this.#paused.add(done);
      if (ms !== undefined) {
        timer = setTimeout(done, ms);
        this.#timers.add(timer);
      }
    });
  }
}

function write(
  res: ServerResponse,
  chunk: string,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted || res.destroyed) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    signal.addEventListener("abort", done);
  });
}

function flushed(res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done);
    res.write("", () => done());
  });
}

/**
 * Writes the frames of `plan` to a response whose headers are already
 * written, then ends it as the plan says. Stops as soon as `signal` aborts
 * (the client went away or the backend closed).
 */
export async function runStream(
  res: ServerResponse,
  plan: StreamPlan,
  control: StreamControl,
  signal: AbortSignal,
): Promise<void> {
  const { frames, pauseAfter, delayMs } = plan;
  for (let index = 0; index < frames.length; index++) {
    if (index === pauseAfter) await control.pause(signal, plan.pauseMs);
    if (index > 0 && delayMs) await control.sleep(delayMs, signal);
    if (signal.aborted) return;
    await write(res, frames[index], signal);
  }
  if (pauseAfter !== undefined && pauseAfter >= frames.length) {
    await control.pause(signal, plan.pauseMs);
  }
  if (plan.tail) await write(res, plan.tail, signal);
  if (signal.aborted) return;
  if (plan.finish === "end") {
    res.end();
  } else if (plan.finish === "stall") {
    await control.forever(signal);
  } else {
    await flushed(res, signal);
    res.socket?.destroy();
  }
}
