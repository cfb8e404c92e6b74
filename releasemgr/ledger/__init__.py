"""The ledger: the one road to the database. Connections and transactions with the right
locking (`db`), every SQL statement (`repo`, returning the typed rows of `rows`), version
references (`refs`), migrations (Alembic) and the hash-chained audit log. The SQLModel
classes of `models` declare the schema for Alembic's autogenerate and the schema test; no
command imports them. It knows nothing about clouds or templates."""
