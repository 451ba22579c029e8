"""Hub release tooling: staging model folders with generated cards, pushing them, and the demo Space."""
