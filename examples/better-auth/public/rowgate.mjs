// rowgate's API, called straight from the browser on another origin: each
// call carries `Authorization: Bearer <JWT>`, so the browser first sends a
// CORS preflight (OPTIONS) that rowgate answers for the origins in its
// CORS_ALLOWED_ORIGINS.

/** ApiError is a problem+json answer (RFC 9457) from rowgate. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code;
  }
}

/** SignedOut means Better Auth has no session: sign in again. */
export class SignedOut extends Error {}

/**
 * A scope names whose todos a list or a create is about. PERSONAL is the
 * signed-in user's own todos. An organization's scope is
 * { organizationId: "<Better Auth organization id>" }: lists then ask for
 * ?organization_id=… and creates send organization_id.
 */
export const PERSONAL = Object.freeze({ organizationId: null });

function scopeQuery(scope) {
  return scope.organizationId ? { organization_id: scope.organizationId } : {};
}

function scopeBody(scope) {
  return scope.organizationId ? { organization_id: scope.organizationId } : {};
}

/**
 * rowgateAPI returns the calls the page makes, for one signed-in user whose
 * JWTs come from tokens (see auth.mjs); make a new one for the next user. Like the TypeScript client's
 * middleware, it remembers the Consistency-Token of the last write and
 * sends it with later calls (read your own writes on replicas), and sends
 * each create with an Idempotency-Key that its retry reuses.
 */
export function rowgateAPI(baseURL, tokens) {
  let consistencyToken = null;

  async function send(method, path, { query, body, headers = {} }, jwt) {
    const url = new URL(baseURL + path);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
    const h = { ...headers, authorization: `Bearer ${jwt}` };
    if (body !== undefined) h["content-type"] = "application/json";
    if (consistencyToken) h["consistency-token"] = consistencyToken;
    return fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  // call sends one request; on a 401 it gets a fresh JWT and sends it once
  // more (the JWT may have expired or the keys rotated). With retry, a
  // network failure is retried once too: only for requests that are safe
  // to repeat (reads, and creates that carry an Idempotency-Key).
  async function call(method, path, req = {}, retry = false) {
    let jwt = await tokens.get();
    if (!jwt) throw new SignedOut();
    let res;
    try {
      res = await send(method, path, req, jwt);
    } catch (err) {
      if (!retry) throw err;
      res = await send(method, path, req, jwt);
    }
    if (res.status === 401) {
      jwt = await tokens.get({ fresh: true });
      if (!jwt) throw new SignedOut();
      res = await send(method, path, req, jwt);
    }
    const token = res.headers.get("consistency-token");
    if (token) consistencyToken = token;
    const json = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  return {
    me: () => call("GET", "/v1/me", {}, true),
    organizations: () => call("GET", "/v1/organizations", {}, true),
    listTodos: (scope) => call("GET", "/v1/todos", { query: { limit: 100, ...scopeQuery(scope) } }, true),
    createTodo: (title, scope) =>
      call("POST", "/v1/todos", {
        body: { title, ...scopeBody(scope) },
        headers: { "idempotency-key": `"${crypto.randomUUID()}"` },
      }, true),
    setCompleted: (id, completed) => call("PATCH", `/v1/todos/${encodeURIComponent(id)}`, { body: { completed } }),
    deleteTodo: (id) => call("DELETE", `/v1/todos/${encodeURIComponent(id)}`),
  };
}
