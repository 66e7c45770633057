import type { Middleware } from "openapi-fetch";

/** The request headers rowgate reads and the response headers it sends. */
const CONSISTENCY_TOKEN = "Consistency-Token";
const IDEMPOTENCY_KEY = "Idempotency-Key";

/**
 * rowgateHeaders returns ONE openapi-fetch middleware for rowgate's two
 * per-caller headers. Make one per signed-in user: it remembers that user's
 * last write.
 *
 * Consistency-Token (read your own writes across replicas): every
 * successful write (POST, PATCH, DELETE) answers with a token that says
 * where the write left the database. The middleware remembers the latest
 * one it saw and sends it with every later request, so a read is answered
 * only by a database server that already has this client's writes, whichever
 * rowgate instance takes it. A token the caller set on a request is left
 * alone. The token is opaque: never parse it.
 *
 * Idempotency-Key (safe retries of a create): every POST /v1/todos that
 * carries no key gets a fresh random one. A key names ONE logical create,
 * that is one call of `client.POST("/v1/todos", …)`. The key is set on that
 * call's Request, so everything that resends that same Request (a retrying
 * `fetch` given to createClient or to the call, a service worker) sends the
 * same key, and rowgate answers the resend with the first create's 201
 * (same id, same body, `Idempotent-Replayed: true`) instead of making a
 * second todo. A new call is a new create and gets a new key: to retry a
 * create across calls (after a reload, from a queue), keep a key yourself
 * and pass it in the call's `headers`; the middleware never replaces it.
 * rowgate keeps keys per user for 24 hours by default; the same key with
 * another body answers 422 idempotency_key_reused.
 */
export function rowgateHeaders(): Middleware {
  let consistencyToken: string | undefined;
  return {
    onRequest({ request, schemaPath }) {
      if (consistencyToken !== undefined && !request.headers.has(CONSISTENCY_TOKEN)) {
        request.headers.set(CONSISTENCY_TOKEN, consistencyToken);
      }
      if (request.method === "POST" && schemaPath === "/v1/todos" && !request.headers.has(IDEMPOTENCY_KEY)) {
        // An RFC 8941 String, as the Idempotency-Key draft defines it.
        request.headers.set(IDEMPOTENCY_KEY, `"${crypto.randomUUID()}"`);
      }
      return request;
    },
    onResponse({ response }) {
      const token = response.headers.get(CONSISTENCY_TOKEN);
      if (token) consistencyToken = token;
      return undefined;
    },
  };
}

/**
 * bearer returns a middleware that sends `Authorization: Bearer <JWT>`,
 * asking token() for the JWT before every request (so a caller can refresh
 * it from Better Auth's GET /api/auth/token shortly before it expires).
 */
export function bearer(token: () => string | Promise<string>): Middleware {
  return {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await token()}`);
      return request;
    },
  };
}
