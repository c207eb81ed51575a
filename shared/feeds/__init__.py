"""Reading stored feed documents: shared by the poller and anything that re-reads a feed."""
