// Spans and metrics as the real OpenTelemetry SDK collects them, against the real local servers: oidc-provider for
// discovery and a real token endpoint, test-utils' token server for failures and retries.
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTokenProvider, memoryStore, type TokenProviderOptions, type TokenStore } from '@tokenkit/core';
import { startOidcProvider, startTokenServer, waitFor, type OidcServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { METRICS, SPANS, tokenTelemetry, withTelemetry } from './index.ts';
import { collectingSdk, enableAsyncContext, points, total, type CollectingSdk } from './telemetry-fixture.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const CLIENT_SECRET = 'S3cr3t p@ss:w/rd+%&=x';
let server: TokenServer;
let op: OidcServer;
let sdk: CollectingSdk;
beforeAll(async () => {
  enableAsyncContext();
  sdk = collectingSdk();
  [server, op] = await Promise.all([
    startTokenServer({ clients: { 'client-id': CLIENT_SECRET } }),
    startOidcProvider({ accessTokenTtl: 120 }),
  ]);
});
afterAll(() => Promise.all([server.close(), op.close(), sdk.shutdown()]));
beforeEach(() => {
  sdk.reset();
  server.misbehave(undefined);
});

const telemetry = () => tokenTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
const parentId = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;
const named = (name: string) => sdk.spans().filter((s) => s.name === name);
/** Runs `fn` inside a span of the test's own, as an instrumented API call would; returns that span's id. */
async function inSpan(fn: () => Promise<unknown>): Promise<string> {
  const outer = sdk.tracerProvider.getTracer('test').startSpan('api call');
  try {
    await context.with(trace.setSpan(context.active(), outer), fn);
  } finally {
    outer.end();
  }
  return outer.spanContext().spanId;
}

/** Every string in every span and metric collected, for the no-secret checks. */
async function everything(): Promise<string> {
  const metrics = await sdk.metrics();
  return JSON.stringify({
    spans: sdk.spans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })),
    metrics: [...metrics.values()].map((m) => ({ name: m.descriptor.name, points: m.dataPoints })),
  });
}

function expectNoSecret(text: string, secrets: readonly string[]) {
  for (const secret of secrets) {
    for (const form of [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams([['', secret]]).toString().slice(1),
      Buffer.from(secret).toString('base64'),
    ])
      expect(text).not.toContain(JSON.stringify(form).slice(1, -1));
  }
}

describe('traces', () => {
  it('discovery and a token request at oidc-provider: spans under the caller span, HTTP attempt spans under them', async () => {
    const { clientId, clientSecret } = op.clients.post;
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId,
      clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read',
      resource: op.resource,
      onEvent: telemetry(),
    });
    const outer = await inSpan(() => tokens.getToken());
    const port = Number(new URL(op.issuer).port);

    const [discovery] = named(SPANS.discovery);
    expect(discovery).toBeDefined();
    expect(parentId(discovery)).toBe(outer);
    expect(discovery!.kind).toBe(SpanKind.INTERNAL);
    expect(discovery!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(discovery!.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': port,
      'tokenkit.client_auth_method': 'client_secret_post',
    });
    expect(discovery!.attributes['tokenkit.discovery.auth_methods']).toContain('client_secret_post');
    const [get] = named('GET');
    expect(parentId(get)).toBe(discovery!.spanContext().spanId);
    expect(get!.kind).toBe(SpanKind.CLIENT);
    expect(get!.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `${op.issuer}/.well-known/openid-configuration`,
      'http.response.status_code': 200,
    });

    const [request] = named(SPANS.tokenRequest);
    expect(parentId(request)).toBe(outer);
    expect(request!.attributes).toEqual({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'tokenkit.grant_type': 'client_credentials',
      'tokenkit.client_id': clientId,
      'tokenkit.client_auth_method': 'client_secret_post',
      'tokenkit.scope.requested': ['payments:read'],
      'tokenkit.scope.granted': ['payments:read'],
      'tokenkit.background': false,
      'tokenkit.provider.key': tokens.key,
      'tokenkit.retry_count': 0,
      'http.response.status_code': 200,
    });
    expect(request!.status.code).toBe(SpanStatusCode.UNSET);
    const [post] = named('POST');
    expect(parentId(post)).toBe(request!.spanContext().spanId);
    expect(post!.attributes).toEqual({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': op.tokenEndpoint,
      'http.response.status_code': 200,
    });
    // The discovery ends before the token request starts.
    expect(discovery!.endTime[0] * 1e9 + discovery!.endTime[1]).toBeLessThanOrEqual(
      request!.startTime[0] * 1e9 + request!.startTime[1],
    );
    expectNoSecret(await everything(), [clientSecret, (await tokens.getToken()).accessToken]);
  });

  it('a retried request: retry count, one CLIENT span per attempt with resend count and the 503 as error.type', async () => {
    server.misbehave((_, n) => (n === 1 ? { status: 503, body: 'busy' } : undefined));
    const tokens = createTokenProvider(
      withTelemetry(
        { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: CLIENT_SECRET },
        { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider },
      ),
    );
    await inSpan(() => tokens.getToken());
    const [request] = named(SPANS.tokenRequest);
    expect(request!.attributes['tokenkit.retry_count']).toBe(1);
    const attempts = named('POST').sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    expect(
      attempts.map((s) => [s.attributes['http.response.status_code'], s.attributes['error.type'], s.status.code]),
    ).toEqual([
      [503, '503', SpanStatusCode.ERROR],
      [200, undefined, SpanStatusCode.UNSET],
    ]);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([undefined, 1]);
    expect(attempts.every((s) => parentId(s) === request!.spanContext().spanId)).toBe(true);
  });

  it('a refused request: error.type from the error code, the OAuth error, an ERROR status; the server text nowhere', async () => {
    server.misbehave((request) => ({
      status: 401,
      body: { error: 'invalid_client', error_description: `bad ${request.headers.authorization} ${request.raw}` },
    }));
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: CLIENT_SECRET,
      onEvent: telemetry(),
    });
    await expect(inSpan(() => tokens.getToken())).rejects.toThrow(/invalid_client/);
    const [request] = named(SPANS.tokenRequest);
    expect(request!.attributes).toMatchObject({
      'error.type': 'oauth_error',
      'tokenkit.oauth.error': 'invalid_client',
      'http.response.status_code': 401,
    });
    expect(request!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'invalid_client' });
    expect(named('POST')[0]!.attributes['error.type']).toBe('401');
    const metrics = await sdk.metrics();
    expect(
      total(metrics.get(METRICS.tokenRequests), { 'tokenkit.outcome': 'failure', 'error.type': 'oauth_error' }),
    ).toBe(1);
    const text = await everything();
    expect(text).not.toContain('bad ');
    expectNoSecret(text, [
      CLIENT_SECRET,
      `client-id:${CLIENT_SECRET}`,
      `client-id:${encodeURIComponent(CLIENT_SECRET)}`,
    ]);
  });

  it('no answer: error.type network on each attempt and on the request', async () => {
    server.misbehave(() => ({ reset: true }));
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: CLIENT_SECRET,
      maxRetries: 1,
      onEvent: telemetry(),
    });
    await expect(tokens.getToken()).rejects.toThrow();
    expect(named('POST').map((s) => [s.attributes['error.type'], s.attributes['http.response.status_code']])).toEqual([
      ['network', undefined],
      ['network', undefined],
    ]);
    expect(named(SPANS.tokenRequest)[0]!.attributes['error.type']).toBe('network');
  });

  it('a failed discovery: an ERROR span with discovery_failed, its 404 attempts as children', async () => {
    const tokens = createTokenProvider({
      issuer: server.origin + '/nowhere',
      clientId: 'client-id',
      clientSecret: CLIENT_SECRET,
      onEvent: telemetry(),
    });
    await expect(tokens.getToken()).rejects.toThrow(/discovery/);
    const [discovery] = named(SPANS.discovery);
    expect(discovery!.attributes['error.type']).toBe('discovery_failed');
    expect(discovery!.status.code).toBe(SpanStatusCode.ERROR);
    expect(named('GET').map((s) => s.attributes['error.type'])).toEqual(['404', '404']);
    expect(named(SPANS.tokenRequest)).toHaveLength(0);
  });
});

describe('metrics', () => {
  it('requests by outcome and grant, their duration in seconds, cache hits and misses, the remaining lifetime', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: CLIENT_SECRET,
      extraParams: { test: 'metrics' }, // a key of its own: the metrics are cumulative over the file
      onEvent: telemetry(),
    });
    await Promise.all([tokens.getToken(), tokens.getToken()]);
    for (let i = 0; i < 5; i++) await tokens.getToken();
    const metrics = await sdk.metrics();
    const byKey = { 'tokenkit.provider.key': tokens.key };
    const requests = metrics.get(METRICS.tokenRequests);
    expect(requests?.descriptor.unit).toBe('{request}');
    expect(points(requests, byKey).map((p) => p.attributes)).toEqual([
      {
        ...byKey,
        'tokenkit.grant_type': 'client_credentials',
        'server.address': '127.0.0.1',
        'server.port': Number(new URL(server.url).port),
        'tokenkit.outcome': 'success',
      },
    ]);
    expect(total(requests, byKey)).toBe(1);
    const duration = metrics.get(METRICS.tokenRequestDuration);
    expect(duration?.descriptor.unit).toBe('s');
    const [histogram] = points(duration, byKey) as { value: { count: number; sum: number } }[];
    expect(histogram!.value.count).toBe(1);
    expect(histogram!.value.sum).toBeGreaterThan(0);
    expect(histogram!.value.sum).toBeLessThan(30); // seconds, not milliseconds
    const lookups = metrics.get(METRICS.cacheLookups);
    expect(total(lookups, { ...byKey, 'tokenkit.cache.result': 'miss' })).toBe(2);
    expect(total(lookups, { ...byKey, 'tokenkit.cache.result': 'hit' })).toBe(5);
    const lifetime = points(metrics.get(METRICS.remainingLifetime), byKey);
    expect(metrics.get(METRICS.remainingLifetime)?.descriptor.unit).toBe('s');
    expect(lifetime).toHaveLength(1);
    expect(lifetime[0]!.value).toBeGreaterThan(3500);
    expect(lifetime[0]!.value).toBeLessThanOrEqual(3600);
  });

  it('background refreshes, store hits and store errors (once per outage)', async () => {
    let now = Date.now();
    const store = memoryStore();
    const options: TokenProviderOptions = {
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: CLIENT_SECRET,
      store,
      now: () => now,
      onEvent: telemetry(),
    };
    const tokens = createTokenProvider(options);
    const first = await tokens.getToken();
    now = first.expiresAt - 60_000; // inside the refresh-ahead window
    await tokens.getToken();
    await waitFor(() => server.count >= 2 && tokens.cachedAuthorizationHeader() !== `Bearer ${first.accessToken}`);
    const restarted = createTokenProvider(options);
    await restarted.getToken();

    let failing = true;
    const flaky: TokenStore = {
      get: async (key) => (failing ? Promise.reject(new Error(`down, ${CLIENT_SECRET}`)) : store.get(key)),
      set: async (key, token, ttl) => (failing ? Promise.reject(new Error('down')) : store.set(key, token, ttl)),
      delete: (key) => store.delete(key),
    };
    const withFlaky = createTokenProvider({ ...options, store: flaky, scope: 'other' });
    await withFlaky.getToken();
    failing = false;

    const metrics = await sdk.metrics();
    expect(total(metrics.get(METRICS.refreshes), { 'tokenkit.provider.key': tokens.key })).toBe(1);
    expect(total(metrics.get(METRICS.storeHits), { 'tokenkit.provider.key': tokens.key })).toBe(1);
    expect(total(metrics.get(METRICS.storeErrors), { 'tokenkit.provider.key': withFlaky.key })).toBe(1);
    const background = named(SPANS.tokenRequest).filter((s) => s.attributes['tokenkit.background'] === true);
    expect(background).toHaveLength(1);
    expectNoSecret(await everything(), [CLIENT_SECRET, ...server.issued]);
  });

  it('traces: false records metrics only; metrics: false spans only', async () => {
    const providers = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider };
    const base = { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: CLIENT_SECRET };
    const metricsOnly = createTokenProvider({
      ...base,
      extraParams: { test: 'metrics-only' },
      onEvent: tokenTelemetry({ ...providers, traces: false }),
    });
    await metricsOnly.getToken();
    expect(sdk.spans()).toHaveLength(0);
    const tracesOnly = createTokenProvider({
      ...base,
      extraParams: { test: 'traces-only' },
      onEvent: tokenTelemetry({ ...providers, metrics: false }),
    });
    await tracesOnly.getToken();
    expect(named(SPANS.tokenRequest)).toHaveLength(1);
    const metrics = await sdk.metrics();
    expect(total(metrics.get(METRICS.tokenRequests), { 'tokenkit.provider.key': metricsOnly.key })).toBe(1);
    expect(total(metrics.get(METRICS.tokenRequests), { 'tokenkit.provider.key': tracesOnly.key })).toBe(0);
    expect(points(metrics.get(METRICS.cacheLookups), { 'tokenkit.provider.key': tracesOnly.key })).toHaveLength(0);
  });
});
