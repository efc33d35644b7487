"""One module per table: its DDL and the queries that justify its ORDER BY and partitioning."""
