"""Authentication (API token, browser sessions, CSRF) and the Host/Origin guard."""
