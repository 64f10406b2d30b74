"""The store: the source of truth for tenants, keys, jobs, attempts, progress and results."""
