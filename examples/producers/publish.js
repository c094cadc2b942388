// Publish one event straight to hookpost's exchange, keeping every guarantee hookpost
// needs from a direct AMQP producer (npm install amqplib@0.10):
//
// - a confirm channel: the promise resolves only once RabbitMQ has the event, and
//   rejects when it refused it (then publish again, with the same id);
// - mandatory: an event no queue took is returned, and rejects here, instead of
//   vanishing (RabbitMQ sends the return before the confirm);
// - persistent, JSON, the routing key the event type;
// - the event's id as the message id, so that a message published twice is one event.
//
//   node publish.js AMQP_URL EXCHANGE TENANT TYPE DATA_JSON EVENT_ID
'use strict';
const amqp = require('amqplib');

async function publish(url, exchange, event) {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    let returned = false;
    channel.on('return', () => { returned = true; });
    await new Promise((resolve, reject) => {
      channel.publish(exchange, event.type, Buffer.from(JSON.stringify(event)), {
        contentType: 'application/json',
        persistent: true,
        messageId: event.id,
        mandatory: true,
      }, (err) => (err ? reject(err) : resolve()));
    });
    if (returned) throw new Error(`no queue took event ${event.id}: is hookpost's topology declared?`);
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length !== 6) {
    console.error('usage: node publish.js AMQP_URL EXCHANGE TENANT TYPE DATA_JSON EVENT_ID');
    process.exit(2);
  }
  const [url, exchange, tenant, type, data, id] = args;
  publish(url, exchange, { id, tenant, type, data: JSON.parse(data) })
    .then(() => console.log(`published ${id}`))
    .catch((err) => { console.error(err.message); process.exit(1); });
}

module.exports = { publish };
