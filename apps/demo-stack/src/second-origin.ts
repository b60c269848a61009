import { listen, sendJson } from '@tokenkit/test-utils';

/** One request as the second origin received it: never a header's value, only whether a credential came along. */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** True when the request carried an `Authorization` header (of any kind). */
  authorization: boolean;
  /** The names of the headers it carried, lower case, sorted. */
  headers: string[];
}

export interface SecondOrigin {
  /** `http://127.0.0.1:<port>`: another port, so another origin than the payments API. */
  readonly origin: string;
  /** What it received so far (`GET /admin/received` answers the same). */
  received(): ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A second origin beside the payments API: a "receipts" file host, as an API's redirect to pre-signed storage would
 * lead to, or any other host a URL might name. It answers every request with 200 and records what came with it, so
 * the demo can show that the token never reached it: directly, or through the API's cross-origin redirect
 * (`GET /payments/{id}/receipt`).
 *
 * - `GET /admin/received` lists the requests received before it ({@link ReceivedRequest}); it is not recorded itself.
 */
export async function startSecondOrigin(): Promise<SecondOrigin> {
  const received: ReceivedRequest[] = [];
  const server = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/admin/received') return sendJson(res, 200, { received });
    received.push({
      method: req.method ?? 'GET',
      path,
      authorization: req.headers.authorization !== undefined,
      headers: Object.keys(req.headers).sort(),
    });
    sendJson(res, 200, { file: path, note: 'a receipt from the second origin' });
  });
  return {
    origin: server.origin,
    received: () => structuredClone(received),
    close: () => server.close(),
  };
}
