import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.js";
import { bearer, rowgateHeaders } from "./middleware.js";

/** Options of createRowgateClient. */
export interface RowgateClientOptions {
  /** rowgate's origin, e.g. "https://api.example.com". */
  baseUrl: string;
  /**
   * Returns a current JWT for the signed-in user, e.g. from Better Auth's
   * GET /api/auth/token. Called before every request.
   */
  token: () => string | Promise<string>;
  /** A fetch to send requests with; default globalThis.fetch. */
  fetch?: ClientOptions["fetch"];
}

/** RowgateClient is openapi-fetch's client typed by rowgate's OpenAPI document. */
export type RowgateClient = Client<paths>;

/**
 * createRowgateClient returns an openapi-fetch client for one signed-in
 * user: every request carries the user's bearer token, reads carry the
 * Consistency-Token of the user's last write, and each create carries an
 * Idempotency-Key (see rowgateHeaders).
 */
export function createRowgateClient(options: RowgateClientOptions): RowgateClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch && { fetch: options.fetch }),
  });
  client.use(bearer(options.token), rowgateHeaders());
  return client;
}
