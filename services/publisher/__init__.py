"""The publisher: delivers approved articles to the newsroom's site and to partners.

Owns: destinations and the delivery ledger. Its consumers and destinations arrive with the
publishing work (issue 6); until then its worker serves the `publish` queue with no tasks.
"""
