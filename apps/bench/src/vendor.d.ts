// Types for the two peers that ship none (only what the benchmark uses).

declare module 'axios-token-interceptor' {
  interface TokenCache {
    (): Promise<unknown>;
    reset(): void;
  }
  interface InterceptorOptions {
    token?: string;
    getToken?: () => unknown;
    header?: string;
    headerFormatter?: (token: unknown) => string;
  }
  interface TokenInterceptor {
    (options: InterceptorOptions): <C>(config: C) => Promise<C>;
    tokenCache(
      getToken: () => Promise<unknown>,
      options: { maxAge?: number; getMaxAge?: (token: unknown) => number },
    ): TokenCache;
  }
  const tokenInterceptor: TokenInterceptor;
  export default tokenInterceptor;
}

declare module 'simple-oauth2' {
  export interface AccessToken {
    readonly token: Readonly<Record<string, unknown>>;
    expired(expirationWindowSeconds?: number): boolean;
  }
  export interface ModuleOptions {
    client: { id: string; secret: string };
    auth: { tokenHost: string; tokenPath?: string };
  }
  export class ClientCredentials {
    constructor(options: ModuleOptions);
    getToken(params: Record<string, unknown>): Promise<AccessToken>;
  }
}
