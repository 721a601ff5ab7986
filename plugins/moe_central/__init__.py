"""MOE central database plugin."""
