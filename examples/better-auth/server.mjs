// Minimal Better Auth server for rowgate compatibility tests.
//
// Email + password sign-up/sign-in (no email verification), the `jwt`
// plugin, which signs JWTs (GET /api/auth/token) and publishes the public
// keys (GET /api/auth/jwks), and the `organization` plugin (organizations,
// members with roles, invitations: /api/auth/organization/*), whose member
// table rowgate reads to share todos. Better Auth's tables live in their own
// PostgreSQL schema (BETTER_AUTH_SCHEMA, default "better_auth") of the same
// database rowgate uses, so rowgate's "public" schema is never touched.
//
// It also serves the web page in public/ (see static.mjs), which calls
// rowgate at ROWGATE_URL from the browser.
//
// Configuration is by environment only; see README.md. Prints exactly one
// line on stdout when ready:
//   better-auth listening on http://127.0.0.1:PORT
// Everything else (Better Auth's own logs, errors) goes to stderr.

import http from "node:http";
import pg from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { betterAuth } from "better-auth";
import { jwt, organization } from "better-auth/plugins";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { publicFiles } from "./static.mjs";

// Dev-only default. Never use it for anything but local tests.
const DEV_SECRET = "rowgate-DEV-ONLY-secret-9f3Kq7Zx2LmT8vB4nR6wYc1H5dJ0sPaE";

const KEY_PAIR_CONFIGS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  // Also supported by the plugin; not required by rowgate.
  ES512: { alg: "ES512" },
  PS256: { alg: "PS256", modulusLength: 2048 },
};

function fail(message) {
  console.error(`better-auth: ${message}`);
  process.exit(1);
}

function optionalSeconds(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    fail(`${name} must be a positive integer number of seconds, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

// JWT_EXPIRATION: either a plain number of seconds ("900") or a jose time
// span ("15m", "1 hour"). A bare number must NOT be handed to the plugin as a
// number: it would be taken as an absolute `exp` timestamp.
function expirationTime() {
  const raw = process.env.JWT_EXPIRATION;
  if (raw === undefined || raw === "") return undefined; // plugin default: 15m
  if (/^\d+$/.test(raw)) {
    if (Number(raw) <= 0) fail("JWT_EXPIRATION must be > 0");
    return `${raw}s`;
  }
  return raw;
}

const port = Number(process.env.PORT ?? "3000");
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid PORT ${process.env.PORT}`);

const databaseURL = process.env.DATABASE_URL;
if (!databaseURL) fail("DATABASE_URL is required (e.g. postgresql://postgres@/rowgate?host=/tmp/pgsock)");

const schema = process.env.BETTER_AUTH_SCHEMA || "better_auth";
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
  fail(`BETTER_AUTH_SCHEMA must match [a-z_][a-z0-9_]* (got ${JSON.stringify(schema)})`);
}

const alg = process.env.JWT_ALG || "EdDSA";
const keyPairConfig = KEY_PAIR_CONFIGS[alg];
if (!keyPairConfig) fail(`JWT_ALG must be one of ${Object.keys(KEY_PAIR_CONFIGS).join(", ")} (got ${alg})`);

const rotationInterval = optionalSeconds("JWT_ROTATION_INTERVAL");
const gracePeriod = optionalSeconds("JWT_GRACE_PERIOD");
const secret = process.env.BETTER_AUTH_SECRET || DEV_SECRET;

// ---------------------------------------------------------------------------
// PostgreSQL: one pool, every connection pinned to our own schema.
// The connection string is parsed with pg's own parser (so unix-socket hosts
// such as ?host=/tmp/x work) and our search_path is appended to any
// `options` the URL already carries (pg would otherwise let the URL win).

const pgConfig = parseConnectionString(databaseURL);
const pool = new pg.Pool({
  ...pgConfig,
  options: [pgConfig.options, `-c search_path=${schema}`].filter(Boolean).join(" "),
  max: 10,
});
pool.on("error", (err) => console.error("better-auth: idle postgres client error:", err));

async function withAdvisoryLock(name, fn) {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [name]);
    try {
      return await fn();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [name]);
    }
  } finally {
    client.release();
  }
}

async function prepareSchema() {
  await withAdvisoryLock(`better-auth-schema:${schema}`, () =>
    pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`),
  );
  const { rows } = await pool.query("SELECT current_schema() AS s");
  if (rows[0].s !== schema) {
    throw new Error(`connections resolve current_schema() to ${rows[0].s}, expected ${schema}`);
  }
}

// ---------------------------------------------------------------------------
// Better Auth.

function authOptionsFor(baseURL) {
  return {
    appName: "rowgate-better-auth-example",
    baseURL,
    secret,
    database: pool,
    emailAndPassword: {
      enabled: true,
      requireEmailVerification: false,
    },
    // Off so that tests hammering sign-up/sign-in/token can never get a 429
    // (Better Auth turns it on by default whenever NODE_ENV=production).
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: {
      level: process.env.BETTER_AUTH_LOG_LEVEL || "warn",
      disableColors: true,
      log: (level, message, ...args) => console.error(`[better-auth ${level}] ${message}`, ...args),
    },
    plugins: [
      jwt({
        jwks: {
          keyPairConfig,
          ...(rotationInterval !== undefined && { rotationInterval }),
          ...(gracePeriod !== undefined && { gracePeriod }),
        },
        jwt: {
          ...(expirationTime() !== undefined && { expirationTime: expirationTime() }),
        },
      }),
      // Defaults: owner, admin and member roles; invitations by id, no
      // email sent (the inviter hands the invitation id over).
      organization(),
    ],
  };
}

async function main() {
  await prepareSchema();
  const servePage = await publicFiles(new URL("./public/", import.meta.url), process.env.ROWGATE_URL || "http://127.0.0.1:8080");

  // Bind first so that PORT=0 (pick a free port) yields the real port in the
  // default base URL, which is also the JWT `iss` and `aud`.
  let handler = null;
  const server = http.createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (servePage(req, res)) return;
    if (!handler) {
      res.writeHead(503, { "content-type": "text/plain" }).end("starting\n");
      return;
    }
    Promise.resolve(handler(req, res)).catch((err) => {
      console.error("better-auth: request failed:", err);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => console.error("better-auth: server error:", err));
  const listenURL = `http://127.0.0.1:${server.address().port}`;
  const baseURL = (process.env.BETTER_AUTH_URL || listenURL).replace(/\/+$/, "");
  const authOptions = authOptionsFor(baseURL);

  // Serialized with an advisory lock so servers started concurrently on the
  // same schema cannot race on CREATE TABLE or mint two first keys.
  const auth = await withAdvisoryLock(`better-auth-init:${schema}`, async () => {
    // Create/upgrade Better Auth's tables (user, session, account,
    // verification, jwks, organization, member, invitation) in our schema.
    // Idempotent: a no-op when up to date.
    const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(authOptions);
    if (toBeCreated.length || toBeAdded.length) {
      await runMigrations();
      console.error(
        `better-auth: migrated schema ${schema}: created [${toBeCreated.map((t) => t.table).join(", ")}]` +
          (toBeAdded.length ? `, altered [${toBeAdded.map((t) => t.table).join(", ")}]` : ""),
      );
    }

    const auth = betterAuth(authOptions);

    // Mint the first signing key now (if the schema has none) instead of on
    // the first request, so concurrent first requests cannot race to create
    // two keys. Warn when stored keys would override JWT_ALG.
    const { keys } = await auth.api.getJwks();
    if (!keys.some((k) => k.alg === alg)) {
      console.error(
        `better-auth: WARNING: schema ${schema} already holds JWKS keys with alg ` +
          `${[...new Set(keys.map((k) => k.alg))].join(",")} but none with JWT_ALG=${alg}; ` +
          `tokens will keep being signed with the stored key. Use a fresh BETTER_AUTH_SCHEMA ` +
          `or DELETE FROM "${schema}".jwks.`,
      );
    }

    // Fail fast if the stored private key cannot be used (typically: the
    // schema's jwks rows were encrypted with a different BETTER_AUTH_SECRET).
    try {
      await auth.api.signJWT({ body: { payload: { sub: "startup-probe" } } });
    } catch (err) {
      throw new Error(
        `cannot sign with the stored JWKS key (${err.message}). If BETTER_AUTH_SECRET changed, ` +
          `use a fresh BETTER_AUTH_SCHEMA or DELETE FROM "${schema}".jwks.`,
      );
    }
    return auth;
  });

  handler = toNodeHandler(auth);
  console.error(
    `better-auth: baseURL=${baseURL} schema=${schema} JWT_ALG=${alg}` +
      ` rotationInterval=${rotationInterval !== undefined ? `${rotationInterval}s` : "off"}` +
      ` gracePeriod=${gracePeriod ?? 2592000}s` +
      ` expiration=${expirationTime() ?? "15m"}`,
  );
  console.log(`better-auth listening on ${listenURL}`);

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    console.error(`better-auth: ${signal}, shutting down`);
    server.close(() => pool.end().finally(() => process.exit(0)));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err) => {
  console.error("better-auth: start-up failed:", err);
  pool.end().catch(() => {});
  process.exit(1);
});
