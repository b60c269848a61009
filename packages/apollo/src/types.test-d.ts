// Type tests: checked by `tsc -p tsconfig.json` (each @ts-expect-error must be a real error).
import { ApolloServer } from '@apollo/server';
import type { AugmentedRequest, DataSourceFetchResult } from '@apollo/datasource-rest';
import { expectTypeOf } from 'vitest';
import { createTokenProvider, OAuthRESTDataSource, type OAuthDataSourceConfig, type TokenProvider } from './index.ts';

const tokens: TokenProvider = createTokenProvider({
  tokenEndpoint: 'https://auth.example.com/token',
  clientId: 'id',
  clientSecret: 'secret',
});
const server = new ApolloServer({ typeDefs: 'type Query { a: Int }' });

class PaymentsAPI extends OAuthRESTDataSource {
  override baseURL = 'https://api.example.com/';
  payment(id: string): Promise<{ id: string }> {
    return this.get(`payments/${id}`);
  }
  protected override async willSendRequest(path: string, request: AugmentedRequest) {
    request.headers['x-trace'] = '1';
    await super.willSendRequest(path, request);
  }
}

// Accepted: the provider plus RESTDataSource's own config and the adapter options.
new PaymentsAPI({ tokens });
new PaymentsAPI({ tokens, cache: server.cache, logger: console, fetch: globalThis.fetch as never });
new PaymentsAPI({
  tokens,
  origins: ['https://files.example.com', new URL('https://cdn.example.com')],
  retryOn401: false,
});
expectTypeOf<OAuthDataSourceConfig['tokens']>().toEqualTypeOf<TokenProvider>();
expectTypeOf(new PaymentsAPI({ tokens }).fetch<{ id: string }>('x')).resolves.toEqualTypeOf<
  DataSourceFetchResult<{ id: string }>
>();
expectTypeOf(new PaymentsAPI({ tokens }).payment('1')).resolves.toEqualTypeOf<{ id: string }>();

// @ts-expect-error the provider is required
new PaymentsAPI({ cache: server.cache });
// @ts-expect-error a config object is required
new PaymentsAPI();
// @ts-expect-error tokens must be a TokenProvider, not a header
new PaymentsAPI({ tokens: 'Bearer abc' });
// @ts-expect-error tokens must be a TokenProvider, not a bare token getter
new PaymentsAPI({ tokens: { getToken: async () => 'abc' } });
// @ts-expect-error origins is a list
new PaymentsAPI({ tokens, origins: 'https://files.example.com' });
// @ts-expect-error retryOn401 is a boolean
new PaymentsAPI({ tokens, retryOn401: 'once' });
// @ts-expect-error unknown option (typo of origins)
new PaymentsAPI({ tokens, origin: ['https://files.example.com'] });

class NoBase extends OAuthRESTDataSource {
  // @ts-expect-error baseURL is a string
  override baseURL = new URL('https://api.example.com/');
}
void NoBase;

class Wrong extends OAuthRESTDataSource {
  // @ts-expect-error willSendRequest must keep the (path, request) shape to be able to call super
  protected override willSendRequest(path: number) {
    return super.willSendRequest(String(path), {} as AugmentedRequest);
  }
}
void Wrong;
