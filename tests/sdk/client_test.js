// Drives the TypeScript client (sdks/typescript, compiled) against a live hookpost, the
// way its README shows it, with a receiver that checks every request with `verify`.
//
//   node client_test.js SDK_DIST BASE_URL TENANT_KEY
//
// Prints one JSON object of what it saw; the scenario sdks::… asserts it.
const http = require("node:http");

const [dist, baseUrl, key] = process.argv.slice(2);
const sdk = require(dist);

async function wait(what, check, timeout = 20000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const got = await check();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  let secret;
  const verified = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      verified.push(sdk.verify(secret, req.headers, Buffer.concat(chunks)));
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  const client = sdk.createClient(sdk.createConfig({ baseUrl, auth: key }));

  const refused = await sdk.createHook({ client, body: { url: "not a url", events: ["*"] } });
  const made = await sdk.createHook({
    client,
    body: { url: `http://127.0.0.1:${port}/hook`, events: ["ticket.created"] },
  });
  if (made.error) throw new Error(JSON.stringify(made.error));
  const hook = made.data;
  secret = hook.secret;
  const accepted = await sdk.publishEvent({ client, body: { type: "ticket.created", data: { n: 1 } } });
  if (accepted.error) throw new Error(JSON.stringify(accepted.error));

  const first = await wait("the delivery", async () => {
    const page = await sdk.listDeliveries({ client, query: { hook: hook.id } });
    return page.data.deliveries.find((d) => d.status === "delivered");
  });
  const resent = await sdk.resendDelivery({ client, path: { id: first.id } });
  if (resent.error) throw new Error(JSON.stringify(resent.error));
  await wait("the resend", () => verified.length >= 2);
  const delivery = await wait("the resend in the log", async () => {
    const d = (await sdk.getDelivery({ client, path: { id: first.id } })).data;
    return d.attempts.length >= 2 && d;
  });
  console.log(
    JSON.stringify({
      refused: refused.error?.error?.code ?? null,
      status_refused: refused.response.status,
      event_id: accepted.data.id,
      delivery_event_id: first.event_id,
      created_at: delivery.created_at,
      attempts: delivery.attempts.map((a) => a.outcome),
      verified,
    }),
  );
  server.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
