"""GraphQL: one schema assembled from the plugins, served by a lean graphql-over-http view."""
