"""The console's screens, panes and dialogs."""
