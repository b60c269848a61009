// Shared by the tests: a real Apollo Server 5 whose one resolver runs what each test asks of its data source, and
// the adapter loaded over @apollo/datasource-rest 6.2.0.
import { createRequire } from 'node:module';
import { ApolloServer } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { vi } from 'vitest';
import type * as current from './index.ts';
import { findTokenKitError, OAuthRESTDataSource, type OAuthDataSourceConfig } from './index.ts';

const require = createRequire(import.meta.url);
/** The installed version of a package (the alias `datasource-rest-6.2` included). */
export const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

/**
 * src/index.ts loaded a second time, with '@apollo/datasource-rest' resolving to the real 6.2.0 release (installed
 * as the alias 'datasource-rest-6.2'): nothing is stubbed, the whole of 6.2.0 (its HTTPCache, its node-fetch 2) runs.
 */
export async function adapterOn62(): Promise<typeof current> {
  vi.resetModules();
  vi.doMock('@apollo/datasource-rest', () => import('datasource-rest-6.2'));
  try {
    return await import('./index.ts');
  } finally {
    vi.doUnmock('@apollo/datasource-rest');
  }
}

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
      return tk === undefined
        ? formatted
        : { ...formatted, extensions: { ...formatted.extensions, tokenkit: { code: tk.code, name: tk.name } } };
    },
  });
  await server.start();
  return {
    server,
    /** Runs `run` inside a resolver of a real operation; answers the parsed result or the GraphQL errors. */
    async execute(
      run: () => Promise<unknown>,
    ): Promise<{ data: unknown; errors: readonly GraphQLFormattedError[] | undefined; raw: string }> {
      const response = await server.executeOperation({ query: '{ result }' }, { contextValue: { run } });
      if (response.body.kind !== 'single') throw new Error('expected a single result');
      const { data, errors } = response.body.singleResult;
      const result = (data as { result?: string | null } | null | undefined)?.result;
      return {
        data: typeof result === 'string' ? JSON.parse(result) : result,
        errors,
        raw: JSON.stringify(response.body.singleResult),
      };
    },
  };
}

export type Config = OAuthDataSourceConfig;

/** A KeyValueCache (what RESTDataSource's `cache` takes) whose entries the test can read. */
export function recordingCache() {
  const entries = new Map<string, string>();
  const cache = {
    get: async (key: string) => entries.get(key),
    set: async (key: string, value: string) => void entries.set(key, value),
    delete: async (key: string) => void entries.delete(key),
  };
  return { entries, cache };
}
