"""The web console: server-rendered pages for account holders and operators, another door on the services."""
