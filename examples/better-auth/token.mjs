#!/usr/bin/env node
// Prints a Better Auth JWT for a user on stdout.
//
//   node token.mjs BASE_URL EMAIL PASSWORD [NAME]
//   e.g. node token.mjs http://127.0.0.1:3000 alice@example.com 'correct-horse-battery' Alice
//
// Signs up (POST /api/auth/sign-up/email); if the user already exists, signs
// in instead (POST /api/auth/sign-in/email). Then exchanges the session
// cookie for a JWT (GET /api/auth/token). Exits non-zero with a message on
// stderr on any failure. Needs nothing but Node >= 20 (no npm packages).

const [baseArg, email, password, name = email?.split("@")[0]] = process.argv.slice(2);
if (!baseArg || !email || !password) {
  console.error("usage: node token.mjs BASE_URL EMAIL PASSWORD [NAME]");
  process.exit(2);
}
const base = baseArg.replace(/\/+$/, "");
// Node's fetch always sends "Sec-Fetch-Mode: cors"; Better Auth then insists on
// a trusted Origin for sign-up/sign-in (403 MISSING_OR_NULL_ORIGIN otherwise).
// The base URL's own origin is trusted by default.
const origin = new URL(base).origin;

async function post(path, body) {
  const res = await fetch(`${base}/api/auth${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res, json, text };
}

// The session cookie as the server set it ("better-auth.session_token=<token>.<signature>",
// or "__Secure-better-auth.session_token=..." when the base URL is https).
function sessionCookie(res) {
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => /^(__Secure-)?better-auth\.session_token=/.test(c));
  if (!cookie) throw new Error("no better-auth.session_token cookie in the response");
  return cookie;
}

async function main() {
  let r = await post("/sign-up/email", { email, password, name });
  if (r.res.status === 422 && r.json?.code === "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL") {
    r = await post("/sign-in/email", { email, password });
  }
  if (r.res.status !== 200) throw new Error(`sign-up/sign-in: HTTP ${r.res.status}: ${r.text}`);
  const cookie = sessionCookie(r.res);

  const res = await fetch(`${base}/api/auth/token`, { headers: { cookie } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /api/auth/token: HTTP ${res.status}: ${text}`);
  const { token } = JSON.parse(text);
  if (typeof token !== "string" || token.split(".").length !== 3) {
    throw new Error(`GET /api/auth/token: unexpected body: ${text}`);
  }
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  console.error(`token.mjs: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ""}`);
  process.exit(1);
});
