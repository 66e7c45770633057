// Exercises the client against a live rowgate and Better Auth, and fails
// (exit 1) on the first broken expectation. The e2e test runs it:
//
//   npm ci && npm run build
//   ROWGATE_URL=http://127.0.0.1:8080 BETTER_AUTH_URL=http://127.0.0.1:3000 npm run live
//
// It signs a new user up through Better Auth, takes a JWT from
// GET /api/auth/token, then creates (title only), lists, patches and
// deletes todos with the typed client. It checks that every write answers
// a Consistency-Token and the next request sends it back, and that a
// create retried with the same Idempotency-Key answers the first create's
// todo with Idempotent-Replayed: true. rowgate must run with a read replica
// (DATABASE_REPLICA_URLS): without one it sends no Consistency-Token.
import assert from "node:assert/strict";
import type { Middleware } from "openapi-fetch";
import { createRowgateClient } from "../src/index.js";

const rowgateURL = required("ROWGATE_URL");
const authURL = required("BETTER_AUTH_URL").replace(/\/+$/, "");

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

/** signUp makes a new Better Auth user and returns a JWT for it. */
async function signUp(email: string): Promise<string> {
  // Node's fetch sends Sec-Fetch-Mode, so Better Auth wants a trusted Origin.
  const origin = new URL(authURL).origin;
  const res = await fetch(`${authURL}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email, password: "correct-horse-battery", name: "Live Check" }),
  });
  assert.equal(res.status, 200, `sign-up: ${res.status} ${await res.clone().text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c?.startsWith("better-auth.session_token="));
  assert.ok(cookie, "sign-up set no session cookie");
  const tok = await fetch(`${authURL}/api/auth/token`, { headers: { cookie, origin } });
  assert.equal(tok.status, 200, `GET /api/auth/token: ${tok.status}`);
  const { token } = (await tok.json()) as { token: string };
  return token;
}

/** Sent is what one request carried, as the network saw it. */
interface Sent {
  method: string;
  path: string;
  consistencyToken: string | null;
  idempotencyKey: string | null;
}

/** spy records the headers of every request after the client's own middleware set them. */
function spy(log: Sent[]): Middleware {
  return {
    onRequest({ request }) {
      log.push({
        method: request.method,
        path: new URL(request.url).pathname,
        consistencyToken: request.headers.get("Consistency-Token"),
        idempotencyKey: request.headers.get("Idempotency-Key"),
      });
      return undefined;
    },
  };
}

function step(name: string): void {
  console.log(`live: ${name}`);
}

async function main(): Promise<void> {
  const jwt = await signUp(`live-${crypto.randomUUID()}@example.com`);
  const client = createRowgateClient({ baseUrl: rowgateURL, token: () => jwt });
  const sent: Sent[] = [];
  client.use(spy(sent));
  const last = (): Sent => sent[sent.length - 1]!;

  step("create with only a title");
  const created = await client.POST("/v1/todos", { body: { title: "Buy milk" } });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  assert.ok(created.data);
  assert.equal(created.data.title, "Buy milk");
  assert.equal(created.data.completed, false);
  assert.match(last().idempotencyKey ?? "", /^"[0-9a-f-]{36}"$/, "the create carried no Idempotency-Key");
  assert.equal(created.response.headers.get("Idempotent-Replayed"), null);
  const afterCreate = created.response.headers.get("Consistency-Token");
  assert.ok(afterCreate, "the create answered no Consistency-Token");

  step("list sends the create's Consistency-Token and sees the todo");
  const list = await client.GET("/v1/todos", { params: { query: { limit: 100 } } });
  assert.equal(list.response.status, 200);
  assert.equal(last().consistencyToken, afterCreate);
  assert.equal(last().idempotencyKey, null, "a GET carried an Idempotency-Key");
  assert.deepEqual(list.data?.items.map((t) => t.id), [created.data.id]);

  step("patch");
  const id = created.data.id;
  const patched = await client.PATCH("/v1/todos/{id}", { params: { path: { id } }, body: { completed: true } });
  assert.equal(patched.response.status, 200, JSON.stringify(patched.error));
  assert.equal(patched.data?.completed, true);
  assert.equal(last().consistencyToken, afterCreate);
  const afterPatch = patched.response.headers.get("Consistency-Token");
  assert.ok(afterPatch && afterPatch !== afterCreate, `the patch answered Consistency-Token ${afterPatch}`);
  const got = await client.GET("/v1/todos/{id}", { params: { path: { id } } });
  assert.equal(last().consistencyToken, afterPatch, "the read after the patch did not send its token");
  assert.equal(got.data?.completed, true, "read-your-writes: the patch is not visible");

  step("a create whose response is lost is retried with the same key");
  // The first send reaches rowgate and commits, but its response never
  // reaches the caller (as when a connection drops); the retry resends the
  // same Request, and so the same Idempotency-Key.
  let lost: { id: string } | undefined;
  const lossyFetch = async (request: Request): Promise<Response> => {
    const retry = request.clone();
    lost = (await (await fetch(request)).json()) as { id: string };
    return fetch(retry);
  };
  const retried = await client.POST("/v1/todos", { body: { title: "Pay rent" }, fetch: lossyFetch });
  assert.equal(retried.response.status, 201, JSON.stringify(retried.error));
  assert.equal(retried.response.headers.get("Idempotent-Replayed"), "true");
  assert.ok(lost);
  assert.equal(retried.data?.id, lost.id, "the retry made a second todo");

  step("a caller's own key, sent with two calls, creates once");
  const key = `"${crypto.randomUUID()}"`;
  const first = await client.POST("/v1/todos", { body: { title: "Call mom" }, headers: { "Idempotency-Key": key } });
  assert.equal(last().idempotencyKey, key, "the middleware replaced the caller's key");
  const again = await client.POST("/v1/todos", { body: { title: "Call mom" }, headers: { "Idempotency-Key": key } });
  assert.equal(first.response.status, 201);
  assert.equal(again.response.status, 201);
  assert.equal(first.response.headers.get("Idempotent-Replayed"), null);
  assert.equal(again.response.headers.get("Idempotent-Replayed"), "true");
  assert.equal(again.data?.id, first.data?.id);
  const reused = await client.POST("/v1/todos", { body: { title: "Call dad" }, headers: { "Idempotency-Key": key } });
  assert.equal(reused.response.status, 422, "the same key with another body must not create");
  assert.equal((reused.error as { code?: string } | undefined)?.code, "idempotency_key_reused");

  step("delete");
  const beforeDelete = last().consistencyToken;
  const deleted = await client.DELETE("/v1/todos/{id}", { params: { path: { id } } });
  assert.equal(deleted.response.status, 204);
  const afterDelete = deleted.response.headers.get("Consistency-Token");
  assert.ok(afterDelete && afterDelete !== beforeDelete, "the delete answered no new Consistency-Token");
  const gone = await client.GET("/v1/todos/{id}", { params: { path: { id } } });
  assert.equal(gone.response.status, 404);
  assert.equal(last().consistencyToken, afterDelete);

  step("the list holds each create once");
  const final = await client.GET("/v1/todos", {});
  assert.deepEqual(final.data?.items.map((t) => t.title).sort(), ["Call mom", "Pay rent"]);
  console.log("live: ok");
}

main().catch((err: unknown) => {
  console.error("live: FAIL:", err);
  process.exit(1);
});
