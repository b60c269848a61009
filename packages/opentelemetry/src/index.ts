/**
 * `@tokenkit/opentelemetry`: OpenTelemetry traces and metrics for `@tokenkit/core` providers, built on
 * `@opentelemetry/api` alone (bring your own SDK). It is an `onEvent` observer: core reports what it does, this
 * package turns it into spans and measurements. Nothing it records carries a secret, a token or a URL query: core's
 * events never hold them, and only codes (never server text) become attributes.
 * @packageDocumentation
 */
import {
  context,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type ObservableCounter,
  type ObservableGauge,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { TokenEvent, TokenProviderOptions } from '@tokenkit/core';

/** The instrumentation scope of every span and instrument. */
export const INSTRUMENTATION_SCOPE = '@tokenkit/opentelemetry';

/** Names of the metrics recorded, as exported. */
export const METRICS = {
  /** Counter, `{request}`: token requests ended, by grant type, server and outcome (`error.type` on failure). */
  tokenRequests: 'tokenkit.token.requests',
  /** Histogram, `s`: how long each token request took, every attempt and wait between them included. */
  tokenRequestDuration: 'tokenkit.token.request.duration',
  /** Counter, `{lookup}`: `getToken()`-style calls, by `tokenkit.cache.result` (`hit`: served from memory, `miss`: waited). */
  cacheLookups: 'tokenkit.cache.lookups',
  /** Counter, `{refresh}`: background refreshes started ahead of expiry. */
  refreshes: 'tokenkit.token.refreshes',
  /** Counter, `{hit}`: tokens taken from the store (a fleet peer's, or one kept across a restart). */
  storeHits: 'tokenkit.store.hits',
  /** Counter, `{error}`: store outages (one per outage: a failing store counts as a miss until it answers). */
  storeErrors: 'tokenkit.store.errors',
  /** Gauge, `s`: remaining lifetime of the token each provider serves (until its `expiresAt`). */
  remainingLifetime: 'tokenkit.token.remaining_lifetime',
} as const;

/** Span names. Each HTTP attempt is a child span named after its method (`POST`, `GET`), per the HTTP conventions. */
export const SPANS = {
  tokenRequest: 'tokenkit token request',
  discovery: 'tokenkit discovery',
} as const;

/** Options of {@link tokenTelemetry}. */
export interface TelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or the SDK's `start()`). */
  tracerProvider?: TracerProvider | undefined;
  /** Where measurements go. Default: the global meter provider, looked up again until one is registered. */
  meterProvider?: MeterProvider | undefined;
  /** Record spans. Default true. */
  traces?: boolean | undefined;
  /** Record metrics. Default true. */
  metrics?: boolean | undefined;
}

/** The HTTP client conventions' buckets for request durations, in seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface Instruments {
  provider: MeterProvider;
  requests: Counter;
  duration: Histogram;
  lookups: ObservableCounter;
  refreshes: Counter;
  storeHits: Counter;
  storeErrors: Counter;
  lifetime: ObservableGauge;
}

/**
 * An `onEvent` observer that records spans and metrics for every provider it is given to.
 *
 * Traces: a span per token request (`tokenkit token request`) and per discovery (`tokenkit discovery`), children of
 * the span active when they started, each with a `CLIENT` child span per HTTP attempt following the HTTP client
 * conventions (`http.request.method`, `server.address`, `server.port`, `url.full` without a query,
 * `http.response.status_code`, `http.request.resend_count`, `error.type`).
 *
 * Metrics: see {@link METRICS}. Every measurement has `tokenkit.provider.key` (the provider's cache key, a hash).
 *
 * @example
 * ```ts
 * import { createTokenProvider } from '@tokenkit/core';
 * import { tokenTelemetry } from '@tokenkit/opentelemetry';
 *
 * const tokens = createTokenProvider({
 *   tokenEndpoint: 'https://auth.example.com/oauth2/token',
 *   clientId: 'billing',
 *   clientSecret: process.env.CLIENT_SECRET,
 *   onEvent: tokenTelemetry(),
 * });
 * ```
 */
export function tokenTelemetry(options: TelemetryOptions = {}): (event: TokenEvent) => void {
  const tracing = options.traces !== false;
  const measuring = options.metrics !== false;
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
  /**
   * Open spans of token requests and discoveries by provider key and event id, of attempts by `key#id:attempt`: ids
   * are unique per copy of core, and an application may load two (ESM and CommonJS).
   */
  const open = new Map<string, Span>();
  /** When the token each provider serves expires (epoch ms), for the gauge. */
  const expiries = new Map<string, number>();
  /**
   * Per provider key: its attributes, made once, and its cache lookups so far. Lookups are counted here and reported
   * by an asynchronous counter when the SDK collects: a cache hit is then an integer increment, with or without an
   * SDK, where a synchronous counter would hash its attributes on every call.
   */
  const byKey = new Map<string, Keyed>();
  const keyed = (key: string): Keyed => {
    let found = byKey.get(key);
    if (found === undefined) {
      const plain = { 'tokenkit.provider.key': key };
      found = {
        plain,
        hitAttributes: { ...plain, 'tokenkit.cache.result': 'hit' },
        missAttributes: { ...plain, 'tokenkit.cache.result': 'miss' },
        hits: 0,
        misses: 0,
      };
      byKey.set(key, found);
    }
    return found;
  };
  let last: Keyed | undefined;

  let instruments: Instruments | undefined;
  /**
   * The metrics API has no proxy for a provider registered later (as the trace API has): the global one is looked up
   * again on each event that records a measurement (not on cache hits), and instruments made anew when it changed.
   */
  const meterNow = (): Instruments | undefined => {
    if (!measuring) return undefined;
    const provider = options.meterProvider ?? metrics.getMeterProvider();
    if (instruments?.provider !== provider)
      instruments = createInstruments(provider, provider.getMeter(INSTRUMENTATION_SCOPE), expiries, byKey);
    return instruments;
  };

  return (event) => {
    // The hot path: a served call. An increment, on the last provider's counts when it is the same one.
    if (event.type === 'hit') {
      if (measuring) (last?.plain['tokenkit.provider.key'] === event.key ? last : (last = keyed(event.key))).hits++;
      return;
    }
    switch (event.type) {
      case 'miss':
        meterNow(); // registers the asynchronous instruments, which report the counts
        if (measuring) keyed(event.key).misses++;
        return;
      case 'refresh':
        meterNow()?.refreshes.add(1, keyed(event.key).plain);
        return;
      case 'store_hit':
        meterNow()?.storeHits.add(1, keyed(event.key).plain);
        expiries.set(event.key, event.expiresAt);
        return;
      case 'fetch':
        meterNow();
        expiries.set(event.key, event.expiresAt);
        return;
      case 'invalidate':
        if (event.dropped) expiries.delete(event.key);
        return;
      case 'error':
        if (event.error.code === 'store') meterNow()?.storeErrors.add(1, keyed(event.key).plain);
        return;
      case 'request_start': {
        if (!tracing) return;
        const server = serverOf(event.origin);
        const span = tracer.startSpan(SPANS.tokenRequest, {
          kind: SpanKind.INTERNAL,
          attributes: {
            'http.request.method': 'POST',
            ...server,
            'tokenkit.grant_type': event.grant,
            'tokenkit.client_id': event.clientId,
            'tokenkit.client_auth_method': event.clientAuth,
            'tokenkit.scope.requested': [...event.scope],
            'tokenkit.background': event.background,
            'tokenkit.provider.key': event.key,
          },
        });
        open.set(`${event.key}#${event.id}`, span);
        return;
      }
      case 'request_end': {
        const m = meterNow();
        if (m !== undefined) {
          const attributes: Attributes = {
            'tokenkit.provider.key': event.key,
            'tokenkit.grant_type': event.grant,
            ...serverOf(event.origin),
            'tokenkit.outcome': event.error === undefined ? 'success' : 'failure',
          };
          if (event.error !== undefined) attributes['error.type'] = event.error.code;
          m.requests.add(1, attributes);
          m.duration.record(event.durationMs / 1000, attributes);
        }
        const span = take(open, `${event.key}#${event.id}`);
        if (span === undefined) return;
        span.setAttribute('tokenkit.retry_count', Math.max(0, event.attempts - 1));
        if (event.status !== undefined) span.setAttribute('http.response.status_code', event.status);
        if (event.grantedScope !== undefined) span.setAttribute('tokenkit.scope.granted', [...event.grantedScope]);
        endWithOutcome(span, event.error);
        return;
      }
      case 'discovery_start': {
        if (!tracing) return;
        const span = tracer.startSpan(SPANS.discovery, {
          kind: SpanKind.INTERNAL,
          attributes: { ...serverOf(event.issuer), 'tokenkit.provider.key': event.key },
        });
        open.set(`${event.key}#${event.id}`, span);
        return;
      }
      case 'discovery_end': {
        const span = take(open, `${event.key}#${event.id}`);
        if (span === undefined) return;
        if (event.clientAuth !== undefined) span.setAttribute('tokenkit.client_auth_method', event.clientAuth);
        if (event.authMethods !== undefined)
          span.setAttribute('tokenkit.discovery.auth_methods', [...event.authMethods]);
        endWithOutcome(span, event.error);
        return;
      }
      case 'attempt_start': {
        const parent = open.get(`${event.key}#${event.id}`);
        if (parent === undefined) return;
        const attributes: Attributes = {
          'http.request.method': event.method,
          ...serverOf(event.url),
          'url.full': event.url, // origin and path: core never puts a query into an event
        };
        if (event.attempt > 1) attributes['http.request.resend_count'] = event.attempt - 1;
        const span = tracer.startSpan(
          event.method,
          { kind: SpanKind.CLIENT, attributes },
          trace.setSpan(context.active(), parent),
        );
        open.set(`${event.key}#${event.id}:${event.attempt}`, span);
        return;
      }
      case 'attempt_end': {
        const span = take(open, `${event.key}#${event.id}:${event.attempt}`);
        if (span === undefined) return;
        if (event.status !== undefined) span.setAttribute('http.response.status_code', event.status);
        // HTTP conventions: the status code as a string for a 4xx/5xx answer; else what left it without one.
        const errorType =
          event.status === undefined
            ? (event.errorCode ?? '_OTHER')
            : event.status >= 400
              ? String(event.status)
              : undefined;
        if (errorType !== undefined) {
          span.setAttribute('error.type', errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
        return;
      }
      case 'unauthorized':
        // On the span of the API call, when the HTTP client is instrumented: why it was, or was not, sent again.
        if (tracing)
          trace.getActiveSpan()?.addEvent('tokenkit.unauthorized', {
            'tokenkit.retried': event.retried,
            ...(event.reason !== undefined && { 'tokenkit.reason': event.reason }),
          });
        return;
      default:
        return;
    }
  };
}

/**
 * `options` with {@link tokenTelemetry} added to its `onEvent` (any `onEvent` already there still gets every event).
 * @example
 * ```ts
 * import { createTokenProvider } from '@tokenkit/core';
 * import { withTelemetry } from '@tokenkit/opentelemetry';
 *
 * const tokens = createTokenProvider(
 *   withTelemetry({ issuer: 'https://id.example.com', clientId: 'billing', clientSecret: process.env.CLIENT_SECRET }),
 * );
 * ```
 */
export function withTelemetry<T extends TokenProviderOptions>(options: T, telemetry?: TelemetryOptions): T {
  const record = tokenTelemetry(telemetry);
  const theirs = options.onEvent;
  return {
    ...options,
    onEvent:
      theirs === undefined
        ? record
        : (event: TokenEvent) => {
            try {
              theirs(event);
            } finally {
              record(event);
            }
          },
  };
}

interface Keyed {
  plain: { 'tokenkit.provider.key': string };
  hitAttributes: Attributes;
  missAttributes: Attributes;
  hits: number;
  misses: number;
}

function createInstruments(
  provider: MeterProvider,
  meter: Meter,
  expiries: ReadonlyMap<string, number>,
  byKey: ReadonlyMap<string, Keyed>,
): Instruments {
  const lifetime = meter.createObservableGauge(METRICS.remainingLifetime, {
    unit: 's',
    description: 'Remaining lifetime of the access token the provider serves',
  });
  lifetime.addCallback((result) => {
    const now = Date.now();
    for (const [key, expiresAt] of expiries)
      result.observe(Math.max(0, (expiresAt - now) / 1000), byKey.get(key)?.plain ?? { 'tokenkit.provider.key': key });
  });
  const lookups = meter.createObservableCounter(METRICS.cacheLookups, {
    unit: '{lookup}',
    description: 'Calls for a token, served from memory (hit) or waiting for one (miss)',
  });
  lookups.addCallback((result) => {
    for (const counts of byKey.values()) {
      if (counts.hits > 0) result.observe(counts.hits, counts.hitAttributes);
      if (counts.misses > 0) result.observe(counts.misses, counts.missAttributes);
    }
  });
  return {
    provider,
    requests: meter.createCounter(METRICS.tokenRequests, {
      unit: '{request}',
      description: 'Token requests sent to the token endpoint, by outcome',
    }),
    duration: meter.createHistogram(METRICS.tokenRequestDuration, {
      unit: 's',
      description: 'Duration of token requests, retries and waits between them included',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    lookups,
    refreshes: meter.createCounter(METRICS.refreshes, {
      unit: '{refresh}',
      description: 'Background refreshes started ahead of expiry',
    }),
    storeHits: meter.createCounter(METRICS.storeHits, { unit: '{hit}', description: 'Tokens taken from the store' }),
    storeErrors: meter.createCounter(METRICS.storeErrors, {
      unit: '{error}',
      description: 'Store outages (each counted once)',
    }),
    lifetime,
  };
}

/** `server.address` and `server.port` of a URL (the port even when it is the scheme's default, as the conventions ask). */
function serverOf(url: string): Attributes {
  try {
    const parsed = new URL(url);
    const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
    return { 'server.address': parsed.hostname.replace(/^\[|\]$/g, ''), 'server.port': port };
  } catch {
    return {};
  }
}

function take(open: Map<string, Span>, id: string): Span | undefined {
  const span = open.get(id);
  open.delete(id);
  return span;
}

/** Ends a span; a failure sets `error.type` to tokenkit's error code (never the server's text) and the status. */
function endWithOutcome(span: Span, error: { code: string; error?: unknown } | undefined): void {
  if (error !== undefined) {
    span.setAttribute('error.type', error.code);
    // The server's `error` code (RFC 6749 §5.2: a short ASCII code); anything else is not taken as one.
    const oauth = typeof error.error === 'string' && /^[\w.-]{1,64}$/.test(error.error) ? error.error : undefined;
    if (oauth !== undefined) span.setAttribute('tokenkit.oauth.error', oauth);
    span.setStatus({ code: SpanStatusCode.ERROR, message: oauth ?? error.code });
  }
  span.end();
}
