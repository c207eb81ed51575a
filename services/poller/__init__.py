"""The poller: fetches the outlets' feeds on schedule and ingests every new source article.

Owns: sources' poll state (schedule, lease, validators, health), articles and their source
revisions. Emits: article.ingested, article.source_revised. Consumes: source.poll_requested.
"""
