// The real OpenTelemetry SDK, collecting into memory: what the tests (and the bench) read back.
import { context, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** Makes the active span follow `await`s, as the Node SDK does. Once per process. */
export function enableAsyncContext(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

export interface CollectingSdk {
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  /** Ended spans so far. */
  spans(): ReadableSpan[];
  /** Exports the metrics now and returns the last export's metrics, by name. */
  metrics(): Promise<Map<string, MetricData>>;
  reset(): void;
  shutdown(): Promise<void>;
}

export function collectingSdk(): CollectingSdk {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exports only when asked to (forceFlush): the interval is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: () => spanExporter.getFinishedSpans(),
    async metrics() {
      await reader.forceFlush();
      const exported = metricExporter.getMetrics().at(-1);
      const out = new Map<string, MetricData>();
      for (const scope of exported?.scopeMetrics ?? [])
        for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
      return out;
    },
    reset() {
      spanExporter.reset();
      metricExporter.reset();
    },
    async shutdown() {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/** The data points of `metric` whose attributes include `match`. */
export function points(metric: MetricData | undefined, match: Attributes = {}): DataPoint<unknown>[] {
  return ((metric?.dataPoints ?? []) as DataPoint<unknown>[]).filter((point) =>
    Object.entries(match).every(([name, value]) => point.attributes[name] === value),
  );
}

/** The sum of a counter's points whose attributes include `match`. */
export function total(metric: MetricData | undefined, match: Attributes = {}): number {
  return points(metric, match).reduce((sum, point) => sum + (point.value as number), 0);
}
