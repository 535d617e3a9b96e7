"""The admin console: a Textual TUI that manages an account over the HTTP API only."""
