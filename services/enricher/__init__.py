"""The enricher: computes metadata for each article's source text and translations.

Owns: enrichments. Emits: article.enriched. Consumes: article.ingested, article.source_revised.
"""
