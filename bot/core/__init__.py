"""What the application does, for every front end: engines and collections, builds, status."""
