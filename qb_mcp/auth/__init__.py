"""Auth: OAuth flows, encrypted token store, single-flight refresh."""
