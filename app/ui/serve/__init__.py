"""The local server in the window: other apps use the loaded model through the window's
own model thread (window_runner), started and stopped from Settings (serve_controller,
server_page), with a line in the status bar while it is on (server_indicator)."""
