"""Domain logic in plain Python. Nothing here imports Reflex."""
