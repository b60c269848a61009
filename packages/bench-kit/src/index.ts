// @tokenkit/bench-kit: the benchmark harness shared by every package's bench/*.ts and by apps/bench.
// Private, never published; the servers the benches run against come from @tokenkit/test-utils.
export { benchArgs, type BenchArgs } from './args.ts';
export {
  measureAdapterOverhead,
  measurePaired,
  medianOverheadMicros,
  pairedTable,
  printPaired,
  withBenchServers,
  type AdapterBenchPair,
  type AdapterBenchSetup,
  type BenchProviderOptions,
  type PairedBenchOptions,
  type PairedResult,
  type PairedRound,
} from './paired.ts';
export { cpuRate, interleavedRates, rotation, type RateContender, type RatesResult } from './rates.ts';
export { median } from './stats.ts';
export { renderMarkdown, renderMarkdownBody, renderText, type Table } from './table.ts';
