"""PostGIS store: connections, migrations and repository functions.

Repository functions take a connection, are keyword-only and never commit: the caller
owns the transaction.
"""
