"""Users, roles, API tokens, web login and the permission policy."""
