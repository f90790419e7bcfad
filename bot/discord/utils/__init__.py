"""What several Discord features share: checks, errors, replies, limits, rendering, progress."""
