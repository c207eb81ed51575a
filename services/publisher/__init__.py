"""The publisher: delivers published, corrected and withdrawn articles to the newsroom's site
(WordPress) and to partners' webhooks.

Owns: destinations and the delivery ledger (`shared.publishing.ledger`). Consumes
`article.published` and `article.withdrawn`; sends each delivery with `publisher.deliver`, and
beat's `publisher.sweep_deliveries` sends what is due again (retries, deliveries a killed worker
left). What is sent is `shared.publishing.render`'s, the one rendering every destination and
feed shares.
"""
