"""Shows as they play: the scene graph (graph.py)."""
