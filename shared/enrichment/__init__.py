"""Enrichment building blocks shared by the enricher and its benchmarks: text normalisation,
the gazetteer and the entity matcher."""
