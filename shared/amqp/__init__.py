"""RabbitMQ plumbing: topology, the outbox relay, consumers and dead letters."""
