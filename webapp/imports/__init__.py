"""Importing ChatGPT, Open WebUI and Parley exports, as background jobs.

``jobs`` runs an import from upload to report; ``files`` reads the uploads
(ZIPs, JSON one conversation at a time); ``chatgpt``, ``openwebui`` and
``parley`` turn one conversation of their format into a ``threads.SourceThread``;
``threads.plan`` checks and lays out its tree; ``store`` writes it.
"""

from webapp.imports.jobs import (
    ACCEPTED,
    Report,
    create_job,
    get_job,
    job_json,
    list_jobs,
    report,
    start,
    upload_limit,
    wait_for_imports,
)

__all__ = [
    "ACCEPTED",
    "Report",
    "create_job",
    "get_job",
    "job_json",
    "list_jobs",
    "report",
    "start",
    "upload_limit",
    "wait_for_imports",
]
