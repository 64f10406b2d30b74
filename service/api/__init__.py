"""The HTTP API (FastAPI): create_app() in app.py; one module per concern."""
