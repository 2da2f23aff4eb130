"""Settings: the settings and thread settings dialogs, the theme."""
