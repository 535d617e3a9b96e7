"""Timetrail: a self-hosted time tracker for teams that work in Salesforce."""
