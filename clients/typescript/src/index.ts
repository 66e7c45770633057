export { createRowgateClient, type RowgateClient, type RowgateClientOptions } from "./client.js";
export { bearer, rowgateHeaders } from "./middleware.js";
export type { components, operations, paths } from "./schema.js";
