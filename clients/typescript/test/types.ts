// Compile-time checks of the generated types; `tsc --noEmit` fails when
// one breaks. Nothing here runs.
import type { components, paths } from "../src/schema.js";
import type { RowgateClient } from "../src/client.js";

type NewTodo = components["schemas"]["NewTodo"];
type CreateBody = paths["/v1/todos"]["post"]["requestBody"]["content"]["application/json"];

// A create needs only a title. This fails to compile if a request field
// becomes required again, as `default` on NewTodo.completed once made it
// with openapi-typescript 7's default settings.
export const onlyTitle: NewTodo = { title: "Buy milk" };
export const createBody: CreateBody = { title: "Buy milk" };

// @ts-expect-error the title is required
export const noTitle: NewTodo = {};

// @ts-expect-error the API refuses unknown fields, and so do the types
export const ownerInBody: NewTodo = { title: "x", user_id: "someone-else" };

// The client's create call takes the same body.
export async function createWithTitleOnly(client: RowgateClient): Promise<string | undefined> {
  const { data } = await client.POST("/v1/todos", { body: { title: "Buy milk" } });
  return data?.id;
}
