"""The admin console (Textual). Arrives with the admin console issue."""
