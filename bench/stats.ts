/**
 * Small statistics and the ratio table of the benchmarks: percentiles,
 * medians, and one row per target with PASS or MISS.
 *
 * @module
 */

/**
 * The `p`-th percentile (0-100) of `values`, nearest-rank on a sorted copy.
 *
 * @example
 * ```ts
 * import { percentile } from "./stats.ts";
 * console.log(percentile([3, 1, 2], 50)); // 2
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/**
 * The median of `values`.
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([4, 1, 3, 2])); // 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The arithmetic mean of `values`.
 *
 * @example
 * ```ts
 * import { mean } from "./stats.ts";
 * console.log(mean([1, 2, 3])); // 2
 * ```
 */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** How a measured figure is judged against its target. */
export type TargetKind = "ratio_max" | "ratio_min" | "diff_max";

/** One row of the result table. */
export interface ResultRow {
  /** What is measured, e.g. `small p50 latency`. */
  name: string;
  /** The floor's figure, with its unit. */
  floor: string;
  /** The provider's figure, with its unit. */
  relay: string;
  /** Relay / floor (ratios) or relay - floor (differences). */
  value: number;
  /** How `value` is judged; absent for information-only rows. */
  kind?: TargetKind;
  /** The bound of the target. */
  target?: number;
  /** Unit of a difference, e.g. `ms`, `KiB`. */
  unit?: string;
}

/**
 * Whether a row meets its target; `undefined` for information-only rows.
 *
 * @example
 * ```ts
 * import { verdict } from "./stats.ts";
 * console.log(verdict({ name: "x", floor: "", relay: "", value: 1.05, kind: "ratio_max", target: 1.1 })); // "PASS"
 * ```
 */
export function verdict(row: ResultRow): "PASS" | "MISS" | undefined {
  if (row.kind === undefined || row.target === undefined) return undefined;
  const ok = row.kind === "ratio_min"
    ? row.value >= row.target
    : row.value <= row.target;
  return ok ? "PASS" : "MISS";
}

function formatValue(row: ResultRow): string {
  if (row.kind === "diff_max" || row.unit) {
    const sign = row.value >= 0 ? "+" : "";
    return `${sign}${row.value.toFixed(2)} ${row.unit ?? ""}`.trim();
  }
  return `${row.value.toFixed(3)}x`;
}

function formatTarget(row: ResultRow): string {
  if (row.kind === undefined || row.target === undefined) return "";
  if (row.kind === "ratio_min") return `>= ${row.target}x`;
  if (row.kind === "ratio_max") return `<= ${row.target}x`;
  return `<= ${row.target} ${row.unit ?? ""}`.trim();
}

/**
 * Renders rows as a Markdown table: name, floor, relay, ratio or
 * difference, target, verdict.
 *
 * @example
 * ```ts
 * import { renderTable } from "./stats.ts";
 * console.log(renderTable([{ name: "x", floor: "1 ms", relay: "1.1 ms", value: 1.1 }]));
 * ```
 */
export function renderTable(rows: readonly ResultRow[]): string {
  const header = ["measure", "floor", "relay", "relay vs floor", "target", ""];
  const lines = rows.map((row) => [
    row.name,
    row.floor,
    row.relay,
    formatValue(row),
    formatTarget(row),
    verdict(row) ?? "",
  ]);
  return markdownTable(header, lines);
}

/**
 * Cells as a Markdown table with padded columns, the header first.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./stats.ts";
 * console.log(markdownTable(["a", "b"], [["1", "22"]]));
 * ```
 */
export function markdownTable(
  header: readonly string[],
  lines: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column].length))
  );
  const render = (cells: readonly string[]) =>
    `| ${
      cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")
    } |`;
  return [
    render(header),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...lines.map(render),
  ].join("\n");
}
