import { createTokenProvider, type TokenEvent, type TokenProvider } from '@tokenkit/core';
import { expectTypeOf, test } from 'vitest';
import { tokenTelemetry, withTelemetry } from './index.ts';

test('one line: withTelemetry keeps the options as they were typed; tokenTelemetry is an onEvent', () => {
  const options = withTelemetry({ tokenEndpoint: 'https://auth.example.com/token', clientId: 'c', scope: ['a', 'b'] });
  expectTypeOf(options.scope).toEqualTypeOf<string[]>();
  expectTypeOf(createTokenProvider(options)).toEqualTypeOf<TokenProvider>();
  expectTypeOf(tokenTelemetry()).toEqualTypeOf<(event: TokenEvent) => void>();
  createTokenProvider({ tokenEndpoint: 'https://auth.example.com/token', clientId: 'c', onEvent: tokenTelemetry() });
});

test('misuse is a compile error', () => {
  // @ts-expect-error traces is a boolean
  tokenTelemetry({ traces: 'yes' });
  // @ts-expect-error a meter provider, not a meter
  tokenTelemetry({ meterProvider: { createCounter() {} } });
  // @ts-expect-error the options need a clientId
  withTelemetry({ tokenEndpoint: 'https://auth.example.com/token' });
});
