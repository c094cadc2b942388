#!/usr/bin/env python3
"""Publish one event straight to hookpost's exchange, keeping every guarantee hookpost
needs from a direct AMQP producer (pip install pika):

- publisher confirms: the call returns only once RabbitMQ has the event, and raises when
  it refused it (then publish again, with the same id);
- mandatory: an event no queue took is returned, and raises here, instead of vanishing;
- persistent (delivery_mode 2), JSON, the routing key the event type;
- the event's id as the message id, so that a message published twice is one event.

    python3 publish.py AMQP_URL EXCHANGE TENANT TYPE DATA_JSON EVENT_ID
"""
import json
import sys

import pika


def publish(url: str, exchange: str, event: dict) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # basic_publish now waits for RabbitMQ's confirm
        channel.basic_publish(
            exchange=exchange,
            routing_key=event["type"],
            body=json.dumps(event).encode(),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=event["id"],
            ),
            mandatory=True,  # pika.exceptions.UnroutableError when no queue took it
        )
    finally:
        connection.close()


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    url, exchange, tenant, kind, data, event_id = sys.argv[1:]
    publish(url, exchange, {"id": event_id, "tenant": tenant, "type": kind, "data": json.loads(data)})
    print(f"published {event_id}")
