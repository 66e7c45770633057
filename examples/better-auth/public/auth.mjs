// Better Auth, on this page's own origin. The session is an HttpOnly
// cookie that the browser keeps and sends by itself; rowgate never sees it.
// What rowgate sees is a short-lived JWT that Better Auth's jwt plugin mints
// from the session on demand (GET /api/auth/token).

const AUTH = "/api/auth";

/** AuthError carries Better Auth's message ("Invalid email or password", …). */
export class AuthError extends Error {}

async function post(path, body) {
  const res = await fetch(AUTH + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new AuthError(json?.message || `${path}: HTTP ${res.status}`);
  return json;
}

/** signUp creates a user and signs them in (Better Auth sets the session cookie). */
export function signUp({ name, email, password }) {
  return post("/sign-up/email", { name, email, password });
}

/** signIn signs an existing user in. */
export function signIn({ email, password }) {
  return post("/sign-in/email", { email, password });
}

/** signOut ends the session. */
export function signOut() {
  return post("/sign-out", {});
}

/**
 * createOrganization creates a Better Auth organization with the signed-in
 * user as its owner. The slug, which Better Auth requires unique and this
 * page never shows, is random.
 */
export function createOrganization({ name }) {
  return post("/organization/create", { name, slug: crypto.randomUUID() });
}

/** The payload of a JWT, not verified: the page only reads exp and email. */
export function jwtClaims(token) {
  const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(part));
}

/**
 * tokenSource returns { get, clear }. get() resolves to a JWT for rowgate,
 * or null when nobody is signed in; it reuses the last JWT until a minute
 * before it expires, and asks Better Auth for a new one when called with
 * { fresh: true } (after rowgate answered 401).
 */
export function tokenSource() {
  let cached = null; // { token, exp }
  return {
    async get({ fresh = false } = {}) {
      if (!fresh && cached && cached.exp - 60 > Date.now() / 1000) return cached.token;
      cached = null;
      const res = await fetch(`${AUTH}/token`);
      if (res.status === 401) return null;
      if (!res.ok) throw new AuthError(`GET ${AUTH}/token: HTTP ${res.status}`);
      const { token } = await res.json();
      cached = { token, exp: jwtClaims(token).exp };
      return token;
    },
    clear() {
      cached = null;
    },
  };
}
