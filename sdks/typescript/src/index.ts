// hookpost's client: every operation of openapi.json (generated into ./client), and the
// receivers' signature check.

export * from "./client/index";
export { client } from "./client/client.gen";
export { createClient, createConfig } from "./client/client/index";
export * from "./verify";
