// Shared by the tests: a real Apollo Server 5 whose one resolver runs what each test asks of its data source.
import { ApolloServer } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { findTokenKitError, OAuthRESTDataSource, type OAuthDataSourceConfig } from './index.ts';

/** A data source whose request methods the tests may call. */
export class TestAPI extends OAuthRESTDataSource {
  call<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, init: Record<string, unknown> = {}): Promise<T> {
    return this.fetch<T>(path, { method, ...init } as never).then((r) => r.parsedBody);
  }
  result(path: string, init: Record<string, unknown> = {}) {
    return this.fetch(path, init as never);
  }
  cacheKey(url: string) {
    return this.cacheKeyFor(new URL(url), {});
  }
}

/** A subclass per base URL, written the way users write it: `override baseURL = ...` as a class field. */
export function apiAt(base: string): typeof TestAPI {
  return class extends TestAPI {
    override baseURL = base;
  };
}

export interface Context {
  run: () => Promise<unknown>;
}

export async function startGraphQL() {
  const server = new ApolloServer<Context>({
    typeDefs: 'type Query { result: String }',
    resolvers: { Query: { result: async (_root, _args, ctx) => JSON.stringify(await ctx.run()) } },
    includeStacktraceInErrorResponses: true,
    formatError(formatted, error) {
      const tk = findTokenKitError(unwrapResolverError(error));
      return tk === undefined ? formatted : { ...formatted, extensions: { ...formatted.extensions, tokenkit: { code: tk.code, name: tk.name } } };
    },
  });
  await server.start();
  return {
    server,
    /** Runs `run` inside a resolver of a real operation; answers the parsed result or the GraphQL errors. */
    async execute(run: () => Promise<unknown>): Promise<{ data: unknown; errors: readonly GraphQLFormattedError[] | undefined; raw: string }> {
      const response = await server.executeOperation({ query: '{ result }' }, { contextValue: { run } });
      if (response.body.kind !== 'single') throw new Error('expected a single result');
      const { data, errors } = response.body.singleResult;
      const result = (data as { result?: string | null } | null | undefined)?.result;
      return { data: typeof result === 'string' ? JSON.parse(result) : result, errors, raw: JSON.stringify(response.body.singleResult) };
    },
  };
}

export type Config = OAuthDataSourceConfig;
