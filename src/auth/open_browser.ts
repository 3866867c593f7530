/**
 * Opening a URL in the seller's browser, best effort: the platform's opener
 * (`open` on macOS, `rundll32 url.dll,FileProtocolHandler` on Windows,
 * `xdg-open` elsewhere) is started detached, and a failure only means the
 * seller opens the printed URL by hand.
 *
 * @module
 */

import { spawn as nodeSpawn } from "node:child_process";
import { platform as osPlatform } from "node:os";

/** The command that opens a URL on a platform. */
export interface BrowserCommand {
  /** Program to run. */
  command: string;
  /** Its arguments, the URL last. */
  args: string[];
}

/** A `spawn` like `node:child_process`'s, reduced to what is used here. */
export type SpawnFunction = (
  command: string,
  args: string[],
  options: { detached: boolean; stdio: "ignore" },
) => {
  once(event: "spawn" | "error", listener: (...args: unknown[]) => void): void;
  unref(): void;
};

/** Options of {@linkcode openInBrowser}. */
export interface OpenBrowserOptions {
  /** Platform as `os.platform()` names it (default: this machine's). */
  platform?: string;
  /**
   * The process environment. When given, nothing is opened when `BROWSER`
   * is `none` (any platform: the seller, or a test, asks for no browser),
   * nor on Linux and the BSDs without `DISPLAY` or `WAYLAND_DISPLAY` (a
   * headless machine, where `xdg-open` could start a text browser in the
   * seller's terminal).
   */
  env?: Record<string, string | undefined>;
  /** `spawn` to use (tests; default `node:child_process`'s). */
  spawn?: SpawnFunction;
}

/**
 * The command that opens `url` on `platform`. On Windows `rundll32` is used
 * rather than `cmd /c start`, which would read the `&` of the URL as a
 * command separator.
 *
 * @example
 * ```ts
 * import { browserCommand } from "./open_browser.ts";
 * console.log(browserCommand("https://example.com/", "darwin")); // { command: "open", args: ["https://example.com/"] }
 * ```
 */
export function browserCommand(url: string, platform: string): BrowserCommand {
  if (platform === "darwin") return { command: "open", args: [url] };
  if (platform === "win32") {
    return { command: "rundll32", args: ["url.dll,FileProtocolHandler", url] };
  }
  return { command: "xdg-open", args: [url] };
}

function hasDisplay(
  platform: string,
  env: Record<string, string | undefined> | undefined,
): boolean {
  if (env === undefined) return true;
  if (env.BROWSER?.trim().toLowerCase() === "none") return false;
  if (platform === "darwin" || platform === "win32") return true;
  return Boolean(env.DISPLAY) || Boolean(env.WAYLAND_DISPLAY);
}

/**
 * Tries to open an http(s) URL in a browser. Resolves with whether an opener
 * was started; never throws, never waits for the browser.
 *
 * @example
 * ```ts
 * import { openInBrowser } from "./open_browser.ts";
 * if (!await openInBrowser("https://auth.openai.com/oauth/authorize?...")) {
 *   console.log("Open the URL above in a browser");
 * }
 * ```
 */
export function openInBrowser(
  url: string,
  options: OpenBrowserOptions = {},
): Promise<boolean> {
  const platform = options.platform ?? osPlatform();
  if (!/^https?:\/\//i.test(url) || !hasDisplay(platform, options.env)) {
    return Promise.resolve(false);
  }
  const { command, args } = browserCommand(url, platform);
  const spawn = options.spawn ?? (nodeSpawn as unknown as SpawnFunction);
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, { detached: true, stdio: "ignore" });
      child.once("error", () => resolve(false));
      child.once("spawn", () => resolve(true));
      child.unref();
    } catch {
      resolve(false);
    }
  });
}
