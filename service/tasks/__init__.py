"""The Celery side: the app, the broker of the embedded default, the job task and its lease."""
