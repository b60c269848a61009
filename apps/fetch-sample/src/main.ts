// A client of the payments API on plain fetch that gets its OAuth 2.0 access
// tokens from tokenkit (client_credentials; client_secret_post and discovery in
// the demo). See README.md for the environment variables and how to run it. The
// demo's narration, counting and checks come from apps/demo-stack/src/sample-kit.ts.
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTokenProvider, isTokenKitError, withTokens, type ClientAuthMethod } from '@tokenkit/fetch';
import { withTelemetry } from '@tokenkit/opentelemetry';
import { startSample, type Payment } from '@tokenkit-apps/demo-stack/sample-kit';

// The OpenTelemetry SDK, registered as a service's telemetry set-up would, but collecting in memory (a service would
// export over OTLP): the sample prints what it collected at the end.
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

/** fetch resolves every HTTP answer: a call that got no 2xx throws this. */
class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

const demo = startSample({
  name: 'fetch',
  isTokenKitError,
  describeError: (error) => (error instanceof HttpError ? `${error.status} ${error.message}` : undefined),
});
const { env, need } = demo;

// One token provider per client identity, shared by everything in the process. withTelemetry() adds tokenkit's
// spans and metrics (to the global OpenTelemetry providers); the demo's own onEvent still gets every event.
const tokens = createTokenProvider(
  withTelemetry({
    issuer: env('TOKEN_ISSUER'), // the token endpoint is discovered from the issuer, or given:
    tokenEndpoint: env('TOKEN_ISSUER') ? undefined : need('TOKEN_URL'),
    clientId: need('CLIENT_ID'),
    clientSecret: need('CLIENT_SECRET'),
    clientAuthMethod: env('CLIENT_AUTH_METHOD') as ClientAuthMethod | undefined, // default client_secret_basic
    scope: env('SCOPE'),
    resource: env('RESOURCE'),
    audience: env('AUDIENCE'),
    onEvent: demo.onTokenEvent,
  }),
);

// fetch with the token on requests to the API's origin, nowhere else. It has fetch's own signature, so it also
// goes where an SDK takes a `fetch` option.
const apiUrl = new URL(need('API_URL'));
const api = withTokens(tokens, { origins: [apiUrl.origin] });

async function call<T>(method: 'GET' | 'POST', path: string, json?: unknown): Promise<T> {
  const res = await api(new URL(path, apiUrl), {
    method,
    ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
    signal: AbortSignal.timeout(5000), // the wait for a token included
  });
  if (!res.ok) throw new HttpError(res.status, `${method} ${path}: ${res.statusText}`);
  return (await res.json()) as T;
}

// withTokens drops a token the API refuses (401), gets one new token for all calls and sends each once more.
await demo.paymentSteps(
  {
    list: () => call<{ payments: Payment[] }>('GET', '/payments'),
    create: (amount) => call<Payment>('POST', '/payments', { amount, currency: 'EUR' }),
    read: (id) => call<Payment>('GET', `/payments/${id}`),
    refund: (id) => call<Payment>('POST', `/payments/${id}/refund`),
  },
  tokens,
);

// What OpenTelemetry collected: spans by name and outcome, then tokenkit's metrics.
const byName = new Map<string, { ok: number; failed: number }>();
for (const span of spans.getFinishedSpans()) {
  const tally = byName.get(span.name) ?? { ok: 0, failed: 0 };
  if (span.status.code === 2) tally.failed++;
  else tally.ok++;
  byName.set(span.name, tally);
}
demo.say(
  `OpenTelemetry spans: ${[...byName].map(([name, t]) => `${t.ok + t.failed} × ${name}${t.failed > 0 ? ` (${t.failed} failed)` : ''}`).join(', ')}`,
);
await reader.forceFlush();
const collected =
  metricExporter
    .getMetrics()
    .at(-1)
    ?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
for (const metric of collected.filter((m) => m.descriptor.name.startsWith('tokenkit.'))) {
  const values = (metric.dataPoints as DataPoint<unknown>[]).map((point) => {
    const value = point.value as number | { count: number; sum: number };
    const shown =
      typeof value === 'number'
        ? Number.isInteger(value)
          ? String(value)
          : value.toFixed(1)
        : `${value.count} recorded, ${value.sum.toFixed(3)} s in all`;
    const labels = ['tokenkit.cache.result', 'tokenkit.outcome', 'error.type']
      .filter((name) => point.attributes[name] !== undefined)
      .map((name) => `${name}=${String(point.attributes[name])}`);
    return labels.length > 0 ? `${shown} (${labels.join(', ')})` : shown;
  });
  demo.say(`OpenTelemetry metric ${metric.descriptor.name} [${metric.descriptor.unit}]: ${values.join('; ')}`);
}

demo.report();
