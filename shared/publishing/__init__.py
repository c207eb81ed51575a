"""Publishing: the published article's one rendering (`render`), and the delivery ledger
(`ledger`) the publisher service drives."""
