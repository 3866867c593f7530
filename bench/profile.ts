/**
 * Where the time goes: a CPU profile (V8's sampling profiler, through
 * `node:inspector`, the same on Deno and Node) of the relay alone, either
 * the small-request loop or large streams, against the benchmark upstream
 * (a child process, not profiled). Prints each step's cost per request
 * (self time of the functions of each source file, and the inclusive time
 * of the steps named in {@linkcode STEPS}), the time in the garbage
 * collector and in the runtime (fetch, streams), and the heaviest
 * functions; writes the profile for a viewer (Chrome DevTools, speedscope).
 *
 * Usage: `deno run -A --v8-flags=--expose-gc bench/profile.ts small|large
 * [--requests N] [--out <file.cpuprofile>] [--top K] [--interval <us>]
 * [--side relay|cli-floor]`; `--side cli-floor` profiles the CLI floor of
 * bench/floor.ts instead, to hold the relay's profile against;
 * on Node, after `deno run -A bench/node.ts --only none`:
 * `node --expose-gc .build/bench-node/dist/bench/profile.js small`.
 *
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Session } from "node:inspector";
import process from "node:process";
import { benchProvider, relayRequest } from "./relay_client.ts";
import { cliFloorRequest } from "./floor.ts";
import {
  cpuMicros,
  pinProcess,
  runtimeName,
  spawnUpstream,
} from "./runtime.ts";
import { markdownTable } from "./stats.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/**
 * Steps measured inclusively (the function and what it calls, up to its
 * first `await`): function name and the end of its file's path.
 */
const STEPS: [string, string, string][] = [
  ["prepare: read JSON", "readRequestJson", "codex/request"],
  ["prepare: store expand", "expand", "state/response_store"],
  ["prepare: shape", "shapeRequest", "codex/request"],
  ["prepare: encode body", "encodeUpstreamBody", "codex/request"],
  ["prepare: session id", "upstreamSessionId", "codex/request"],
  ["relay: pick login", "pick", "provider/pool"],
  ["relay: headers", "buildUpstreamHeaders", "codex/request"],
  ["relay: exchange state", "UpstreamExchange", "relay"],
  ["stream: rate-limits filter", "push", "codex/rate_limits_filter"],
  ["stream: idle deadline", "moved", "relay"],
  ["stream: host callback", "send", "relay"],
  ["stream: concat body", "concat", "relay"],
  ["stream: completed event", "completedEventOf", "codex/observe"],
  ["stream: observe", "observeStream", "codex/observe"],
  ["finish: store put", "storeTurn", "provider/pipeline"],
  ["finish: log/metrics", "finish", "provider/pipeline"],
  ["finish: duration metric", "duration", "provider/observability"],
  ["finish: first byte metric", "firstByte", "provider/observability"],
];

/** The repository root: the nearest folder up with a deno.json. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json")) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  return dir;
}

const sources = new Map<string, string[]>();

/**
 * The line of a function's definition in its TypeScript source (the
 * profile's lines are those of the transpiled code), or "?" .
 */
function sourceLine(file: string, name: string): string {
  let lines = sources.get(file);
  if (!lines) {
    const path = join(repositoryRoot(), `${file}.ts`);
    lines = existsSync(path) ? readFileSync(path, "utf8").split("\n") : [];
    sources.set(file, lines);
  }
  const bare = name.replace(/^(get |set )/, "");
  const escaped = bare.replace(/[#$]/g, "\\$&");
  const definition = new RegExp(
    `(function\\*?\\s+${escaped}\\b|^\\s*(static\\s+)?(async\\s+)?(get\\s+|set\\s+)?${escaped}\\s*[(<]|class\\s+${escaped}\\b|const\\s+${escaped}\\s*=)`,
  );
  const index = lines.findIndex((line) => definition.test(line));
  return index === -1 ? "?" : String(index + 1);
}

function post<T>(session: Session, method: string, params = {}): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(
      method,
      params,
      (error: Error | null, result: unknown) =>
        error ? reject(error) : resolve(result as T),
    )
  );
}

/** Where a sample's time goes: a source file of ours, or a runtime part. */
function categoryOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === "(garbage collector)") return "(garbage collector)";
  if (functionName === "(program)") return "(program: runtime, native)";
  if (functionName === "(idle)") return "(idle)";
  const src = url.match(/\/(src\/[^?#]+?)\.[jt]s$/);
  if (src) return src[1];
  const bench = url.match(/\/(bench\/[^?#]+?)\.[jt]s$/);
  if (bench) return bench[1];
  if (url === "") return "(native or builtin)";
  if (url.startsWith("node:") || url.startsWith("ext:")) {
    return url.replace(/^(node:internal\/[^/]+|ext:[^/]+).*$/, "$1");
  }
  return "(other)";
}

function analyse(profile: Profile, requests: number, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index];
    const delta = profile.timeDeltas[index + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  let total = 0;
  let idle = 0;
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  const steps = new Map<string, number>();
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame;
    const category = categoryOf(frame);
    if (category === "(idle)") {
      idle += micros;
      continue;
    }
    total += micros;
    categories.set(category, (categories.get(category) ?? 0) + micros);
    const key = `${frame.functionName || "(anonymous)"} ${
      category.startsWith("src/") || category.startsWith("bench/")
        ? `${category}.ts:${sourceLine(category, frame.functionName)}`
        : category
    }`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
    // Inclusive: charge the sample to every step on its stack (once each).
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parent.get(at)
    ) {
      const callFrame = byId.get(at)!.callFrame;
      for (const [name, fn, file] of STEPS) {
        if (
          !seen.has(name) && callFrame.functionName === fn &&
          callFrame.url.replace(/\.[jt]s$/, "").endsWith(file)
        ) {
          seen.add(name);
          steps.set(name, (steps.get(name) ?? 0) + micros);
        }
      }
    }
  }
  const per = (micros: number) => (micros / requests).toFixed(2);
  const share = (micros: number) => `${(100 * micros / total).toFixed(1)}%`;
  const sorted = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]);
  return [
    `sampled CPU ${per(total)} us per request (${requests} requests; idle ${
      per(idle)
    } us not counted)`,
    "",
    "Inclusive time of the steps (the function and what it calls synchronously):",
    markdownTable(
      ["step", "function", "us per request", "share"],
      STEPS.filter(([name]) => steps.has(name)).map(([name, fn, file]) => [
        name,
        `${fn} (${file})`,
        per(steps.get(name)!),
        share(steps.get(name)!),
      ]),
    ),
    "",
    "Self time by source file or runtime part:",
    markdownTable(
      ["where", "us per request", "share"],
      sorted(categories).slice(0, top).map(([name, micros]) => [
        name,
        per(micros),
        share(micros),
      ]),
    ),
    "",
    "Heaviest functions (self time):",
    markdownTable(
      ["function", "us per request", "share"],
      sorted(functions).slice(0, top).map(([name, micros]) => [
        name,
        per(micros),
        share(micros),
      ]),
    ),
  ].join("\n");
}

const args = process.argv.slice(2);
const kind = args[0] === "large" ? "large" : "small";
const option = (name: string, fallback: string) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1];
};
const requests = Number(
  option("--requests", kind === "small" ? "4000" : "200"),
);
const top = Number(option("--top", "25"));
const out = option("--out", "");
const interval = Number(option("--interval", "100"));
const concurrency = kind === "small" ? 1 : 8;
const side = option("--side", "relay");
if (side !== "relay" && side !== "cli-floor") {
  throw new Error(`--side is relay or cli-floor, not ${side}`);
}

const pinning = args.includes("--no-pin") ? undefined : pinProcess();
const upstream = await spawnUpstream({ cpu: pinning?.upstream });
try {
  const provider = benchProvider(`${upstream.baseUrl}/${kind}`, concurrency);
  // The buyer reads a few bytes more than the upstream sent (its own
  // fields echoed): the count of the first answer is the one every answer has.
  let expected = -1;
  const run = async (count: number) => {
    for (let done = 0; done < count; done += concurrency) {
      const results = await Promise.all(
        Array.from(
          { length: concurrency },
          () =>
            side === "relay"
              ? relayRequest(provider)
              : cliFloorRequest(`${upstream.baseUrl}/${kind}/codex/responses`),
        ),
      );
      for (const { bytes } of results) {
        if (expected === -1) expected = bytes;
        if (bytes !== expected) {
          throw new Error(`Expected ${expected} body bytes, found ${bytes}`);
        }
      }
    }
  };
  await run(kind === "small" ? 1000 : 48);
  const session = new Session();
  session.connect();
  await post(session, "Profiler.enable");
  await post(session, "Profiler.setSamplingInterval", { interval });
  await post(session, "Profiler.start");
  const cpu0 = cpuMicros();
  await run(requests);
  const cpu1 = cpuMicros();
  const { profile } = await post<{ profile: Profile }>(
    session,
    "Profiler.stop",
  );
  session.disconnect();
  console.log(
    `# Profile of ${requests} ${kind} ${side} requests (${runtimeName()}, ${
      concurrency === 1 ? "sequential" : `${concurrency} at a time`
    }): process CPU ${((cpu1 - cpu0) / requests).toFixed(1)} us per request`,
  );
  console.log(analyse(profile, requests, top));
  if (out) await writeFile(out, JSON.stringify(profile));
} finally {
  await upstream.close();
}
