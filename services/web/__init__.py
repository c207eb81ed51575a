"""The web service: the editor API (/api/v1), partner feeds, the editor UI, health and metrics.

Owns no background work: every change it makes goes through shared handlers and the outbox.
"""
