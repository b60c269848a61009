import { parseArgs } from 'node:util';

/** A bench's parsed command line. */
export interface BenchArgs {
  requests: number;
  rounds: number;
  /** `--quick`: short runs (CI, `pnpm bench --quick`); figures are indicative only. */
  quick: boolean;
  /**
   * `--markdown`: print one Markdown section (a `###` heading and its table) on stdout instead of the plain
   * printout, for `pnpm bench` to put into docs/benchmarks.md (apps/bench/src/sections.ts). Anything else goes
   * to stderr.
   */
  markdown: boolean;
  /** The bench's own boolean flags, by name. */
  flags: Record<string, boolean>;
}

/**
 * A bench's command line: `--quick`, `--markdown`, `--requests N`, `--rounds N`, and the
 * bench's own boolean `flags`.
 *
 * @example
 * ```ts
 * const { requests, rounds, flags } = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } }, ['control']);
 * ```
 */
export function benchArgs(
  sizes: { full: { requests: number; rounds: number }; quick: { requests: number; rounds: number } },
  flags: readonly string[] = [],
): BenchArgs {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      markdown: { type: 'boolean' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      ...Object.fromEntries(flags.map((flag) => [flag, { type: 'boolean' as const }])),
    },
  }) as { values: Record<string, string | boolean | undefined> };
  const quick = values['quick'] === true;
  const defaults = quick ? sizes.quick : sizes.full;
  const count = (value: unknown, fallback: number, name: string) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    requests: count(values['requests'], defaults.requests, 'requests'),
    rounds: count(values['rounds'], defaults.rounds, 'rounds'),
    quick,
    markdown: values['markdown'] === true,
    flags: Object.fromEntries(flags.map((flag) => [flag, values[flag] === true])),
  };
}
