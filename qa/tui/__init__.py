"""The Textual terminal UI of qa; `make_app` in qa.tui.app builds it for the CLI and the tests."""
