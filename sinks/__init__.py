"""ClickHouse writers: the storage interface, table definitions, migrations and the batching sink."""
