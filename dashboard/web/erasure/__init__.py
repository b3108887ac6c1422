"""Data-erasure requests on the web: the desk, one request's page, its forms."""
