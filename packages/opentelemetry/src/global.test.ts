// The default set-up: no providers passed, the SDK registered globally — and before that, none at all.
import { context, metrics, trace } from '@opentelemetry/api';
import { createTokenProvider } from '@tokenkit/core';
import { createTokenClient } from '@tokenkit/core/adapter';
import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { METRICS, SPANS, tokenTelemetry } from './index.ts';
import { collectingSdk, enableAsyncContext, total, type CollectingSdk } from './telemetry-fixture.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let server: TokenServer;
let sdk: CollectingSdk;
beforeAll(async () => {
  server = await startTokenServer();
  sdk = collectingSdk();
});
afterAll(async () => {
  trace.disable();
  metrics.disable();
  context.disable();
  await Promise.all([server.close(), sdk.shutdown()]);
});

it('without an SDK no span, no measurement exported; an SDK registered later is picked up', async () => {
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    onEvent: tokenTelemetry(),
  });
  const first = await tokens.getToken();
  await tokens.getToken();
  expect(sdk.spans()).toHaveLength(0);

  enableAsyncContext();
  trace.setGlobalTracerProvider(sdk.tracerProvider);
  metrics.setGlobalMeterProvider(sdk.meterProvider);
  await tokens.invalidate(first.accessToken);
  await tokens.getToken();
  for (let i = 0; i < 3; i++) await tokens.getToken();

  expect(sdk.spans().filter((s) => s.name === SPANS.tokenRequest)).toHaveLength(1);
  expect(sdk.spans().filter((s) => s.name === 'POST')).toHaveLength(1);
  const collected = await sdk.metrics();
  expect(total(collected.get(METRICS.tokenRequests))).toBe(1);
  // Lookups are counted from the start and reported when an SDK collects: before it was registered too.
  expect(total(collected.get(METRICS.cacheLookups), { 'tokenkit.cache.result': 'miss' })).toBe(2);
  expect(total(collected.get(METRICS.cacheLookups), { 'tokenkit.cache.result': 'hit' })).toBe(4);
});

it("an API's 401 is an event on the active span (the instrumented HTTP client's): retried, or why not", async () => {
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    onEvent: tokenTelemetry(),
  });
  const client = createTokenClient(tokens, { baseUrl: 'https://api.example.com' });
  const call = trace.getTracer('test').startSpan('GET /orders');
  await context.with(trace.setSpan(context.active(), call), async () => {
    const request = client.start();
    await request.header('https://api.example.com/orders');
    expect(await request.retryAfter(401)).toBe(true);
    await request.header('https://api.example.com/orders');
    expect(await request.retryAfter(401)).toBe(false);
  });
  call.end();
  const [span] = sdk.spans().filter((s) => s.name === 'GET /orders');
  expect(span!.events.map((e) => [e.name, e.attributes])).toEqual([
    ['tokenkit.unauthorized', { 'tokenkit.retried': true }],
    ['tokenkit.unauthorized', { 'tokenkit.retried': false, 'tokenkit.reason': 'already_retried' }],
  ]);
});
