"""The Textual chat app: a thin shell over assistant.pipeline.ask. Nothing imports this package."""
