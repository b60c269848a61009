export { listen, parseBody, sendJson } from './http.ts';
export type { Handler, RunningServer } from './http.ts';
export { startTokenServer } from './token-server.ts';
export type { Misbehaviour, TokenRequest, TokenServer, TokenServerOptions } from './token-server.ts';
export { startApi, startRecorder } from './api-server.ts';
export { authorizationsSince, rejectionOf, startAdapterServers, type AdapterServers } from './adapter-servers.ts';
export { waitFor, type WaitForOptions } from './wait.ts';
export type { ApiRequest, ApiServer, ApiServerOptions, Recorder } from './api-server.ts';
export { startOidcProvider } from './oidc.ts';
export { hasOpenssl, makeTestCertificates, type CertificateAndKey, type TestCertificates } from './certificates.ts';
export { peerCertificate, type OidcMtls, type OidcMtlsClients } from './oidc-mtls.ts';
export { startMtlsApi, type MtlsApi, type MtlsApiOptions, type MtlsApiRequest } from './mtls-api.ts';
export { startDPoPApi, type DPoPApi, type DPoPApiOptions, type DPoPApiRequest } from './dpop-api.ts';
export type { OidcClients, OidcServer, OidcServerOptions } from './oidc.ts';
export type { IssuedByGrant, TestGrants } from './oidc-grants.ts';
export { freePort, hasRedis, startRedis } from './redis.ts';
export type { RedisServer } from './redis.ts';
export { startRedisCluster, type RedisCluster } from './redis-cluster.ts';
export { startRedisSentinel, type RedisSentinel } from './redis-sentinel.ts';
export {
  hasGlewlwyd,
  startGlewlwyd,
  type GlewlwydClients,
  type GlewlwydOptions,
  type GlewlwydServer,
} from './glewlwyd.ts';
export {
  hasDjangoOAuth,
  startDjangoOAuth,
  type DjangoOAuthClients,
  type DjangoOAuthOptions,
  type DjangoOAuthServer,
} from './django-oauth.ts';
export {
  adapterContract,
  streamBody,
  type AdapterDriver,
  type ContractClientOptions,
  type ContractRequest,
  type ContractTls,
  type ContractTokens,
  type DriverClient,
} from './adapter-contract.ts';
export { startMtlsStack, type MtlsStack, type MtlsStackOptions } from './mtls-stack.ts';
