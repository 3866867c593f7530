/**
 * The provider's numbers in the Prometheus text exposition format (version
 * 0.0.4): counters and histograms kept in memory, written out on demand
 * (`GET /metrics` of `serve`, `provider.metrics()`). Labels carry only
 * non-secret values: routes, statuses, stable codes, login labels.
 *
 * @module
 */

/** Label names and values of one series. */
export type Labels = Record<string, string>;

/** Buckets of the latency histograms, in seconds. */
const LATENCY_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];

interface Family {
  help: string;
  type: "counter" | "gauge" | "histogram";
}

interface Histogram {
  labels: Labels;
  buckets: number[];
  sum: number;
  count: number;
}

/** Label values that need escaping (most never do: codes, routes, labels). */
const NEEDS_ESCAPE = /[\\\n"]/;

function escapeValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function labelText(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  return `{${
    names.map((name) => `${name}="${escapeValue(labels[name])}"`).join(",")
  }}`;
}

/** Every metric name of the provider, with its help text and type. */
export const METRICS: Readonly<Record<string, Family>> = {
  openai_responses_requests_total: {
    help: "Requests answered, by route, status and error code",
    type: "counter",
  },
  openai_responses_tokens_total: {
    help:
      "Tokens of finished requests, by kind (input, output, cached, reasoning)",
    type: "counter",
  },
  openai_responses_upstream_first_byte_seconds: {
    help:
      "Time until the backend's response headers, per request that reached it",
    type: "histogram",
  },
  openai_responses_request_duration_seconds: {
    help: "Whole handling time of a request that reached the backend",
    type: "histogram",
  },
  openai_responses_upstream_retries_total: {
    help: "Upstream attempts retried, by reason",
    type: "counter",
  },
  openai_responses_token_refreshes_total: {
    help:
      "OAuth token refreshes, by login and outcome (ok, or the failure's reason)",
    type: "counter",
  },
  openai_responses_login_up: {
    help: "1 when the login can serve now, by login and state",
    type: "gauge",
  },
  openai_responses_login_usage_limited_until_seconds: {
    help: "Unix time until which a usage limit blocks the login (0 when none)",
    type: "gauge",
  },
  openai_responses_login_used_percent: {
    help:
      "Share of the subscription's window used, as the backend last said, by login and window",
    type: "gauge",
  },
  openai_responses_requests_in_flight: {
    help: "Requests being served now",
    type: "gauge",
  },
};

/**
 * Counters and histograms of one provider.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.count("openai_responses_requests_total", { route: "responses", status: "200", code: "" });
 * console.log(metrics.text().includes("openai_responses_requests_total")); // true
 * ```
 */
export class Metrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Map<string, Histogram>>();

  /** Adds `by` (default 1) to a counter series. */
  count(name: string, labels: Labels, by = 1): void {
    let series = this.#counters.get(name);
    if (!series) this.#counters.set(name, series = new Map());
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  /** Records one observation, in seconds, in a histogram series. */
  observe(name: string, labels: Labels, seconds: number): void {
    let series = this.#histograms.get(name);
    if (!series) this.#histograms.set(name, series = new Map());
    const key = labelText(labels);
    let histogram = series.get(key);
    if (!histogram) {
      histogram = {
        labels,
        buckets: LATENCY_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      series.set(key, histogram);
    }
    const buckets = histogram.buckets;
    for (let index = LATENCY_BUCKETS.length - 1; index >= 0; index--) {
      if (seconds > LATENCY_BUCKETS[index]) break;
      buckets[index]++;
    }
    histogram.sum += seconds;
    histogram.count++;
  }

  /**
   * The exposition text: every family with its `# HELP` and `# TYPE`, the
   * counters and histograms kept here, and the gauges given (read at the
   * moment of the call).
   */
  text(gauges: Record<string, [Labels, number][]> = {}): string {
    const lines: string[] = [];
    for (const [name, family] of Object.entries(METRICS)) {
      lines.push(
        `# HELP ${name} ${family.help}`,
        `# TYPE ${name} ${family.type}`,
      );
      if (family.type === "counter") {
        for (const [key, value] of this.#counters.get(name) ?? []) {
          lines.push(`${name}${key} ${value}`);
        }
      } else if (family.type === "histogram") {
        for (const histogram of this.#histograms.get(name)?.values() ?? []) {
          LATENCY_BUCKETS.forEach((bound, index) => {
            lines.push(
              `${name}_bucket${
                labelText({ ...histogram.labels, le: String(bound) })
              } ${histogram.buckets[index]}`,
            );
          });
          lines.push(
            `${name}_bucket${
              labelText({ ...histogram.labels, le: "+Inf" })
            } ${histogram.count}`,
            `${name}_sum${labelText(histogram.labels)} ${histogram.sum}`,
            `${name}_count${labelText(histogram.labels)} ${histogram.count}`,
          );
        }
      } else {
        for (const [labels, value] of gauges[name] ?? []) {
          lines.push(`${name}${labelText(labels)} ${value}`);
        }
      }
    }
    return `${lines.join("\n")}\n`;
  }
}
