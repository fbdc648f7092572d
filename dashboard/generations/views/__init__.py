"""Pages of the generations app, one module per concern; every page reads through
membership-checked selectors, so a member of another team gets 404."""
