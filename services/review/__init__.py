"""The review service: the translation workflow's background side.

Owns: the workflow state of articles and its history (the editor API in services/web calls the
same domain rules). Emits: article.queued. Consumes: article.ingested, article.source_revised.
"""
