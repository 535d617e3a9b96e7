"""The Salesforce integration (OAuth, client, sync engine). Arrives with the integration issues."""
